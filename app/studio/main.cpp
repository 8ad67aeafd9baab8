// tessera: the studio window. Opens on the default model with a first generation already running.
#include "studio/main_window.h"
#include "studio/stall_bench.h"
#include "tessera/engine/platform.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>

int main(int argc, char** argv) {
    tessera::tuneBlasForThisCpu(argv);
    QApplication app(argc, argv);
    QApplication::setApplicationName("Tessera");
    QApplication::setOrganizationName("Tessera");
    QApplication::setApplicationVersion(TESSERA_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("Tessera studio: autoregressive image generation, token by token.");
    parser.addHelpOption();
    parser.addVersionOption();
    // The built-in shapes-janus (resources/models, or TESSERA_MODELS_DIR), else the smoke-test model.
    const QString smoke_test_model = QDir(TESSERA_SOURCE_DIR).filePath("tests/data/reference/janus_tiny");
    const QString models_dir = qEnvironmentVariableIsSet("TESSERA_MODELS_DIR")
                                   ? qEnvironmentVariable("TESSERA_MODELS_DIR")
                                   : QDir(TESSERA_SOURCE_DIR).filePath("resources/models");
    const QString shapes_janus = QDir(models_dir).filePath("shapes-janus");
    const QString default_model =
        QFileInfo::exists(QDir(shapes_janus).filePath("config.json")) ? shapes_janus : smoke_test_model;
    QCommandLineOption model({"m", "model"},
                             "Checkpoint folder to load (default: the built-in shapes-janus, or the "
                             "smoke-test model where resources/models lacks it).",
                             "dir", default_model);
    QCommandLineOption project({"p", "project"}, "Project folder whose history to open.", "dir");
    QCommandLineOption prompt("prompt", "Prompt of the first generation.", "text");
    QCommandLineOption no_start("no-autostart", "Do not start a first generation.");
    QCommandLineOption stall("bench-stall",
                             "Benchmark: open the studio on a random-weight checkpoint of the given shape "
                             "(janus-small: 384², real VQ decoder), generate once, print the GUI event "
                             "loop's gaps (p50/p99/max, waits for a CPU included) as JSON and quit.",
                             "preset");
    QCommandLineOption software_gl("software-gl",
                                   "Draw the Dear ImGui engine panel with OpenGL even on a software renderer "
                                   "(llvmpipe); by default such machines get its text view, which keeps the "
                                   "window responsive.");
    parser.addOptions({model, project, prompt, no_start, stall, software_gl});
    parser.process(app);
    if (parser.isSet(stall)) {
        tessera::studio::StallBenchOptions bench;
        bench.preset = parser.value(stall);
        bench.reference_dir = smoke_test_model;
        bench.software_gl = parser.isSet(software_gl);
        return tessera::studio::runStallBench(bench);
    }

    tessera::studio::StudioOptions options;
    options.model = parser.value(model);
    if (const QString igllm = QDir(models_dir).filePath("shapes-igllm");
        QFileInfo::exists(igllm + "/config.json"))
        options.igllm_model = igllm;
    options.project = parser.value(project);
    options.prompt = parser.value(prompt);
    options.autostart = !parser.isSet(no_start);
    options.software_gl = parser.isSet(software_gl);
    tessera::studio::MainWindow window(options);
    window.show();
    return app.exec();
}
