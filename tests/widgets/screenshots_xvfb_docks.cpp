// The studio's docks on a real X display (xvfb-run): the video view (Lumos-1 and DiCoDe), the scene dock
// and reconstruction, and the erasure dock, with screenshots into <build>/screenshots/ a person can look
// at. Helpers in screenshots_support.h; registered with screenshots_xvfb.cpp as one executable.
#include "imgui/engine_panel.h"
#include "studio/main_window.h"
#include "support/dicode_tiny_folder.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/lumos.h"
#include "tessera/widgets/acceptance_strip.h"
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/clip_timeline.h"
#include "tessera/widgets/dicode_controller.h"
#include "tessera/widgets/dicode_settings.h"
#include "tessera/widgets/dicode_view.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/erasure.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/scene_reconstruction.h"
#include "tessera/widgets/scene_view.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "tessera/widgets/token_shuffle_generator.h"
#include "tessera/widgets/video_controller.h"
#include "tessera/widgets/video_generator.h"
#include "tessera/widgets/video_view.h"
#include "widgets/erasure_request.h"
#include "widgets/screenshots_support.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QOpenGLWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSet>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableWidget>
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
using namespace tessera::test::shots;

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
    {
        auto created = openProjectHistory(o.project, true);
        ASSERT_TRUE(created.ok()) << created.error();
    }
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
    ASSERT_TRUE(waitFor(
        [&] { return finished(w.studio()->generation(id)) && w.studio()->generation(id)->video; }, 120000))
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
    ASSERT_TRUE(
        waitFor([&] { return view->controller().renderedVersion() == view->controller().version(); }, 20000));
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
        EXPECT_TRUE(make_image->toolTip().contains("Load a text→image model"))
            << make_image->toolTip().toStdString();
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
    EXPECT_EQ(
        view->objectText(0, 1),
        "ref 1: shape ✓ · colour ✗ (blue) · material ✓ · size ✓ · position off by 0 · rotation off by 0°");
    EXPECT_EQ(view->objectText(1, 1),
              "ref 2: shape ✓ · colour ✓ · material ✓ · size ✓ · position off by 0.5 · rotation off by 0°");
    // The yellow cube at (0.5, -1.5) is nearer the purple cube at (-9, -9) than the one at (9, 9): that
    // pair is matched, the other purple cube is missing.
    EXPECT_TRUE(
        view->objectText(2, 1).startsWith("ref 4: shape ✓ · colour ✗ (purple) · material ✓ · size ✗ (0.35)"))
        << view->objectText(2, 1).toStdString();
    EXPECT_EQ(view->objectText(3, 0), "missing: purple rubber cube (ref 3)");
    ASSERT_TRUE(
        waitFor([&] { return view->controller().renderedVersion() == view->controller().version(); }, 20000));
    QTest::qWait(100);
    const QImage shot = w.dock("sceneDock")->grab().toImage();
    save(shot, "studio_scene_differences.png");
    EXPECT_GT(distinctColours(shot), 20);

    ASSERT_TRUE(waitFor([&] { return w.studio()->generator() != nullptr; }, 20000));
    EXPECT_TRUE(make_image->isEnabled());
    make_image->trigger();
    ASSERT_TRUE(waitFor([&] { return w.studio()->current() != 0; }, 10000));
    const Generation* g = w.studio()->generation(w.studio()->current());
    EXPECT_EQ(g->settings.prompt,
              "a photo of a small gray metal sphere, a large cyan rubber cylinder and a large "
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
    ASSERT_TRUE(sceneDockShows(w, objects));
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
    {
        auto created = openProjectHistory(project, true);
        ASSERT_TRUE(created.ok()) << created.error();
    }
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
            if (tree->topLevelItem(i)->text(0).startsWith(QString("#%1 ").arg(stored)))
                return tree->topLevelItem(i);
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
    ErasureRequest r;
    ASSERT_TRUE(test::churchErasure(r, janusTinyDir(), 80, 5, 2.0, tmp.path() + "/church.safetensors"));
    QDockWidget* dock = w.dock("erasureDock");
    ASSERT_NE(dock, nullptr);
    dock->setFloating(true);
    dock->resize(1100, 460);
    w.startErasure(r);
    ErasurePanel* panel = w.erasurePanel();
    ASSERT_TRUE(waitFor(
        [&] {
            return w.erasure()->curve().size() >= 400 && panel->curve()->updates() >= 3 &&
                   panel->curve()->skips() >= 1;
        },
        120000))
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
        ErasureRequest r;
        ASSERT_TRUE(test::churchErasure(r, janusTinyDir(), 3, 4, 2.0, tmp.filePath("church.safetensors")));
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
    {
        auto created = openProjectHistory(o.project, true);
        ASSERT_TRUE(created.ok()) << created.error();
    }
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
    ASSERT_TRUE(waitFor(
        [&] { return finished(w.studio()->generation(id)) && w.studio()->generation(id)->video; }, 240000))
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
