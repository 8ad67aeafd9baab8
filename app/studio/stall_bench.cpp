#include "studio/stall_bench.h"

#include "studio/main_window.h"
#include "tessera/engine/janus_bench.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/studio_controller.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

namespace tessera::studio {

namespace {

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
}

double round2(double v) { return static_cast<double>(static_cast<long long>(v * 100.0 + 0.5)) / 100.0; }

} // namespace

int runStallBench(const StallBenchOptions& o) {
    auto shape = bench::janusPresetShape(o.preset.toStdString());
    if (!shape) {
        std::fprintf(stderr, "tessera --bench-stall: %s\n", shape.error().c_str());
        return 1;
    }
    QTemporaryDir scratch;
    if (!scratch.isValid()) {
        std::fprintf(stderr, "tessera --bench-stall: cannot create a scratch folder: %s\n",
                     scratch.errorString().toUtf8().constData());
        return 1;
    }
    const std::string dir = scratch.filePath("model").toStdString();
    if (Status s = bench::writeRandomJanusCheckpoint(*shape, dir, o.reference_dir.toStdString()); !s.ok()) {
        std::fprintf(stderr, "tessera --bench-stall: %s\n", s.message().c_str());
        return 1;
    }

    StudioOptions options;
    options.model = QString::fromStdString(dir);
    options.prompt = "a red apple on a wooden table";
    options.persist = false;
    options.autostart = true;
    options.software_gl = o.software_gl;
    MainWindow window(options);
    window.resize(1400, 900);
    window.show();
    // As a user would have it: the window in front (without a window manager, e.g. under Xvfb,
    // nothing else activates it).
    window.raise();
    window.activateWindow();

    std::vector<double> gaps;
    QElapsedTimer clock, run_clock;
    qint64 last = -1;
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(5);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        if (last >= 0) gaps.push_back(static_cast<double>(now - last) / 1e6);
        last = now;
    });
    int64_t id = 0;
    bool failed = false;
    QString error;
    widgets::StudioController* studio = window.studio();
    QObject::connect(studio, &widgets::StudioController::generationAdded, &tick, [&](qint64 added) {
        if (id) return;
        id = added;
        clock.start();
        run_clock.start();
        tick.start();
    });
    bool yielded = false, active = false;
    QString perf;
    QObject::connect(studio, &widgets::StudioController::finished, &tick, [&](qint64 done) {
        if (done != id) return;
        tick.stop();
        // Read before quit(): Qt closes the windows on quit.
        yielded = window.engineYieldsCore();
        active = window.isActiveWindow();
        perf = window.perfStrip()->text();
        const widgets::Generation* g = studio->generation(id);
        if (!g || g->state != JobState::Finished) {
            failed = true;
            error = g ? g->error : QString("the generation disappeared");
        }
        QApplication::quit();
    });
    QObject::connect(window.models(), &widgets::ModelManagerController::loadFailed, &tick,
                     [&](const QString&, const QString& why) {
                         failed = true;
                         error = why;
                         QApplication::quit();
                     });
    QApplication::exec();
    if (failed) {
        std::fprintf(stderr, "tessera --bench-stall: the generation failed: %s\n", error.toUtf8().constData());
        return 1;
    }
    const widgets::Generation* g = studio->generation(id);
    const double p50 = percentile(gaps, 0.50), p99 = percentile(gaps, 0.99),
                 worst = gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end());
    nlohmann::ordered_json j;
    j["bench"] = "stall";
    j["preset"] = o.preset.toStdString();
    j["platform"] = QGuiApplication::platformName().toStdString();
    j["cores"] = QThread::idealThreadCount();
    j["grid"] = {g->rows, g->cols};
    j["tokens"] = g->sampled();
    j["generation_ms"] = round2(static_cast<double>(run_clock.elapsed()));
    j["ticks"] = gaps.size();
    j["window_active"] = active;
    j["engine_yields_core"] = yielded;
    j["perf_strip"] = perf.toStdString();
    j["gap_p50_ms"] = round2(p50);
    j["gap_p99_ms"] = round2(p99);
    j["gap_max_ms"] = round2(worst);
    j["bound_p99_ms"] = 16;
    j["bound_max_ms"] = 50;
    j["within_bounds"] = p99 <= 16.0 && worst <= 50.0;
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

} // namespace tessera::studio
