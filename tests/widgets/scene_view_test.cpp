// The scene view and its controller (offscreen Qt): renders arrive from the worker, an edit in the
// editor re-renders with the object changed (checked by pixel statistics), undo/redo, exports read
// back, and the GUI thread stays free while a render runs. Writes <build>/screenshots/scene_view*.png.
#include "tessera/engine/igllm.h"
#include "tessera/projects/project.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/scene_reconstruction.h"
#include "tessera/widgets/scene_view.h"
#include "tessera/renderers/renderer.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QTreeWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <fstream>
#include <optional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;
namespace r = tessera::renderers;

namespace {

r::Scene twoObjects() {
    r::Scene s;
    r::SceneObject cube;
    cube.shape = r::Shape::Cube;
    cube.color = r::Color::Red;
    cube.size = 0.8;
    cube.position = {0, 0, 0.8};
    r::SceneObject ball;
    ball.shape = r::Shape::Sphere;
    ball.color = r::Color::Gray;
    ball.material = r::Material::Metal;
    ball.size = 0.5;
    ball.position = {1.8, 1.8, 0.5};
    s.objects = {cube, ball};
    return s;
}

// Pixels whose colour is clearly the named hue.
int countHue(const QImage& im, bool blue) {
    int n = 0;
    const QImage rgb = im.convertToFormat(QImage::Format_RGB888);
    for (int y = 0; y < rgb.height(); ++y)
        for (int x = 0; x < rgb.width(); ++x) {
            const QRgb p = rgb.pixel(x, y);
            const int R = qRed(p), G = qGreen(p), B = qBlue(p);
            if (blue ? (B > 80 && B > 2 * R && B > G + 30) : (R > 60 && R > 2 * G && R > 2 * B)) ++n;
        }
    return n;
}

void saveShot(QWidget& w, const QString& name) {
    QDir().mkpath(QString(TESSERA_BINARY_DIR) + "/screenshots");
    w.grab().save(QString(TESSERA_BINARY_DIR) + "/screenshots/" + name);
}

} // namespace

TEST(SceneView, EditRerendersUndoRedoAndExport) {
    test::app();
    SceneController controller("vulkan");
    SceneView view(controller);
    view.resize(1200, 520);
    QImage input(320, 240, QImage::Format_RGB888);
    input.fill(QColor(90, 110, 140));
    view.setInputImage(input);
    QImage last;
    QObject::connect(&controller, &SceneController::renderReady, [&](const QImage& im, quint64 v) {
        if (v == controller.version()) last = im;
    });
    controller.setRenderSize(320, 240);
    controller.setScene(twoObjects());
    view.show();
    ASSERT_TRUE(waitFor(
        [&] { return !last.isNull() && controller.renderedVersion() == controller.version(); }, 60000))
        << view.statusLabel()->text().toStdString();
    const bool pixels = !controller.rendererDescription().startsWith("null");
    EXPECT_EQ(view.objectList()->topLevelItemCount(), 2);
    if (pixels) {
        EXPECT_GT(countHue(last, false), 500);
        EXPECT_LT(countHue(last, true), 50);
    }
    // The first render stands in for the input photograph (as a reconstruction's input would).
    view.setInputImage(last);
    saveShot(view, "scene_view.png");

    // Edit object 1 in the editor: blue metal. One undo step per field changed.
    view.selectObject(0);
    const quint64 before = controller.version();
    QElapsedTimer t;
    t.start();
    view.colourBox()->setCurrentIndex(static_cast<int>(r::Color::Blue));
    view.materialBox()->setCurrentIndex(static_cast<int>(r::Material::Metal));
    EXPECT_LT(t.elapsed(), 200) << "an edit waited for something"; // renders run on the worker
    EXPECT_EQ(controller.scene().objects[0].color, r::Color::Blue);
    EXPECT_EQ(controller.scene().objects[0].material, r::Material::Metal);
    EXPECT_GT(controller.version(), before);
    ASSERT_TRUE(waitFor([&] { return controller.renderedVersion() == controller.version(); }, 60000));
    if (pixels) {
        EXPECT_GT(countHue(last, true), 300);
        EXPECT_LT(countHue(last, false), 50);
    }
    EXPECT_TRUE(view.objectText(0).contains("blue metal cube"));
    saveShot(view, "scene_view_edited.png");

    // Undo both steps: red rubber again, and the render follows.
    EXPECT_TRUE(view.undoButton()->isEnabled());
    view.undoButton()->click();
    view.undoButton()->click();
    EXPECT_EQ(controller.scene().objects[0].color, r::Color::Red);
    EXPECT_EQ(controller.scene().objects[0].material, r::Material::Rubber);
    EXPECT_EQ(view.colourBox()->currentIndex(), static_cast<int>(r::Color::Red));
    ASSERT_TRUE(waitFor([&] { return controller.renderedVersion() == controller.version(); }, 60000));
    if (pixels) {
        EXPECT_GT(countHue(last, false), 500);
    }
    EXPECT_TRUE(view.redoButton()->isEnabled());
    view.redoButton()->click();
    EXPECT_EQ(controller.scene().objects[0].color, r::Color::Blue);

    // Move the sphere with the position editor.
    view.selectObject(1);
    view.positionBox(0)->setValue(-1.5);
    EXPECT_DOUBLE_EQ(controller.scene().objects[1].position[0], -1.5);

    // Exports, written on the worker, read back.
    const QString dir =
        QDir::tempPath() + "/tessera_scene_view_" + QString::number(QCoreApplication::applicationPid());
    QDir().mkpath(dir);
    QSignalSpy done(&controller, &SceneController::exportDone);
    controller.exportJson(dir + "/scene.json");
    controller.exportGltf(dir + "/scene.gltf");
    ASSERT_TRUE(waitFor([&] { return done.count() == 2; }, 20000));
    EXPECT_TRUE(done.at(0).at(0).toBool()) << done.at(0).at(1).toString().toStdString();
    EXPECT_TRUE(done.at(1).at(0).toBool()) << done.at(1).at(1).toString().toStdString();
    std::ifstream js((dir + "/scene.json").toStdString());
    std::string text((std::istreambuf_iterator<char>(js)), {});
    auto parsed = r::parseSceneJson(text);
    ASSERT_TRUE(parsed.ok) << parsed.error;
    EXPECT_EQ(parsed.scene, controller.scene());
    std::ifstream gl((dir + "/scene.gltf").toStdString());
    const auto g = nlohmann::json::parse(gl);
    EXPECT_EQ(g["asset"]["version"], "2.0");
    EXPECT_EQ(g["nodes"].size(), controller.scene().objects.size() + 4);
    // A bad path is reported, not a crash.
    controller.exportJson("/nonexistent/dir/scene.json");
    ASSERT_TRUE(waitFor([&] { return done.count() == 3; }, 20000));
    EXPECT_FALSE(done.at(2).at(0).toBool());
    QDir(dir).removeRecursively();
}

// Many edits while renders run: the GUI thread never blocks, and the last render is of the last scene.
TEST(SceneView, RapidEditsEndOnTheNewestScene) {
    test::app();
    SceneController controller("vulkan");
    controller.setRenderSize(256, 192);
    controller.setScene(twoObjects());
    QElapsedTimer t;
    t.start();
    for (int i = 1; i <= 40; ++i) { // each a real change: an unchanged object is no undo step
        r::SceneObject o = controller.scene().objects[1];
        o.rotation = i;
        o.position[0] = 1.8 - 0.05 * i;
        controller.editObject(1, o);
    }
    EXPECT_LT(t.elapsed(), 200);
    EXPECT_EQ(controller.undoStack().count(), 40);
    ASSERT_TRUE(waitFor([&] { return controller.renderedVersion() == controller.version(); }, 60000));
    EXPECT_FALSE(controller.editObject(5, controller.scene().objects[0]));
}

// The object list against a reference scene: the difference column names the matched reference object,
// which attributes agree (with the reference's value where not), the position and rotation errors, marks
// an object with no match and lists reference objects nothing matched. Expected texts are worked out by
// hand from the two scenes below.
TEST(SceneView, ReferenceShowsPerObjectDifferences) {
    test::app();
    SceneController controller("null");
    SceneView view(controller);
    controller.setScene(twoObjects()); // red rubber cube 0.8 at (0,0,0.8); gray metal sphere 0.5 at (1.8,1.8,0.5)
    EXPECT_TRUE(view.objectList()->isColumnHidden(1)); // no reference, no column
    EXPECT_EQ(view.objectText(0, 1), "");

    r::Scene ref;
    r::SceneObject cube = twoObjects().objects[0];
    cube.color = r::Color::Blue;
    cube.position = {0.3, 0, 0.8}; // 0.3 from the scene's cube
    cube.rotation = 350;           // 10° from the scene's 0
    ref.objects = {cube};
    controller.setReference(ref, "ref.json");
    EXPECT_FALSE(view.objectList()->isColumnHidden(1));
    ASSERT_EQ(view.objectList()->topLevelItemCount(), 2);
    EXPECT_EQ(view.objectText(0, 1),
              "ref 1: shape ✓ · colour ✗ (blue) · material ✓ · size ✓ · position off by 0.3 · rotation off by 10°");
    EXPECT_EQ(view.objectText(1, 1), "unmatched: not in the reference"); // one reference object, two in the scene

    // An edit updates the column: the cube turned blue now agrees in colour.
    view.selectObject(0);
    view.colourBox()->setCurrentIndex(static_cast<int>(r::Color::Blue));
    EXPECT_EQ(view.objectText(0, 1),
              "ref 1: shape ✓ · colour ✓ · material ✓ · size ✓ · position off by 0.3 · rotation off by 10°");

    // A reference with the sphere where it is and a green cylinder far away that nothing matches.
    r::SceneObject sphere = twoObjects().objects[1];
    r::SceneObject far;
    far.shape = r::Shape::Cylinder;
    far.color = r::Color::Green;
    far.position = {-9, -9, 0.35};
    ref.objects = {cube, sphere, far};
    controller.setReference(ref, "ref.json");
    ASSERT_EQ(view.objectList()->topLevelItemCount(), 3);
    EXPECT_EQ(view.objectText(1, 1),
              "ref 2: shape ✓ · colour ✓ · material ✓ · size ✓ · position off by 0 · rotation off by 0°");
    EXPECT_EQ(view.objectText(2, 0), "missing: green rubber cylinder (ref 3)");
    // Selecting the missing row leaves the editor off: it is not an object of the scene.
    view.selectObject(2);
    EXPECT_FALSE(view.colourBox()->isEnabled());
    EXPECT_FALSE(controller.editObject(2, far));

    controller.clearReference();
    EXPECT_TRUE(view.objectList()->isColumnHidden(1));
    EXPECT_EQ(view.objectList()->topLevelItemCount(), 2);
}

TEST(SceneCaption, CountsIdenticalObjectsAndNamesTheRest) {
    r::Scene s;
    EXPECT_EQ(sceneCaption(s), "a photo of an empty grey floor");
    r::SceneObject small_red; // size 0.35: small
    small_red.color = r::Color::Red;
    r::SceneObject big_blue;
    big_blue.shape = r::Shape::Sphere;
    big_blue.color = r::Color::Blue;
    big_blue.material = r::Material::Metal;
    big_blue.size = 0.7;
    s.objects = {small_red};
    EXPECT_EQ(sceneCaption(s), "a photo of a small red rubber cube on a grey floor");
    s.objects = {small_red, big_blue, small_red};
    EXPECT_EQ(sceneCaption(s), "a photo of two small red rubber cubes and a large blue metal sphere on a grey floor");
    r::SceneObject cyl = big_blue;
    cyl.shape = r::Shape::Cylinder;
    s.objects = {cyl, small_red, big_blue};
    EXPECT_EQ(sceneCaption(s),
              "a photo of a large blue metal cylinder, a small red rubber cube and a large blue metal sphere on a "
              "grey floor");
}

// An input image that Tessera rendered carries its scene: a reconstruction reports it as the ground truth
// (before the model is even loaded: here the model folder does not exist and the run then fails).
TEST(SceneReconstruction, InputWithItsSceneReportsTheGroundTruth) {
    test::app();
    r::Scene truth = twoObjects();
    QImage img(32, 24, QImage::Format_RGB888);
    img.fill(Qt::gray);
    img.setText("tessera-scene", QString::fromStdString(r::writeSceneJson(truth)));
    const QString path =
        QDir::tempPath() + "/tessera_truth_" + QString::number(QCoreApplication::applicationPid()) + ".png";
    ASSERT_TRUE(img.save(path));
    SceneReconstruction rec;
    std::optional<r::Scene> found;
    bool finished = false, ok = true;
    QObject::connect(&rec, &SceneReconstruction::groundTruthFound, [&](const r::Scene& s) { found = s; });
    QObject::connect(&rec, &SceneReconstruction::finished, [&](bool o, const QString&) {
        finished = true;
        ok = o;
    });
    rec.start("/nonexistent/model", path);
    ASSERT_TRUE(waitFor([&] { return finished; }, 20000));
    EXPECT_FALSE(ok);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, truth);
    // A plain image has none.
    QImage plain(32, 24, QImage::Format_RGB888);
    plain.fill(Qt::gray);
    ASSERT_TRUE(plain.save(path));
    found.reset();
    finished = false;
    rec.start("/nonexistent/model", path);
    ASSERT_TRUE(waitFor([&] { return finished; }, 20000));
    EXPECT_FALSE(found.has_value());
    QFile::remove(path);
}

// Generate > Reconstruct scene from image… with a project open: the run is stored as the CLI stores it
// (job, input bytes, program as a scene, a render carrying its scene) and the project's history lists
// it as a "scene" entry that loads with its program and input image.
TEST(SceneReconstruction, StoresInTheProjectAndTheHistoryListsIt) {
    test::app();
    QTemporaryDir tmp;
    const QString model = tmp.path() + "/igllm";
    ASSERT_TRUE(tessera::writeRandomIgllmCheckpoint(model.toStdString()).ok());
    QImage input(64, 64, QImage::Format_RGB888);
    input.fill(QColor(40, 160, 60));
    const QString image = tmp.path() + "/in.png";
    ASSERT_TRUE(input.save(image));
    const QString project = tmp.path() + "/project";
    SceneReconstruction rec;
    rec.setProject(project);
    bool done = false, ok = false;
    qint64 stored = 0;
    QString message;
    QObject::connect(&rec, &SceneReconstruction::finished, [&](bool success, const QString& m) {
        done = true;
        ok = success;
        message = m;
    });
    QObject::connect(&rec, &SceneReconstruction::stored, [&](const QString& where, qint64 id) {
        EXPECT_EQ(where, project);
        stored = id;
    });
    // The random model may end its text at once or write something that does not parse: take the first
    // seed whose program parses with at least one object.
    int failed_runs = 0, stored_runs = 0;
    for (uint64_t seed = 1; seed <= 30 && !(ok && rec.program().contains("object ")); ++seed) {
        done = false;
        stored = 0;
        rec.start(model, image, seed, 80);
        ASSERT_TRUE(waitFor([&] { return done; }, 60000));
        if (!ok) ++failed_runs;
        if (ok && stored > 0) ++stored_runs; // an empty program parses too: it is stored as well
    }
    ASSERT_TRUE(ok) << message.toStdString();
    ASSERT_GT(stored, 0) << message.toStdString();
    EXPECT_TRUE(message.contains("stored in project")) << message.toStdString();
    const r::SceneParseResult parsed = r::parseSceneProgram(rec.program().toStdString());
    ASSERT_TRUE(parsed.ok);

    {
        auto p = projects::Project::open(project.toStdString());
        ASSERT_TRUE(p.ok()) << p.error();
        auto g = p->generation(stored);
        ASSERT_TRUE(g.ok()) << g.error();
        EXPECT_EQ(g->kind, "scene");
        ASSERT_TRUE(g->job_id.has_value());
        auto job = p->job(*g->job_id);
        ASSERT_TRUE(job.ok());
        EXPECT_EQ(job->state, projects::JobState::kDone);
        EXPECT_EQ(job->params.value("studio", false), true);
        auto scene = p->scene(job->result["scene_id"].get<int64_t>());
        ASSERT_TRUE(scene.ok());
        EXPECT_EQ(QString::fromStdString(scene->program), rec.program());
        // The input: the file's exact bytes. The render: a PNG of the stored size carrying the scene.
        auto in = p->asset(job->result["image_asset_id"].get<int64_t>());
        ASSERT_TRUE(in.ok());
        QFile a(QString::fromStdString(p->assetPath(*in).string())), b(image);
        ASSERT_TRUE(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        EXPECT_EQ(a.readAll(), b.readAll());
        auto out = p->asset(*g->asset_id);
        ASSERT_TRUE(out.ok());
        const QImage render(QString::fromStdString(p->assetPath(*out).string()));
        EXPECT_EQ(render.size(), QSize(480, 320));
        const r::SceneParseResult carried = r::parseSceneJson(render.text("tessera-scene").toStdString());
        ASSERT_TRUE(carried.ok) << carried.error;
        EXPECT_EQ(carried.scene, parsed.scene);
        // Runs that failed (a program that does not parse) are remembered as failed jobs.
        int failed_jobs = 0;
        auto jobs = p->listJobs();
        ASSERT_TRUE(jobs.ok());
        for (const auto& j : *jobs)
            if (j.state == projects::JobState::kFailed) ++failed_jobs;
        EXPECT_EQ(failed_jobs, failed_runs);
    }

    // The studio's history source lists it and loads it for the Scene dock.
    auto source = openProjectHistory(project);
    ASSERT_TRUE(source.ok()) << source.error();
    std::optional<std::vector<HistoryEntry>> entries;
    (*source)->query(HistoryQuery{}, [&](std::vector<HistoryEntry> e) { entries = std::move(e); });
    ASSERT_TRUE(waitFor([&] { return entries.has_value(); }, 20000));
    ASSERT_EQ(static_cast<int>(entries->size()), stored_runs);
    const HistoryEntry& newest = entries->front(); // newest first
    EXPECT_EQ(newest.id, stored);
    for (const HistoryEntry& e : *entries) {
        EXPECT_EQ(e.kind, "scene");
        EXPECT_FALSE(e.thumbnail.isNull());
        EXPECT_EQ(e.settings.prompt, "Scene reconstructed from in");
    }
    std::optional<std::optional<Generation>> loaded;
    (*source)->load(stored, [&](std::optional<Generation> g) { loaded = std::move(g); });
    ASSERT_TRUE(waitFor([&] { return loaded.has_value(); }, 20000));
    ASSERT_TRUE(loaded->has_value());
    const Generation& g = **loaded;
    EXPECT_EQ(g.kind, "scene");
    EXPECT_EQ(g.scene_program, rec.program());
    EXPECT_EQ(g.scene_input.size(), QSize(64, 64));
    EXPECT_EQ(g.image.size(), QSize(480, 320));
}
