// SettingsPanel (seed lock/random, persistence), GenerationSettings JSON, shortcuts, perf strip,
// the engine view's fallback without OpenGL, and PNG export with the recipe.
#include "tessera/engine/image.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/export_dialog.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/shortcuts.h"
#include "widgets/test_app.h"

#include <QAction>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QOpenGLWidget>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

TEST(SettingsPanel, UnlockedSeedsChangeEveryRunLockedOnesStay) {
    test::app();
    SettingsPanel panel;
    GenerationSettings s;
    s.seed = 1234;
    s.seed_locked = true;
    panel.setSettings(s);
    EXPECT_EQ(panel.settingsForRun().seed, 1234u);
    EXPECT_EQ(panel.settingsForRun().seed, 1234u);
    s.seed_locked = false;
    panel.setSettings(s);
    const quint64 a = panel.settingsForRun().seed, b = panel.settingsForRun().seed;
    EXPECT_NE(a, b);                     // two 63-bit draws colliding: 2^-63
    EXPECT_EQ(panel.settings().seed, b); // the seed used is shown
}

TEST(SettingsPanel, PersistsThroughQSettings) {
    test::app();
    QTemporaryDir dir;
    QSettings store(dir.filePath("t.ini"), QSettings::IniFormat);
    GenerationSettings s;
    s.prompt = "a blue bird";
    s.seed = 42;
    s.seed_locked = true;
    s.cfg = 3.5;
    s.temperature = 0.75;
    s.top_k = 100;
    s.top_p = 0.9;
    s.images = 2;
    {
        SettingsPanel panel;
        panel.setSettings(s);
        panel.save(store);
    }
    SettingsPanel restored;
    restored.restore(store);
    EXPECT_EQ(restored.settings(), s);
}

TEST(SettingsPanel, GenerateButtonEmitsTheSettings) {
    test::app();
    SettingsPanel panel;
    QSignalSpy spy(&panel, &SettingsPanel::generateRequested);
    panel.generateButton()->click();
    EXPECT_EQ(spy.count(), 1);
}

TEST(GenerationSettings, JsonKeepsLargeSeedsAndRejectsNonsense) {
    GenerationSettings s;
    s.seed = 0xFFFFFFFFFFFFFFF0ull; // beyond a double's exact range
    EXPECT_EQ(GenerationSettings::fromJson(s.toJson()).seed, s.seed);
    QJsonObject bad;
    bad["cfg"] = -5;
    bad["images"] = 100000;
    bad["top_p"] = "x";
    const GenerationSettings g = GenerationSettings::fromJson(bad);
    EXPECT_EQ(g.cfg, 0.0);
    EXPECT_EQ(g.images, 64);
    EXPECT_EQ(g.top_p, 1.0);
}

TEST(Shortcuts, DefaultsOverridesAndConflicts) {
    test::app();
    QTemporaryDir dir;
    QSettings store(dir.filePath("k.ini"), QSettings::IniFormat);
    QAction gen("Generate"), cancel("Cancel");
    {
        ShortcutRegistry r;
        r.add("generate.run", &gen, QKeySequence(Qt::CTRL | Qt::Key_Return));
        r.add("generate.cancel", &cancel, QKeySequence(Qt::Key_Escape));
        EXPECT_EQ(gen.shortcut(), QKeySequence(Qt::CTRL | Qt::Key_Return));
        EXPECT_TRUE(r.conflicts().isEmpty());
        r.set("generate.run", QKeySequence(Qt::CTRL | Qt::Key_G));
        r.save(store);
        r.set("generate.cancel", QKeySequence(Qt::CTRL | Qt::Key_G));
        EXPECT_EQ(r.conflicts().size(), 2);
    }
    QAction gen2("Generate"), cancel2("Cancel");
    ShortcutRegistry r2;
    r2.add("generate.run", &gen2, QKeySequence(Qt::CTRL | Qt::Key_Return));
    r2.add("generate.cancel", &cancel2, QKeySequence(Qt::Key_Escape));
    r2.load(store);
    EXPECT_EQ(gen2.shortcut(), QKeySequence(Qt::CTRL | Qt::Key_G));
    EXPECT_EQ(cancel2.shortcut(), QKeySequence(Qt::Key_Escape)); // never overridden: default kept
    r2.resetAll();
    EXPECT_EQ(gen2.shortcut(), QKeySequence(Qt::CTRL | Qt::Key_Return));
}

TEST(PerfStrip, ShowsTheFiguresOfAStepTiming) {
    test::app();
    PerfStrip strip;
    StepTiming t;
    t.tokens_per_s = 123.4;
    t.step_ms = 8.1;
    t.first_preview_ms = 950;
    t.model_bytes = 3u << 20;
    t.kv_cache_bytes = 512u << 10;
    strip.onTiming(t);
    const QString text = strip.text();
    EXPECT_TRUE(text.contains("123.4 tok/s")) << text.toStdString();
    EXPECT_TRUE(text.contains("8.10 ms/token")) << text.toStdString();
    EXPECT_TRUE(text.contains("first preview 950 ms")) << text.toStdString();
    EXPECT_TRUE(text.contains("model 3.0 MiB")) << text.toStdString();
    EXPECT_TRUE(text.contains("KV cache 512.0 KiB")) << text.toStdString();
}

TEST(EngineView, SoftwareRenderersAreRecognised) {
    EXPECT_TRUE(isSoftwareOpenGl("llvmpipe (LLVM 15.0.6, 256 bits)"));
    EXPECT_TRUE(isSoftwareOpenGl("Software Rasterizer"));
    EXPECT_TRUE(isSoftwareOpenGl("softpipe"));
    EXPECT_FALSE(isSoftwareOpenGl("NVIDIA GeForce RTX 4090/PCIe/SSE2"));
    EXPECT_FALSE(isSoftwareOpenGl("AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 15.0.6, DRM 3.49)"));
    EXPECT_FALSE(isSoftwareOpenGl(""));
}

TEST(EngineView, FallsBackToTextWithoutOpenGL) {
    test::app();
    ASSERT_EQ(QGuiApplication::platformName(), "offscreen");
    EXPECT_FALSE(openGlWidgetsAvailable());
    EngineBridge bridge;
    EngineStats stats(&bridge);
    std::unique_ptr<QWidget> view(createEngineInternalsView(&stats));
    EXPECT_EQ(qobject_cast<QOpenGLWidget*>(view.get()), nullptr);
    auto* label = qobject_cast<QLabel*>(view.get());
    ASSERT_NE(label, nullptr);
    stats.reset(7);
    StepTiming t;
    t.job_id = 7;
    t.step = 3;
    t.total = 16;
    t.step_ms = 2;
    stats.onTiming(t);
    ASSERT_TRUE(waitFor([&] { return label->text().contains("step 3 / 16"); }));
}

TEST(Export, WritesAPngWithTheRecipe) {
    test::app();
    QTemporaryDir dir;
    Generation g;
    g.id = 5;
    g.settings.prompt = "a yellow kite";
    g.settings.seed = 99;
    g.rows = g.cols = 2;
    g.cells.assign(4, {});
    g.cells[0].token = 11;
    g.image = QImage(8, 8, QImage::Format_RGB888);
    g.image.fill(QColor(10, 200, 30));
    QObject context;
    bool finished = false, ok = false;
    const QString path = dir.filePath("out.png");
    exportPngAsync(g, path, true, &context, [&](bool success, QString) {
        finished = true;
        ok = success;
    });
    ASSERT_TRUE(waitFor([&] { return finished; }));
    ASSERT_TRUE(ok);
    std::map<std::string, std::string> text;
    auto img = readPng(path.toStdString(), &text);
    ASSERT_TRUE(img.ok()) << img.error();
    EXPECT_EQ(img->width, 8);
    EXPECT_EQ(img->rgb[1], 200);
    const QJsonObject recipe =
        QJsonDocument::fromJson(QByteArray::fromStdString(text["tessera.recipe"])).object();
    EXPECT_EQ(recipe["prompt"].toString(), "a yellow kite");
    EXPECT_EQ(recipe["seed"].toString(), "99");
    EXPECT_EQ(recipe["tokens"].toArray().at(0).toInt(), 11);
    EXPECT_EQ(recipe["tokens"].toArray().at(1).toInt(), -1);
}
