// The studio window on a real X display (xvfb-run): writes screenshots a person can look at into
// <build>/screenshots/ and checks that they hold real content, exercises the Dear ImGui engine panel
// (OpenGL), branches from a cell into the history tree, runs a tiny Token-Shuffle checkpoint, and
// measures event-loop stalls with the whole window open during a generation.
//
// Registered in tests/CMakeLists.txt under xvfb-run; not part of the offscreen glob.
#include "imgui/engine_panel.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/erasure.h"
#include "studio/main_window.h"
#include "tessera/engine/bench.h"
#include "tessera/widgets/acceptance_strip.h"
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/scene_reconstruction.h"
#include "tessera/widgets/scene_view.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "tessera/widgets/video_controller.h"
#include "tessera/widgets/video_generator.h"
#include "tessera/widgets/video_view.h"
#include "tessera/widgets/clip_timeline.h"
#include "tessera/widgets/dicode_controller.h"
#include "tessera/widgets/dicode_settings.h"
#include "tessera/widgets/dicode_view.h"
#include "tessera/widgets/settings_panel.h"
#include "support/dicode_tiny_folder.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/lumos.h"
#include "tessera/widgets/token_shuffle_generator.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QOpenGLWidget>
#include <QProcess>
#include <QPushButton>
#include <QSet>
#include <QTableWidget>
#include <QSlider>
#include <QSpinBox>
#include <QPlainTextEdit>
#include <QFile>
#include <QListWidget>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTimer>
#include <QTreeWidget>
#include <gtest/gtest.h>
#include <set>

using namespace tessera;
using namespace tessera::widgets;
using tessera::studio::MainWindow;
using tessera::studio::StudioOptions;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {

// The bundled janus_tiny, or the copy under $TESSERA_DATA_DIR (the same override tessera-cli reads):
// tests/app/broken_model_fails.sh points it at a broken copy to show that these tests then fail.
QString janusTinyDir() {
    const QByteArray env = qgetenv("TESSERA_DATA_DIR");
    return (env.isEmpty() ? QString(TESSERA_TEST_DATA_DIR) : QString::fromLocal8Bit(env)) + "/reference/janus_tiny";
}

const QString kShots = QString(TESSERA_BINARY_DIR) + "/screenshots";

int distinctColours(const QImage& img) {
    QSet<QRgb> seen;
    for (int y = 0; y < img.height(); y += 2)
        for (int x = 0; x < img.width(); x += 2) seen.insert(img.pixel(x, y));
    return static_cast<int>(seen.size());
}

void save(const QImage& img, const QString& name) {
    QDir().mkpath(kShots);
    ASSERT_TRUE(img.save(kShots + "/" + name)) << name.toStdString();
    std::printf("screenshot: %s (%dx%d, %d colours)\n", qPrintable(kShots + "/" + name), img.width(),
                img.height(), distinctColours(img));
}

StudioOptions syntheticOptions(int rows, int step_us) {
    StudioOptions o;
    o.model = janusTinyDir(); // probed for the model list
    o.persist = false;
    o.autostart = true;
    o.software_gl = true; // the screenshots show the ImGui panel, on Xvfb's llvmpipe too
    o.prompt = "a lighthouse on a cliff at dawn";
    o.loader = [rows, step_us](const std::string&) -> Expected<std::shared_ptr<Generator>> {
        auto g = std::make_shared<SyntheticGenerator>(rows, rows, 1024, step_us, rows);
        g->setNote("synthetic test generator (not a model): colours follow a formula");
        std::shared_ptr<Generator> out = g;
        return out;
    };
    return o;
}

bool finished(const Generation* g) {
    return g && g->state == JobState::Finished;
}

} // namespace

TEST(StudioScreenshots, MidGenerationWithOverlayInspectorAndHistory) {
    test::app();
    ASSERT_NE(QGuiApplication::platformName(), "offscreen") << "run under xvfb-run";
    MainWindow w(syntheticOptions(24, 6000));
    w.resize(1400, 900);
    w.show();
    StudioController* studio = w.studio();
    // The first generation starts by itself once the model has loaded.
    ASSERT_TRUE(waitFor([&] { return studio->current() != 0; }));
    const int64_t first = studio->current();
    ASSERT_TRUE(waitFor([&] { return studio->generation(first)->sampled() >= 24 * 24 * 2 / 5; }));
    w.mosaicView()->setOverlay(MosaicOverlay::Entropy);
    QTest::qWait(100);
    const QImage mid = w.grab().toImage();
    save(mid, "studio_mid_generation_entropy.png");
    const int partial = studio->generation(first)->sampled();
    EXPECT_LT(partial, 24 * 24) << "the screenshot was meant to be mid-generation";
    EXPECT_GT(distinctColours(mid), 100);

    ASSERT_TRUE(waitFor([&] { return finished(studio->generation(first)); }, 30000));
    w.mosaicView()->setOverlay(MosaicOverlay::None);
    // Inspect a cell and branch from it.
    TokenMosaic* mosaic = w.mosaicView()->mosaic();
    QTest::mouseClick(mosaic, Qt::LeftButton, {}, mosaic->cellCenter(24 * 10 + 12));
    ASSERT_EQ(w.inspector()->alternativeCount(), 3);
    QTest::qWait(300); // decoded patches arrive
    save(w.dock("inspectorDock")->grab().toImage(), "cell_inspector.png");
    EXPECT_GT(distinctColours(w.dock("inspectorDock")->grab().toImage()), 20);

    w.inspector()->branchButton()->click();
    ASSERT_TRUE(waitFor([&] { return studio->current() != first; }));
    const int64_t child = studio->current();
    EXPECT_EQ(studio->generation(child)->parent_id, first);
    ASSERT_TRUE(waitFor(
        [&] { return finished(studio->generation(child)) && studio->generation(child)->stored_id; }, 30000));
    // A second root, for a history with more than one tree.
    GenerationSettings s = studio->generation(first)->settings;
    s.prompt = "a red fox in fresh snow";
    s.seed = 7;
    const int64_t fox = studio->generate(s);
    ASSERT_TRUE(waitFor(
        [&] { return finished(studio->generation(fox)) && studio->generation(fox)->stored_id; }, 30000));
    ASSERT_TRUE(waitFor([&] { return w.historyPanel()->count() == 3; }));
    QTreeWidget* tree = w.historyPanel()->tree();
    EXPECT_EQ(tree->topLevelItemCount(), 2);
    int children = 0;
    for (int i = 0; i < tree->topLevelItemCount(); ++i) children += tree->topLevelItem(i)->childCount();
    EXPECT_EQ(children, 1) << "the branch appears under its parent";
    w.dock("historyDock")->raise();
    w.dock("inspectorDock")->hide(); // room for the whole tree
    QTest::qWait(150);
    const QImage history = w.dock("historyDock")->grab().toImage();
    save(history, "history.png");
    EXPECT_GT(distinctColours(history), 50);
    save(w.grab().toImage(), "studio_after_branch.png");
}

// By default a software OpenGL renderer gets the text view (the GL panel would make Qt compose the
// whole window on the CPU at every repaint); a hardware one gets the ImGui panel.
TEST(StudioScreenshots, EnginePanelKindFollowsTheOpenGlRenderer) {
    test::app();
    const QString renderer = openGlRendererName();
    ASSERT_FALSE(renderer.isEmpty()) << "no OpenGL context under Xvfb";
    StudioOptions o = syntheticOptions(8, 1000);
    o.software_gl = false;
    o.autostart = false;
    MainWindow w(o);
    if (isSoftwareOpenGl(renderer)) {
        EXPECT_EQ(qobject_cast<EnginePanel*>(w.engineView()), nullptr) << renderer.toStdString();
        EXPECT_EQ(w.engineView()->objectName(), "engineStatsText");
    } else {
        EXPECT_NE(qobject_cast<EnginePanel*>(w.engineView()), nullptr) << renderer.toStdString();
    }
}

TEST(StudioScreenshots, ImGuiEnginePanelDrawsWithOpenGL) {
    test::app();
    MainWindow w(syntheticOptions(16, 3000));
    w.resize(1400, 900);
    w.show();
    auto* panel = qobject_cast<EnginePanel*>(w.engineView());
    ASSERT_NE(panel, nullptr) << "an X display with OpenGL should get the ImGui panel";
    ASSERT_TRUE(waitFor([&] {
        return w.studio()->current() && w.studio()->generation(w.studio()->current())->sampled() > 100;
    }));
    ASSERT_TRUE(waitFor([&] { return panel->framesDrawn() > 2; }));
    EXPECT_TRUE(panel->initialised());
    // Input through the Qt→ImGui adapter: hovering and clicking must not disturb drawing.
    QTest::mouseMove(panel, QPoint(40, 40));
    QTest::mouseClick(panel, Qt::LeftButton, {}, QPoint(40, 40));
    const int before = panel->framesDrawn();
    ASSERT_TRUE(waitFor([&] { return panel->framesDrawn() > before; }));
    const QImage fb = panel->grabFramebuffer();
    save(fb, "engine_panel_imgui.png");
    // ImGui's pixel font draws text in a few flat colours: count the dark text pixels instead.
    int dark = 0;
    for (int y = 0; y < fb.height(); ++y)
        for (int x = 0; x < fb.width(); ++x) dark += qGray(fb.pixel(x, y)) < 100;
    EXPECT_GT(dark, 500) << "ImGui drew text and plots";
    EXPECT_GE(distinctColours(fb), 4);
}

namespace {
// Longest event-loop gap (StallProbe) over one 48x48 generation with the probability overlay on, in a
// whole studio window.
qint64 measureStall(bool opengl) {
    StudioOptions o = syntheticOptions(48, 200);
    o.autostart = false;
    o.opengl = opengl;
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    // Window creation, the first expose and OpenGL set-up are start-up costs, not generation.
    EXPECT_TRUE(QTest::qWaitForWindowExposed(&w));
    EXPECT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }));
    if (auto* panel = qobject_cast<EnginePanel*>(w.engineView()))
        waitFor([&] { return panel->framesDrawn() > 0; });
    QTest::qWait(200);
    w.mosaicView()->setOverlay(MosaicOverlay::Probability);
    tessera::test::StallProbe probe;
    probe.start();
    GenerationSettings s;
    s.prompt = "stall probe";
    const int64_t id = w.studio()->generate(s);
    EXPECT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)); }, 60000));
    QTest::qWait(300); // recording into the history and its refresh belong to the generation too
    probe.stop();
    std::printf(
        "longest event-loop gap, whole window, 48x48 tokens, overlay on, engine panel %s: %lld ms (%lld ms "
        "wall)\n",
        opengl ? "in OpenGL (ImGui)" : "as text", static_cast<long long>(probe.worstMs()),
        static_cast<long long>(probe.worstWallMs()));
    return probe.worstMs();
}
} // namespace

// The 50 ms bound is held by the offscreen suite (studio_controller_test), where the studio's own
// work is all there is. Here the X server, Mesa's software OpenGL (one ImGui frame costs tens of
// milliseconds of CPU) and the other work on a shared machine add to every repaint, so the figures
// are printed and only a freeze (a quarter of a second) fails the test.
TEST(StudioScreenshots, EventLoopNeverFreezesWithTheWholeWindowOpen) {
    test::app();
    EXPECT_LE(measureStall(true), 250);
    EXPECT_LE(measureStall(false), 250);
}

TEST(StudioScreenshots, RealJanusTinyGeneration) {
    test::app();
    const std::string dir = janusTinyDir().toStdString();
    // The bundled model not loading is a regression, never a reason to skip.
    auto probe = loadJanusGenerator(dir, "cpu");
    ASSERT_TRUE(probe) << "the Janus pipeline cannot load janus_tiny: " << probe.error();
    StudioOptions o;
    o.model = QString::fromStdString(dir);
    o.persist = false;
    o.loader = [](const std::string& d) { return loadJanusGenerator(d, "cpu"); };
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 20000));
    const int64_t id = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)); }, 60000))
        << w.studio()->generation(id)->error.toStdString();
    const Generation* g = w.studio()->generation(id);
    EXPECT_EQ(g->rows * g->cols, 16);
    EXPECT_EQ(g->sampled(), 16);
    EXPECT_FALSE(g->image.isNull());
    for (const auto& c : g->cells) {
        EXPECT_GE(c.token, 0);
        EXPECT_LT(c.token, 64); // the codebook of janus_tiny
    }
    EXPECT_TRUE(w.studio()->generator()->info().note.contains("untrained"));
    QTest::qWait(100);
    save(w.grab().toImage(), "studio_janus_tiny.png");
}

// Speculative Jacobi decoding on janus_tiny chosen in the settings panel: the mosaic coloured by the
// step that accepted each cell, the cell inspector naming a cell's step, and the perf panel's per-step
// acceptance strip (bars above plain decoding's one-token-per-image line).
TEST(StudioScreenshots, SjdAcceptedAtStepOverlayAndAcceptanceStrip) {
    test::app();
    StudioOptions o;
    o.model = janusTinyDir();
    o.persist = false;
    o.autostart = false;
    o.loader = [](const std::string& d) { return loadJanusGenerator(d, "cpu"); };
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }, 20000));
    GenerationSettings s = w.settingsPanel()->settings();
    s.prompt = "a red cube";
    s.seed = 7;
    s.seed_locked = true;
    s.temperature = 0;
    s.images = 2;
    s.decode = "sjd";
    s.sjd_window = 8;
    w.settingsPanel()->setSettings(s);
    w.settingsPanel()->generateButton()->click();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 20000));
    const int64_t id = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)); }, 60000))
        << w.studio()->generation(id)->error.toStdString();
    const Generation* g = w.studio()->generation(id);
    const int cells = g->rows * g->cols;
    w.mosaicView()->setOverlay(MosaicOverlay::AcceptedStep);
    TokenMosaic* m = w.mosaicView()->mosaic();
    QTest::mouseClick(m, Qt::LeftButton, {}, m->cellCenter(cells - 1));
    QTest::qWait(100);
    AcceptanceStrip* strip = w.perfStrip()->acceptance();
    EXPECT_EQ(strip->tokens(), 2 * cells);
    EXPECT_LT(strip->steps(), cells); // speculation made several cells final per step
    // The strip shows bars in two colours (above the baseline, at it) and the dashed baseline.
    const QImage bars = strip->grab().toImage();
    EXPECT_GE(distinctColours(bars), 3);
    // The overlay colours cells by step: as many distinct cell colours as steps (up to the ramp's reach).
    std::set<QRgb> cell_colours;
    const QImage mosaic = m->grab().toImage();
    std::set<int> steps;
    for (int p = 0; p < cells; ++p) {
        cell_colours.insert(mosaic.pixel(m->cellCenter(p) + QPoint(m->width() / g->cols / 4, 0)));
        steps.insert(g->cells[static_cast<size_t>(p)].step);
    }
    EXPECT_GE(cell_colours.size(), std::min<size_t>(steps.size(), 3));
    save(w.grab().toImage(), "studio_sjd_accepted_at_step.png");
    save(w.mosaicView()->grab().toImage(), "mosaic_sjd_accepted_at_step.png");
    save(w.perfStrip()->grab().toImage(), "perf_sjd_acceptance_strip.png");
    save(w.dock("inspectorDock")->grab().toImage(), "cell_inspector_sjd.png");
}

// A tiny random Token-Shuffle checkpoint (16×16 tokens, s = 2, docs/TOKEN_SHUFFLE.md) in the studio:
// the model list's entry, a preview while the windows fill in, and the inspector showing a cell's
// 2×2 window.
TEST(StudioScreenshots, RealTokenShuffleGeneration) {
    test::app();
    QTemporaryDir tmp;
    const std::string dir = (tmp.path() + "/token-shuffle-tiny").toStdString();
    bench::TokenShuffleShape shape;
    shape.hidden = 64;
    shape.heads = 4;
    shape.kv_heads = 2;
    shape.intermediate = 128;
    shape.codebook = 256;
    shape.window = 2;
    shape.grid = 16;
    const Status written = bench::writeRandomTokenShuffleCheckpoint(
        shape, dir, (QString(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny").toStdString(), 9);
    ASSERT_TRUE(written.ok()) << written.message();
    StudioOptions o;
    o.model = QString::fromStdString(dir);
    o.persist = false;
    o.prompt = "a lighthouse on a cliff at dawn";
    o.loader = [](const std::string& d) { return loadGenerator(d, "cpu"); };
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    QImage preview;
    int preview_cells = 0;
    QObject::connect(w.studio(), &StudioController::imageChanged, [&](qint64 id) {
        const Generation* g = w.studio()->generation(id);
        if (!preview.isNull() || !g || g->sampled() == 0 || g->sampled() >= g->rows * g->cols) return;
        preview_cells = g->sampled();
        preview = w.grab().toImage();
    });
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 20000));
    const int64_t id = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)); }, 60000))
        << w.studio()->generation(id)->error.toStdString();
    const Generation* g = w.studio()->generation(id);
    ASSERT_EQ(g->sampled(), 256);
    EXPECT_EQ(w.studio()->generator()->info().family, "token-shuffle");
    ASSERT_FALSE(preview.isNull()) << "no preview arrived mid-generation";
    EXPECT_EQ(preview_cells % 4, 0) << "a preview split a window";
    save(preview, "studio_token_shuffle_preview.png");
    TokenMosaic* mosaic = w.mosaicView()->mosaic();
    QTest::mouseClick(mosaic, Qt::LeftButton, {}, mosaic->cellCenter(16 * 5 + 7));
    QTest::qWait(300);
    EXPECT_FALSE(w.inspector()->windowLabel()->isHidden());
    EXPECT_TRUE(w.inspector()->windowLabel()->text().contains("Window (2, 3)"));
    save(w.grab().toImage(), "studio_token_shuffle.png");
    save(w.dock("inspectorDock")->grab().toImage(), "cell_inspector_token_shuffle.png");
}

// A project written by the CLI opens in the studio and shows its history; branching from a cell of a
// stored generation (real janus_tiny) adds a child under it in the project's tree.
TEST(StudioScreenshots, CliProjectOpensAndBranchesIntoItsTree) {
    test::app();
    const QString cli = QString(TESSERA_BINARY_DIR) + "/bin/tessera-cli";
    const QString model = janusTinyDir();
    ASSERT_TRUE(QFileInfo::exists(cli)) << "tessera-cli is not built at " << cli.toStdString();
    auto probe = loadJanusGenerator(model.toStdString(), "cpu");
    ASSERT_TRUE(probe) << "the Janus pipeline cannot load janus_tiny: " << probe.error();
    QTemporaryDir tmp;
    const QString project = tmp.filePath("project");
    for (int seed : {11, 12}) {
        QProcess p;
        p.start(cli, {"generate", "--model", model, "--prompt", QString("a harbour at night %1").arg(seed),
                      "--seed", QString::number(seed), "--project", project, "--out",
                      tmp.filePath(QString("g%1.png").arg(seed))});
        ASSERT_TRUE(p.waitForFinished(60000));
        ASSERT_EQ(p.exitCode(), 0) << p.readAllStandardError().toStdString();
    }
    StudioOptions o;
    o.model = model;
    o.project = project;
    o.persist = false;
    o.autostart = false;
    o.loader = [](const std::string& d) { return loadJanusGenerator(d, "cpu"); };
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(waitFor([&] { return w.historyPanel()->count() == 2; }, 20000));
    ASSERT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }, 20000));
    // Open the older one from the history, then branch from one of its cells.
    QTreeWidget* tree = w.historyPanel()->tree();
    QTreeWidgetItem* item = tree->topLevelItem(1);
    const int64_t stored = item->data(0, Qt::UserRole).toLongLong();
    tree->setCurrentItem(item);
    Q_EMIT tree->itemActivated(item, 0);
    ASSERT_TRUE(waitFor([&] {
        return w.studio()->current() && w.studio()->generation(w.studio()->current())->stored_id == stored;
    }));
    const int64_t parent = w.studio()->current();
    EXPECT_EQ(w.mosaicView()->mosaic()->sampledCount(), 16);
    TokenMosaic* mosaic = w.mosaicView()->mosaic();
    QTest::mouseClick(mosaic, Qt::LeftButton, {}, mosaic->cellCenter(9));
    ASSERT_GT(w.inspector()->alternativeCount(), 1);
    w.inspector()->branchButton()->click();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != parent; }));
    const int64_t child = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return w.studio()->generation(child)->stored_id != 0; }, 60000))
        << w.studio()->generation(child)->error.toStdString();
    ASSERT_TRUE(waitFor([&] { return w.historyPanel()->count() == 3; }));
    int children = 0;
    for (int i = 0; i < tree->topLevelItemCount(); ++i)
        if (tree->topLevelItem(i)->data(0, Qt::UserRole).toLongLong() == stored)
            children = tree->topLevelItem(i)->childCount();
    EXPECT_EQ(children, 1);
    w.dock("historyDock")->raise();
    QTest::qWait(100);
    save(w.grab().toImage(), "studio_cli_project_branch.png");
}

// Lumos-1 in the studio: a tiny random checkpoint (lumos-tiny, random weights) with the cosmos_tiny
// tokenizer, 128x64 pixels, 3 latent frames (9 clip frames). Screenshots of the Video dock while the
// second latent frame is being generated (its first frame already decoded) and after the clip is done,
// with a frame scrubbed to and the step scrubber inside a latent frame moved back; the frames must be
// real decoded pictures (many colours), the history must show the video with its strip.
TEST(StudioScreenshots, VideoViewMidGenerationAndAfter) {
    test::app();
    ASSERT_NE(QGuiApplication::platformName(), "offscreen") << "run under xvfb-run";
    QTemporaryDir dir;
    auto cfg = lumosPresetConfig("lumos-tiny");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    ASSERT_TRUE(bench::writeRandomCheckpoint(*cfg, dir.filePath("lumos").toStdString(), 4).ok());
    QTemporaryDir project;
    StudioOptions o;
    o.model = dir.filePath("lumos");
    o.persist = false;
    o.autostart = true;
    o.prompt = "a red cube turning on a table";
    o.project = project.path() + "/p";
    QDir().mkpath(o.project);
    { auto created = openProjectHistory(o.project, true); ASSERT_TRUE(created.ok()) << created.error(); }
    o.loader = [](const std::string& d) -> Expected<std::shared_ptr<Generator>> {
        LumosGeneratorOptions lo;
        lo.width = 128;
        lo.height = 64;
        lo.fps = 4;
        lo.duration_s = 2;
        lo.steps = 12;
        lo.tokenizer_dir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/cosmos_tiny";
        auto g = loadLumosGenerator(d, lo, "cpu");
        if (!g) return g.status();
        return std::shared_ptr<Generator>(*g);
    };
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    w.dock("videoDock")->raise();
    w.resizeDocks({w.dock("videoDock")}, {420}, Qt::Vertical);
    VideoController* videos = w.videoController();
    QImage mid;
    int mid_frames = 0;
    QObject::connect(videos, &VideoController::stepArrived, [&](qint64 id, int latent, int step) {
        if (!mid.isNull() || latent != 1 || step != 6) return;
        w.dock("videoDock")->repaint();
        mid = w.dock("videoDock")->grab().toImage();
        mid_frames = static_cast<int>(videos->record(id)->frames.size());
    });
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 30000));
    const int64_t id = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)) && w.studio()->generation(id)->video; }, 120000))
        << w.studio()->generation(id)->error.toStdString();
    ASSERT_FALSE(mid.isNull()) << "no screenshot mid-generation";
    EXPECT_EQ(mid_frames, 1) << "mid-generation: only latent frame 0 is decoded";
    save(mid, "video_view_mid_generation.png");
    EXPECT_GT(distinctColours(mid), 60);

    VideoView* view = w.videoView();
    EXPECT_EQ(view->shown(), id);
    EXPECT_EQ(view->frameScrubber()->maximum(), 8);
    view->frameScrubber()->setValue(6);
    view->stepScrubber()->setValue(4);
    QTest::mouseClick(view->mosaic(), Qt::LeftButton, {}, view->mosaic()->cellCenter(16 * 3 + 5));
    QTest::qWait(150);
    EXPECT_GT(distinctColours(view->frameImage()), 200) << "a decoded frame, not a flat picture";
    const QImage after = w.dock("videoDock")->grab().toImage();
    save(after, "video_view_after.png");
    EXPECT_GT(distinctColours(after), 100);

    // The history (the project) lists it as a video with its strip.
    ASSERT_TRUE(waitFor([&] { return w.studio()->generation(id)->stored_id != 0; }, 30000));
    ASSERT_TRUE(waitFor([&] { return w.historyPanel()->count() == 1; }, 10000));
    w.dock("historyDock")->raise();
    QTest::qWait(150);
    const QImage history = w.dock("historyDock")->grab().toImage();
    save(history, "history_video.png");
    EXPECT_GT(distinctColours(history), 60);
    save(w.grab().toImage(), "studio_video.png");
}

// File > Open scene… path: the window reads and parses the program off the GUI thread, the Scene dock
// comes to the front and the worker renders it (Vulkan on lavapipe, or the null renderer).
TEST(StudioScreenshots, SceneDockOpensAProgramAndRendersIt) {
    test::app();
    StudioOptions o = syntheticOptions(8, 1000);
    o.autostart = false;
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    w.openScene(QString(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/scenes/three_objects.scene");
    SceneView* view = w.sceneView();
    ASSERT_TRUE(waitFor([&] { return view->objectList()->topLevelItemCount() == 3; }, 10000));
    ASSERT_TRUE(waitFor([&] { return view->controller().renderedVersion() == view->controller().version(); }, 20000));
    EXPECT_TRUE(w.dock("sceneDock")->isVisible());
    const QImage shot = w.dock("sceneDock")->grab().toImage();
    save(shot, "studio_scene_dock.png");
    EXPECT_GT(distinctColours(shot), 20);

    // A malformed program is an error in the status bar; the scene shown stays as it was.
    QTemporaryDir tmp;
    const QString bad = tmp.path() + "/bad.scene";
    QFile f(bad);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("object shape=teapot\n");
    f.close();
    w.openScene(bad);
    ASSERT_TRUE(waitFor([&] { return w.statusBar()->currentMessage().contains("bad.scene"); }, 10000));
    EXPECT_EQ(view->objectList()->topLevelItemCount(), 3);
}

// File > Open reference scene…: the object list's difference column against a reference (one object
// recoloured, one moved, one missing, one extra); then Generate > Generate an image of this scene queues a
// text→image job prompted with the scene's caption.
TEST(StudioScreenshots, SceneDifferencesAgainstAReferenceAndAnImageOfTheScene) {
    test::app();
    StudioOptions o = syntheticOptions(8, 1000);
    o.autostart = false;
    MainWindow w(o);
    QAction* make_image = w.findChild<QAction*>("generate.sceneImage");
    ASSERT_NE(make_image, nullptr);
    if (!w.studio()->generator()) { // the model loads off the GUI thread: before it, the action says why not
        EXPECT_FALSE(make_image->isEnabled());
        EXPECT_TRUE(make_image->toolTip().contains("Load a text→image model")) << make_image->toolTip().toStdString();
    }
    w.resize(1400, 900);
    w.show();
    w.resizeDocks({w.dock("sceneDock")}, {430}, Qt::Vertical);
    w.openScene(QString(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/scenes/three_objects.scene");
    SceneView* view = w.sceneView();
    ASSERT_TRUE(waitFor([&] { return view->objectList()->topLevelItemCount() == 3; }, 10000));
    // The reference: the sphere where it is but blue, the cylinder 0.5 further along x, no cube, and a
    // purple cube far away.
    QTemporaryDir tmp;
    const QString ref = tmp.path() + "/reference.scene";
    QFile f(ref);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("object sphere blue metal size 0.35 position -1.5 1 0.35 rotation 0\n"
            "object cylinder cyan rubber size 0.7 position 1.7 1.4 0.7 rotation 0\n"
            "object cube purple rubber size 0.35 position 9 9 0.35 rotation 0\n"
            "object cube purple rubber size 0.35 position -9 -9 0.35 rotation 0\n");
    f.close();
    w.openScene(ref, true);
    ASSERT_TRUE(waitFor([&] { return view->objectList()->topLevelItemCount() == 4; }, 10000));
    EXPECT_FALSE(view->objectList()->isColumnHidden(1));
    EXPECT_EQ(view->objectText(0, 1),
              "ref 1: shape ✓ · colour ✗ (blue) · material ✓ · size ✓ · position off by 0 · rotation off by 0°");
    EXPECT_EQ(view->objectText(1, 1),
              "ref 2: shape ✓ · colour ✓ · material ✓ · size ✓ · position off by 0.5 · rotation off by 0°");
    // The yellow cube at (0.5, -1.5) is nearer the purple cube at (-9, -9) than the one at (9, 9): that
    // pair is matched, the other purple cube is missing.
    EXPECT_TRUE(view->objectText(2, 1).startsWith("ref 4: shape ✓ · colour ✗ (purple) · material ✓ · size ✗ (0.35)"))
        << view->objectText(2, 1).toStdString();
    EXPECT_EQ(view->objectText(3, 0), "missing: purple rubber cube (ref 3)");
    ASSERT_TRUE(waitFor([&] { return view->controller().renderedVersion() == view->controller().version(); }, 20000));
    QTest::qWait(100);
    const QImage shot = w.dock("sceneDock")->grab().toImage();
    save(shot, "studio_scene_differences.png");
    EXPECT_GT(distinctColours(shot), 20);

    ASSERT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }, 20000));
    EXPECT_TRUE(make_image->isEnabled());
    make_image->trigger();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 10000));
    const Generation* g = w.studio()->generation(w.studio()->current());
    EXPECT_EQ(g->settings.prompt, "a photo of a small gray metal sphere, a large cyan rubber cylinder and a large "
                                  "yellow rubber cube on a grey floor");
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(w.studio()->current())); }, 60000));
}

// Generate > Reconstruct scene from image…: a tiny random IG-LLM checkpoint streams a program; the
// Scene dock shows the input and a scene that grows as object statements complete, ending with every
// object of the program.
TEST(StudioScreenshots, ReconstructionStreamsIntoTheSceneDock) {
    test::app();
    StudioOptions o = syntheticOptions(8, 1000);
    o.autostart = false;
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    QTemporaryDir tmp;
    const QString model = tmp.path() + "/igllm";
    ASSERT_TRUE(tessera::writeRandomIgllmCheckpoint(model.toStdString()).ok());
    QImage input(64, 64, QImage::Format_RGB888);
    input.fill(QColor(200, 40, 40));
    ASSERT_TRUE(input.save(tmp.path() + "/in.png"));
    SceneReconstruction* rec = w.reconstruction();
    int updates = 0;
    QObject::connect(rec, &SceneReconstruction::sceneUpdated, [&](const renderers::Scene&) { ++updates; });
    bool done = false, ok = false;
    QObject::connect(rec, &SceneReconstruction::finished, [&](bool success, const QString&) {
        done = true;
        ok = success;
    });
    // The random model may end its text at once: take the first seed that writes two objects.
    int objects = 0;
    for (uint64_t seed = 1; seed <= 30 && objects < 2; ++seed) {
        done = false;
        updates = 0;
        rec->start(model, tmp.path() + "/in.png", seed, 80);
        ASSERT_TRUE(waitFor([&] { return done; }, 60000));
        objects = static_cast<int>(rec->program().count("object "));
    }
    ASSERT_GE(objects, 2) << "no seed in 1..30 gave two objects";
    EXPECT_TRUE(ok) << rec->program().toStdString();
    EXPECT_GE(updates, 2) << "the scene should grow as statements complete";
    ASSERT_TRUE(waitFor([&] { return w.sceneView()->objectList()->topLevelItemCount() == objects; }, 10000));
    ASSERT_TRUE(waitFor([&] {
        return w.sceneView()->controller().renderedVersion() == w.sceneView()->controller().version();
    }, 20000));
    save(w.dock("sceneDock")->grab().toImage(), "studio_reconstruction.png");
}

// Generate > Reconstruct scene from image… with a project open: the reconstruction is stored there and
// the History dock lists it with its render; opening that entry shows its program and input in the
// Scene dock.
TEST(StudioScreenshots, ReconstructionIsStoredAndReopensFromTheHistory) {
    test::app();
    StudioOptions o = syntheticOptions(8, 1000);
    o.autostart = false;
    QTemporaryDir tmp;
    const QString project = tmp.path() + "/project";
    { auto created = openProjectHistory(project, true); ASSERT_TRUE(created.ok()) << created.error(); }
    o.project = project;
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    bool opened = false;
    QObject::connect(&w, &MainWindow::projectOpened, [&](const QString&, bool ok) { opened = ok; });
    ASSERT_TRUE(waitFor([&] { return opened; }, 20000));
    const QString model = tmp.path() + "/igllm";
    ASSERT_TRUE(tessera::writeRandomIgllmCheckpoint(model.toStdString()).ok());
    QImage input(64, 64, QImage::Format_RGB888);
    input.fill(QColor(40, 60, 200));
    ASSERT_TRUE(input.save(tmp.path() + "/in.png"));
    SceneReconstruction* rec = w.reconstruction();
    bool done = false, ok = false;
    qint64 stored = 0;
    QObject::connect(rec, &SceneReconstruction::finished, [&](bool success, const QString&) {
        done = true;
        ok = success;
    });
    QObject::connect(rec, &SceneReconstruction::stored, [&](const QString&, qint64 id) { stored = id; });
    int objects = 0;
    for (uint64_t seed = 1; seed <= 30 && objects < 2; ++seed) {
        done = false;
        w.reconstructScene(model, tmp.path() + "/in.png", seed);
        ASSERT_TRUE(waitFor([&] { return done; }, 60000));
        objects = ok ? static_cast<int>(rec->program().count("object ")) : 0;
    }
    ASSERT_GE(objects, 2) << "no seed in 1..30 gave two objects";
    ASSERT_GT(stored, 0);
    const QString program = rec->program();
    // The history refreshes by itself and lists the entry.
    QTreeWidget* tree = w.historyPanel()->tree();
    const auto find = [&]() -> QTreeWidgetItem* {
        for (int i = 0; i < tree->topLevelItemCount(); ++i)
            if (tree->topLevelItem(i)->text(0).startsWith(QString("#%1 ").arg(stored))) return tree->topLevelItem(i);
        return nullptr;
    };
    ASSERT_TRUE(waitFor([&] { return find() != nullptr; }, 20000));
    EXPECT_TRUE(find()->text(0).contains("scene reconstruction")) << find()->text(0).toStdString();
    EXPECT_FALSE(find()->icon(0).isNull());
    w.dock("historyDock")->raise();
    QTest::qWait(100);
    save(w.dock("historyDock")->grab().toImage(), "history_scene_reconstruction.png");

    // Another scene in the dock, then the history entry brings the stored one back.
    w.openScene(QString(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/scenes/three_objects.scene");
    ASSERT_TRUE(waitFor([&] { return w.sceneView()->controller().scene().objects.size() == 3; }, 10000));
    w.historyController()->open(stored);
    const renderers::SceneParseResult want = renderers::parseSceneProgram(program.toStdString());
    ASSERT_TRUE(want.ok);
    ASSERT_TRUE(waitFor([&] { return w.sceneView()->controller().scene() == want.scene; }, 20000));
    EXPECT_TRUE(w.dock("sceneDock")->isVisible());
}

// Concept erasure on janus_tiny through the studio: the Erasure dock's loss curve while the job runs
// (with update and skip markers), then the compare view of the original and the erased model.
TEST(StudioScreenshots, ErasureLossCurveMidJobAndCompareView) {
    test::app();
    StudioOptions o = syntheticOptions(8, 1000);
    o.autostart = false;
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    QTemporaryDir tmp;
    auto pairs = train::readEarPairs(std::string(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/erase_pairs.json");
    ASSERT_TRUE(pairs.ok()) << pairs.error();
    ErasureRequest r;
    r.model_dir = janusTinyDir();
    r.pairs = *pairs;
    r.options.iterations = 80;
    r.options.window = 5;
    r.options.threshold = 2.0;
    r.options.lr = 1e-2;
    r.out_path = tmp.path() + "/church.safetensors";
    QDockWidget* dock = w.dock("erasureDock");
    ASSERT_NE(dock, nullptr);
    dock->setFloating(true);
    dock->resize(1100, 460);
    w.startErasure(r);
    ErasurePanel* panel = w.erasurePanel();
    ASSERT_TRUE(waitFor([&] {
        return w.erasure()->curve().size() >= 400 && panel->curve()->updates() >= 3 && panel->curve()->skips() >= 1;
    }, 120000))
        << "updates " << panel->curve()->updates() << ", skips " << panel->curve()->skips();
    const QImage mid = dock->grab().toImage();
    EXPECT_TRUE(w.erasure()->running()) << "the screenshot was meant to be mid-job";
    save(mid, "erasure_loss_curve_mid_job.png");
    EXPECT_GT(distinctColours(mid), 20);
    bool done = false, ok = false;
    QObject::connect(w.erasure(), &ErasureController::finished, [&](bool success, const QString&) {
        done = true;
        ok = success;
    });
    ASSERT_TRUE(waitFor([&] { return done; }, 240000));
    ASSERT_TRUE(ok) << panel->status()->text().toStdString();
    ASSERT_EQ(w.erasure()->compares().size(), 3u);
    int differing = 0;
    for (const auto& c : w.erasure()->compares()) differing += c.original_tokens != c.erased_tokens;
    EXPECT_GT(differing, 0) << "the erased model drew the original tokens for every seed";
    EXPECT_TRUE(QFileInfo::exists(r.out_path));
    EXPECT_TRUE(QFileInfo::exists(r.out_path + ".erasure.json"));
    QCoreApplication::processEvents();
    const QImage after = dock->grab().toImage();
    save(after, "erasure_compare.png");
    save(panel->compareView()->grab().toImage(), "erasure_compare_view.png");
    EXPECT_GT(distinctColours(panel->compareView()->grab().toImage()), 10);
}

// An erasure in a project: the studio stores it there, the Models dock lists "<model> + <delta>" (which
// then generates), and a new window on the same project lists the erasure and reopens its loss curve
// and compare view from the project alone.
TEST(StudioScreenshots, ErasureStoredInTheProjectReopensAndTheErasedModelIsListed) {
    test::app();
    QTemporaryDir tmp;
    const QString project = tmp.filePath("project");
    ASSERT_TRUE(projects::Project::create(project.toStdString()).ok());
    StudioOptions o;
    o.model = janusTinyDir();
    o.project = project;
    o.persist = false;
    o.autostart = false;
    o.loader = [](const std::string& d) { return loadJanusGenerator(d, "cpu"); };
    qint64 stored_job = 0;
    std::vector<TrainingProgress> live_curve;
    {
        MainWindow w(o);
        w.resize(1400, 900);
        w.show();
        ASSERT_TRUE(waitFor([&] { return w.erasure()->project() == project; }, 20000));
        auto pairs =
            train::readEarPairs(std::string(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/erase_pairs.json");
        ASSERT_TRUE(pairs.ok()) << pairs.error();
        ErasureRequest r;
        r.model_dir = janusTinyDir();
        r.pairs = *pairs;
        r.options.iterations = 3;
        r.options.window = 4;
        r.options.threshold = 2.0;
        r.options.lr = 1e-2;
        r.out_path = tmp.filePath("church.safetensors");
        QObject::connect(w.erasure(), &ErasureController::stored,
                         [&](const QString&, qint64 job) { stored_job = job; });
        bool done = false, ok = false;
        QObject::connect(w.erasure(), &ErasureController::finished, [&](bool success, const QString&) {
            done = true;
            ok = success;
        });
        w.startErasure(r);
        ASSERT_TRUE(waitFor([&] { return done; }, 240000));
        ASSERT_TRUE(ok) << w.erasurePanel()->status()->text().toStdString();
        ASSERT_GT(stored_job, 0);
        live_curve = w.erasure()->curve();
        // The Models dock lists the model plus its new delta; load it and generate.
        ASSERT_TRUE(waitFor([&] { return w.models()->models().size() == 2; }, 30000));
        const ModelProbe& erased = w.models()->models()[1];
        EXPECT_EQ(erased.displayName(), "janus_tiny + church");
        w.models()->loadErased(erased.folder, erased.overlay);
        ASSERT_TRUE(waitFor(
            [&] {
                return w.studio()->generator() && !w.studio()->generator()->info().overlay_path.isEmpty();
            },
            60000));
        GenerationSettings s = w.settingsPanel()->settings();
        s.prompt = "a church on a hill";
        s.seed = 5;
        s.seed_locked = true;
        const int64_t id = w.studio()->generate(s);
        ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)); }, 60000));
        EXPECT_EQ(w.studio()->generation(id)->settings.overlay, QFileInfo(r.out_path).absoluteFilePath());
        QDockWidget* models = w.dock("modelsDock");
        models->setFloating(true);
        models->resize(760, 300);
        models->show();
        models->raise();
        QTest::qWait(200);
        const QImage shot = models->grab().toImage();
        save(shot, "model_manager_erased_entry.png");
        EXPECT_GT(distinctColours(shot), 3);
        w.close();
        ASSERT_TRUE(waitFor([&] { return !w.isVisible(); }, 60000));
    }
    // A new window on the same project: nothing trains, the erasure comes back from the rows.
    o.model.clear();
    MainWindow w2(o);
    w2.resize(1400, 900);
    w2.show();
    ErasurePanel* panel = w2.erasurePanel();
    ASSERT_TRUE(waitFor([&] { return w2.erasure()->storedErasures().size() == 1; }, 20000));
    EXPECT_EQ(w2.erasure()->storedErasures().front().job, stored_job);
    QDockWidget* dock = w2.dock("erasureDock");
    dock->setFloating(true);
    dock->resize(1100, 460);
    dock->show();
    dock->raise();
    QComboBox* list = panel->storedList();
    ASSERT_EQ(list->count(), 2);
    list->setCurrentIndex(1);
    Q_EMIT list->activated(1);
    ASSERT_TRUE(waitFor([&] { return w2.erasure()->openedStored() == stored_job; }, 20000));
    ASSERT_EQ(w2.erasure()->curve().size(), live_curve.size());
    EXPECT_EQ(w2.erasure()->curve().back().loss, live_curve.back().loss);
    EXPECT_EQ(panel->curve()->updates() + panel->curve()->skips(), 12); // 3 rollouts of 16 steps, W = 4
    ASSERT_EQ(w2.erasure()->compares().size(), 3u);
    QTest::qWait(200);
    const QImage reopened = dock->grab().toImage();
    save(reopened, "erasure_reopened_from_project.png");
    EXPECT_GT(distinctColours(reopened), 20);
}

// DiCoDe in the studio: the tiny folder assembled from reference/dicode_tiny (random weights), 4
// keyframes → 3 clips, 16 DDIM steps. Screenshots of the Video dock mid-generation (clip 2 decoding:
// keyframe strips, the step's x0 preview, a half-filled timeline, clip 1's frames) and after (every clip
// on the timeline, a frame of clip 3 sought by clicking its segment); the run lands in the project.
TEST(StudioScreenshots, DicodeViewMidGenerationAndAfter) {
    test::app();
    ASSERT_NE(QGuiApplication::platformName(), "offscreen") << "run under xvfb-run";
    QTemporaryDir dir, project;
    test::writeTinyDicodeFolder(dir.filePath("dicode-tiny").toStdString());
    StudioOptions o;
    o.model = dir.filePath("dicode-tiny");
    o.persist = false;
    o.autostart = false;
    o.project = project.path() + "/p";
    QDir().mkpath(o.project);
    { auto created = openProjectHistory(o.project, true); ASSERT_TRUE(created.ok()) << created.error(); }
    MainWindow w(o);
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }, 60000));
    ASSERT_TRUE(w.settingsPanel()->dicodeFields()->isVisible()) << "DiCoDe fields hidden for a DiCoDe model";
    w.settingsPanel()->dicodeFields()->keyframesField()->setValue(4);
    w.settingsPanel()->dicodeFields()->ddimStepsField()->setValue(16);
    w.settingsPanel()->promptEdit()->setPlainText("a cat runs");
    w.dock("videoDock")->raise();
    w.resizeDocks({w.dock("videoDock")}, {420}, Qt::Vertical);
    DicodeController* dicode = w.dicodeController();
    QImage mid;
    QObject::connect(dicode, &DicodeController::progressed, [&](qint64 id) {
        const DicodeRecord* r = dicode->record(id);
        if (!mid.isNull() || r->last != DicodeUpdate::Kind::Step || r->clip != 2 || r->step != 8) return;
        w.dock("videoDock")->repaint();
        mid = w.dock("videoDock")->grab().toImage();
    });
    w.settingsPanel()->generateButton()->click();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 30000));
    const int64_t id = w.studio()->current();
    ASSERT_TRUE(waitFor([&] { return finished(w.studio()->generation(id)) && w.studio()->generation(id)->video; }, 240000))
        << w.studio()->generation(id)->error.toStdString();
    ASSERT_FALSE(mid.isNull()) << "no screenshot mid-generation";
    save(mid, "dicode_view_mid_generation.png");
    EXPECT_GT(distinctColours(mid), 60);

    DicodeView* view = w.dicodeView();
    EXPECT_EQ(view->shown(), id);
    EXPECT_EQ(view->timeline()->clipCount(), 3);
    EXPECT_EQ(view->frameScrubber()->maximum(), 11); // 3 clips of 4 frames
    QTest::mouseClick(view->timeline(), Qt::LeftButton, {}, view->timeline()->segmentRect(2).center());
    EXPECT_EQ(view->frame(), 8);
    QTest::qWait(150);
    const QImage after = w.dock("videoDock")->grab().toImage();
    save(after, "dicode_view_after.png");
    EXPECT_GT(distinctColours(after), 60);
    ASSERT_TRUE(waitFor([&] { return w.studio()->generation(id)->stored_id != 0; }, 30000));
    ASSERT_TRUE(waitFor([&] { return w.historyPanel()->count() == 1; }, 10000));
    save(w.grab().toImage(), "studio_dicode.png");
}
