// Speculative Jacobi decoding in the studio: the settings panel's strategy fields and the recipe, then a
// tiny SJD generation (janus_tiny) through the real job path (SettingsPanel → StudioController →
// Scheduler → JanusGenerator → EngineBridge), checking that the mosaic's "accepted at step" overlay and
// the perf panel's per-step acceptance strip show what the engine's events said.
#include "tessera/widgets/acceptance_strip.h"
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "widgets/test_app.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTemporaryDir>
#include <cstdio>
#include <gtest/gtest.h>
#include <map>
#include <set>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

bool done(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}

} // namespace

TEST(SjdSettings, PanelChoosesTheStrategyAndTheRecipeRecordsIt) {
    test::app();
    SettingsPanel panel;
    auto* decode = panel.findChild<QComboBox*>("decodeStrategy");
    auto* window = panel.findChild<QSpinBox*>("sjdWindow");
    auto* init = panel.findChild<QComboBox*>("sjdInit");
    auto* lantern = panel.findChild<QCheckBox*>("lantern");
    auto* k = panel.findChild<QSpinBox*>("lanternK");
    auto* delta = panel.findChild<QDoubleSpinBox*>("lanternDelta");
    auto* lossy = panel.findChild<QLabel*>("lossyWarning");
    ASSERT_TRUE(decode && window && init && lantern && k && delta && lossy);
    // Plain by default: the SJD fields are off and the recipe says nothing about decoding.
    EXPECT_EQ(panel.settings().decode, "plain");
    EXPECT_FALSE(window->isEnabled());
    EXPECT_FALSE(lantern->isEnabled());
    EXPECT_TRUE(lossy->isHidden());
    EXPECT_FALSE(panel.settings().toJson().contains("decode"));

    decode->setCurrentIndex(decode->findData("sjd"));
    window->setValue(24);
    init->setCurrentIndex(init->findData("spatial"));
    EXPECT_TRUE(window->isEnabled());
    EXPECT_TRUE(lantern->isEnabled());
    EXPECT_FALSE(k->isEnabled()); // LANTERN is opt-in
    GenerationSettings s = panel.settings();
    EXPECT_EQ(s.decode, "sjd");
    EXPECT_EQ(s.sjd_window, 24);
    EXPECT_EQ(s.sjd_init, "spatial");
    EXPECT_EQ(s.lantern_k, 0);
    EXPECT_FALSE(s.lossy());
    const DecodeSettings d = s.decodeSettings();
    EXPECT_EQ(d.strategy, DecodeStrategy::Sjd);
    EXPECT_EQ(d.window, 24);
    EXPECT_EQ(d.init, SjdInit::Spatial);
    EXPECT_EQ(d.lantern_k, 0);

    lantern->setChecked(true);
    k->setValue(50);
    delta->setValue(0.2);
    EXPECT_FALSE(lossy->isHidden()); // marked lossy as soon as it is on
    s = panel.settings();
    EXPECT_TRUE(s.lossy());
    EXPECT_EQ(s.lantern_k, 50);
    EXPECT_DOUBLE_EQ(s.lantern_delta, 0.2);

    // The recipe: the engine's layout ("decode": strategy, window, init, LANTERN's k and delta, lossy).
    Generation g;
    g.settings = s;
    const QJsonObject recipe = recipeJson(g);
    const QJsonObject rd = recipe.value("decode").toObject();
    EXPECT_EQ(rd.value("strategy").toString(), "sjd");
    EXPECT_EQ(rd.value("window").toInt(), 24);
    EXPECT_EQ(rd.value("init").toString(), "spatial");
    EXPECT_EQ(rd.value("lantern_k").toInt(), 50);
    EXPECT_DOUBLE_EQ(rd.value("lantern_delta").toDouble(), 0.2);
    EXPECT_TRUE(rd.value("lossy").toBool());
    EXPECT_EQ(GenerationSettings::fromJson(recipe), s); // restore / re-run reads it back

    // Persisted like the other settings.
    QTemporaryDir dir;
    QSettings store(dir.filePath("t.ini"), QSettings::IniFormat);
    panel.save(store);
    SettingsPanel restored;
    restored.restore(store);
    EXPECT_EQ(restored.settings(), s);

    // Nonsense in a stored recipe falls back to plain or is clamped.
    QJsonObject bad = recipe;
    bad["decode"] = QJsonObject{{"strategy", "warp"}, {"window", 99999}};
    EXPECT_EQ(GenerationSettings::fromJson(bad).decode, "plain");
    bad["decode"] = QJsonObject{{"strategy", "sjd"}, {"window", 99999}, {"init", "?"}, {"lantern_k", -3}};
    const GenerationSettings clamped = GenerationSettings::fromJson(bad);
    EXPECT_EQ(clamped.sjd_window, kMaxSjdWindow);
    EXPECT_EQ(clamped.sjd_init, "random");
    EXPECT_EQ(clamped.lantern_k, 0);
}

TEST(SjdStudio, OverlayStepsAndAcceptanceStripShowTheEngineEvents) {
    test::app();
    auto gen = loadJanusGenerator(kModel, "cpu");
    ASSERT_TRUE(gen.ok()) << gen.error();
    const int rows = (*gen)->info().rows, cols = (*gen)->info().cols, cells = rows * cols;
    ASSERT_GT(cells, 1);
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(*gen);
    MosaicView view;
    MosaicController mc(&studio, &view);
    CellInspector inspector;
    InspectorController ic(&studio, &inspector);
    QObject::connect(&mc, &MosaicController::cellSelected, &ic, &InspectorController::inspect);
    PerfStrip perf;
    QObject::connect(&bridge, &EngineBridge::stepTiming, &perf, &PerfStrip::onTiming);
    QObject::connect(&bridge, &EngineBridge::tokenSampled, &perf, &PerfStrip::onToken);
    // The engine's own word, straight off the bridge: the step of every (image, cell).
    std::map<std::pair<int, int>, int> step_of;
    std::map<std::pair<int, int>, bool> draft_of;
    int timings = 0;
    QObject::connect(&bridge, &EngineBridge::tokenSampled, [&](const TokenSampled& e) {
        step_of[{e.image, e.position}] = e.step;
        draft_of[{e.image, e.position}] = e.accepted_draft;
    });
    QObject::connect(&bridge, &EngineBridge::stepTiming, [&](const StepTiming&) { ++timings; });

    SettingsPanel panel;
    GenerationSettings s;
    s.prompt = "a red cube";
    s.seed = 7;
    s.seed_locked = true;
    s.cfg = 2.0;
    s.temperature = 0; // greedy: SJD is Jacobi decoding, whose drafts settle and pass in runs
    s.images = 2;
    s.decode = "sjd";
    s.sjd_window = 8;
    panel.setSettings(s);
    int64_t id = 0;
    QObject::connect(&panel, &SettingsPanel::generateRequested,
                     [&](const GenerationSettings& run) { id = studio.generate(run); });
    panel.generateButton()->click();
    ASSERT_GT(id, 0);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }, 120000));
    const Generation* g = studio.generation(id);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    ASSERT_TRUE(waitFor([&] { return static_cast<int>(step_of.size()) == 2 * cells; }));
    EXPECT_EQ(g->settings.decode, "sjd");
    EXPECT_EQ(recipeJson(*g).value("decode").toObject().value("window").toInt(), 8);

    // The overlay colours every cell of the shown picture by the step the engine reported for it.
    TokenMosaic* mosaic = view.mosaic();
    mosaic->setOverlay(MosaicOverlay::AcceptedStep);
    std::set<int> steps0;
    for (int p = 0; p < cells; ++p) {
        const auto v = mosaic->overlayValueAt(p);
        ASSERT_TRUE(v.has_value()) << "cell " << p;
        EXPECT_EQ(static_cast<int>(*v), step_of.at({0, p})) << "cell " << p;
        steps0.insert(step_of.at({0, p}));
    }
    const auto [lo, hi] = mosaic->overlayRange();
    EXPECT_EQ(lo, 0.f);
    EXPECT_EQ(static_cast<int>(hi), *steps0.rbegin());
    // The speculation worked: fewer steps than cells (each step made several cells final).
    std::printf("image 0: %d cells in %zu steps; all images: %d timings\n", cells, steps0.size(), timings);
    EXPECT_LT(steps0.size(), static_cast<size_t>(cells));

    // The second picture of the batch, through the mosaic's picker.
    mc.showImage(1);
    for (int p = 0; p < cells; ++p) {
        const auto v = mosaic->overlayValueAt(p);
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(static_cast<int>(*v), step_of.at({1, p})) << "image 1 cell " << p;
    }
    mc.showImage(0);

    // The perf panel's strip: per step, the cells of all images the events made final then; its sum is
    // the grid's token count; plain decoding's baseline is one token per image per step.
    const AcceptanceStrip* strip = perf.acceptance();
    EXPECT_EQ(strip->job(), id);
    EXPECT_EQ(strip->tokens(), 2 * cells);
    int sum = 0;
    for (int n : strip->tokensPerStep()) sum += n;
    EXPECT_EQ(sum, 2 * cells);
    EXPECT_EQ(strip->baseline(), 2);
    std::map<int, int> per_step;
    int drafts = 0;
    for (const auto& [key, step] : step_of) ++per_step[step];
    for (const auto& [key, d] : draft_of) drafts += d ? 1 : 0;
    ASSERT_EQ(strip->steps(), per_step.rbegin()->first + 1);
    for (int st = 0; st < strip->steps(); ++st)
        EXPECT_EQ(strip->tokensPerStep()[static_cast<size_t>(st)], per_step.count(st) ? per_step.at(st) : 0)
            << "step " << st;
    EXPECT_EQ(strip->drafts(), drafts);
    EXPECT_GT(drafts, 0);
    EXPECT_EQ(timings, strip->steps()); // one StepTiming per forward pass
    EXPECT_TRUE(perf.text().contains("tok/step")) << perf.text().toStdString();
    EXPECT_TRUE(
        strip->summary().contains(QString("%1 tokens in %2 steps").arg(2 * cells).arg(strip->steps())))
        << strip->summary().toStdString();

    // The cell inspector says the step.
    view.resize(300, 340);
    view.show();
    const int last = cells - 1;
    ic.inspect(id, last, 0);
    const QString stats = inspector.findChild<QLabel*>("cellStats")->text();
    EXPECT_TRUE(stats.contains(QString("Accepted at decode step %1").arg(step_of.at({0, last}) + 1)))
        << stats.toStdString();
}

TEST(AcceptanceStrip, CountsPerStepAndStartsOverForANewJob) {
    test::app();
    AcceptanceStrip strip;
    EXPECT_EQ(strip.steps(), 0);
    const auto token = [](int64_t job, int image, int step, bool draft) {
        TokenSampled e;
        e.job_id = job;
        e.image = image;
        e.step = step;
        e.accepted_draft = draft;
        return e;
    };
    // Hand-checked: step 0 (no drafts: a plain step) makes 1 cell final, step 1 three (two drafts),
    // step 2 none (an image waited), step 3 one.
    strip.onToken(token(4, 0, 0, false));
    strip.onToken(token(4, 0, 1, true));
    strip.onToken(token(4, 0, 1, true));
    strip.onToken(token(4, 0, 1, false));
    strip.onToken(token(4, 0, 3, false));
    EXPECT_EQ(strip.tokensPerStep(), (std::vector<int>{1, 3, 0, 1}));
    EXPECT_EQ(strip.tokens(), 5);
    EXPECT_EQ(strip.drafts(), 2);
    EXPECT_EQ(strip.baseline(), 1);
    EXPECT_EQ(strip.summary(), "5 tokens in 4 steps, 1.25 per step (plain: 1)");
    // Malformed events are ignored rather than growing the strip without bound.
    strip.onToken(token(4, 0, -1, false));
    strip.onToken(token(4, 0, 1 << 30, false));
    EXPECT_EQ(strip.tokens(), 5);
    strip.onToken(token(5, 1, 0, false)); // a new job of two images
    EXPECT_EQ(strip.job(), 5);
    EXPECT_EQ(strip.tokensPerStep(), (std::vector<int>{1}));
    strip.onToken(token(5, 0, 0, false));
    EXPECT_EQ(strip.baseline(), 2);
    // Token-Shuffle: step 0 makes one 2×2 window final, so plain decoding's line is 4 tokens a step.
    for (int i = 0; i < 4; ++i) strip.onToken(token(6, 0, 0, false));
    for (int i = 0; i < 8; ++i) strip.onToken(token(6, 0, 1, true));
    EXPECT_EQ(strip.baseline(), 4);
    EXPECT_EQ(strip.summary(), "12 tokens in 2 steps, 6.00 per step (plain: 4)");
}
