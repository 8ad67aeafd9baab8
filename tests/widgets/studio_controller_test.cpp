// StudioController and EngineBridge over the real Scheduler, driven by the synthetic generator.
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/queue_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QPointer>
#include <QSignalSpy>
#include <QTimer>
#include <QUndoStack>
#include <cmath>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {
bool done(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}
} // namespace

TEST(StudioController, WithoutAModelItSaysSoAndQueuesNothing) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    QSignalSpy messages(&studio, &StudioController::message);
    EXPECT_EQ(studio.generate(GenerationSettings{}), 0);
    ASSERT_EQ(messages.count(), 1);
    EXPECT_TRUE(messages.at(0).at(0).toString().contains("No model"));
    EXPECT_TRUE(bridge.scheduler().jobs().empty());
}

TEST(StudioController, RecordsEveryTokenInDecodeOrderWithItsStatistics) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    GenerationSettings s;
    s.seed = 3;
    s.prompt = "a red cube";
    const int64_t id = studio.generate(s);
    ASSERT_GT(id, 0);
    EXPECT_EQ(studio.current(), id);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }));
    const Generation* g = studio.generation(id);
    EXPECT_EQ(g->state, JobState::Finished);
    ASSERT_EQ(g->sampled(), 16);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(g->decode_order[static_cast<size_t>(i)], i);
        const TokenRecord& c = g->cells[static_cast<size_t>(i)];
        EXPECT_EQ(c.token, SyntheticGenerator::tokenAt(3, i, 64));
        EXPECT_EQ(c.rank, i % 4);
        EXPECT_FLOAT_EQ(c.probability, 1.f / static_cast<float>(1 + i % 4));
        ASSERT_EQ(c.top_ids.size(), 3u);
    }
    // The final preview: cell (0,0) carries token 0's colour.
    ASSERT_FALSE(g->image.isNull());
    EXPECT_EQ(g->image.pixel(1, 1), SyntheticGenerator::colorOf(SyntheticGenerator::tokenAt(3, 0, 64)).rgb());
}

TEST(StudioController, BranchKeepsThePrefixAndTakesTheChosenToken) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    GenerationSettings s;
    s.seed = 9;
    const int64_t parent = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(parent)); }));
    EXPECT_EQ(studio.branch(parent, 99, 1), 0); // unknown step: refused
    const int32_t alt = (SyntheticGenerator::tokenAt(9, 5, 64) + 1) % 64;
    const int64_t child = studio.branch(parent, 5, alt);
    ASSERT_GT(child, 0);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(child)); }));
    const Generation* c = studio.generation(child);
    EXPECT_EQ(c->parent_id, parent);
    EXPECT_EQ(c->branch_token, 5);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(c->cells[static_cast<size_t>(i)].token, SyntheticGenerator::tokenAt(9, i, 64));
    EXPECT_EQ(c->cells[5].token, alt);
    EXPECT_NE(c->cells[5].token, studio.generation(parent)->cells[5].token);
}

TEST(StudioController, CancelStopsARunningGeneration) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(32, 32, 64, 2000));
    const int64_t id = studio.generate(GenerationSettings{});
    ASSERT_TRUE(waitFor([&] { return studio.generation(id)->sampled() >= 3; }));
    studio.cancelCurrent();
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }));
    EXPECT_EQ(studio.generation(id)->state, JobState::Cancelled);
    EXPECT_LT(studio.generation(id)->sampled(), 32 * 32);
}

TEST(StudioController, DestroyingTheBridgeMidGenerationIsSafe) {
    test::app();
    auto* bridge = new EngineBridge;
    auto* studio = new StudioController(bridge);
    auto generator = std::make_shared<SyntheticGenerator>(32, 32, 64, 500);
    std::weak_ptr<SyntheticGenerator> watch = generator;
    studio->setGenerator(std::move(generator));
    const int64_t id = studio->generate(GenerationSettings{});
    // Really mid-generation: tokens have arrived and most of the 1024 are still to come.
    ASSERT_TRUE(waitFor([&] { return studio->generation(id)->sampled() >= 3; }));
    ASSERT_FALSE(done(studio->generation(id)));
    QPointer<StudioController> studio_alive(studio);
    delete studio;
    delete bridge; // joins the worker; queued drains to it are dropped
    QTest::qWait(20); // any drain still queued to the event loop runs (and must find nothing)
    EXPECT_TRUE(studio_alive.isNull());
    EXPECT_TRUE(watch.expired()) << "the generator outlived the studio and the bridge that held it";
}

// The GUI thread must keep turning while a job floods it with events: a timer that should fire every
// 5 ms records the longest gap between its ticks over a whole generation of 4096 tokens with
// previews and timings (about 12,000 events), with every feature widget of the studio shown and
// following along (mosaic with an overlay, inspector, queue, history, perf strip, engine view).
// See StallProbe for time spent waiting for a CPU.
TEST(EventLoop, NeverStallsLongerThan50msDuringAGeneration) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(64, 64, 1024, 0, 64));
    QWidget window;
    auto* layout = new QHBoxLayout(&window);
    auto* mosaic_view = new MosaicView;
    auto* inspector_view = new CellInspector;
    auto* queue_view = new QueuePanel;
    auto* history_view = new HistoryPanel;
    auto* perf = new PerfStrip;
    EngineStats stats(&bridge);
    QWidget* engine_view = createEngineInternalsView(&stats);
    for (QWidget* w : {static_cast<QWidget*>(mosaic_view), static_cast<QWidget*>(inspector_view),
                       static_cast<QWidget*>(queue_view), static_cast<QWidget*>(history_view),
                       static_cast<QWidget*>(perf), engine_view})
        layout->addWidget(w);
    MosaicController mosaic(&studio, mosaic_view);
    InspectorController inspector(&studio, inspector_view);
    QueueController queue(&bridge, queue_view);
    QUndoStack undo;
    HistoryController history(&studio, history_view, &undo);
    QObject::connect(&bridge, &EngineBridge::stepTiming, perf, &PerfStrip::onTiming);
    mosaic_view->setOverlay(MosaicOverlay::Entropy);
    window.resize(1600, 600);
    window.show();
    tessera::test::StallProbe probe;
    probe.start();
    const int64_t id = studio.generate(GenerationSettings{});
    inspector.inspect(id, 0);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }, 60000));
    QTest::qWait(300); // the history records and refreshes after the job
    probe.stop();
    EXPECT_EQ(studio.generation(id)->sampled(), 4096);
    EXPECT_EQ(mosaic_view->mosaic()->sampledCount(), 4096);
    EXPECT_EQ(history_view->count(), 1);
    std::printf(
        "longest event-loop gap during generation: %lld ms (%lld ms wall, waits for a CPU included)\n",
        static_cast<long long>(probe.worstMs()), static_cast<long long>(probe.worstWallMs()));
    EXPECT_LE(probe.worstMs(), 50) << "the event loop stalled for " << probe.worstMs() << " ms";
}

// The real pipeline through the same controller: janus_tiny (untrained, 4×4 tokens of a 64-code book).
TEST(StudioController, RealJanusTinyGenerationAndBranch) {
    test::app();
    auto gen = loadJanusGenerator(std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny", "cpu");
    ASSERT_TRUE(gen.ok()) << gen.error();
    EXPECT_TRUE((*gen)->info().note.contains("untrained"));
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(*gen);
    GenerationSettings s;
    s.prompt = "a red apple";
    s.seed = 1234;
    const int64_t a = studio.generate(s);
    const int64_t b = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(a)) && done(studio.generation(b)); }, 60000));
    const Generation* g = studio.generation(a);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    EXPECT_EQ(g->rows, 4);
    EXPECT_EQ(g->cols, 4);
    ASSERT_EQ(g->sampled(), 16);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(g->decode_order[static_cast<size_t>(i)], i); // raster order
    for (const TokenRecord& c : g->cells) {
        EXPECT_GE(c.token, 0);
        EXPECT_LT(c.token, 64);
        EXPECT_GT(c.probability, 0.f);
        EXPECT_LE(c.probability, 1.f);
        EXPECT_GE(c.entropy, 0.f);
        EXPECT_LE(c.entropy, std::log(64.f) + 1e-4f); // at most uniform over the code book
        ASSERT_FALSE(c.top_ids.empty());
        for (size_t k = 1; k < c.top_probs.size(); ++k) EXPECT_GE(c.top_probs[k - 1], c.top_probs[k]);
        if (c.rank < static_cast<int>(c.top_ids.size())) {
            EXPECT_EQ(c.top_ids[static_cast<size_t>(c.rank)], c.token);
        }
    }
    EXPECT_EQ(studio.generation(b)->tokens(), g->tokens()); // same seed, same tokens
    ASSERT_FALSE(g->image.isNull());
    EXPECT_EQ(g->image.width(), 8); // janus_tiny decodes 4×4 tokens to 8×8 pixels

    const int32_t alt =
        g->cells[6].top_ids[0] == g->cells[6].token ? g->cells[6].top_ids[1] : g->cells[6].top_ids[0];
    const int64_t child = studio.branch(a, 6, alt);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(child)); }, 60000));
    const Generation* c = studio.generation(child);
    ASSERT_EQ(c->state, JobState::Finished) << c->error.toStdString();
    for (int i = 0; i < 6; ++i)
        EXPECT_EQ(c->cells[static_cast<size_t>(i)].token, g->cells[static_cast<size_t>(i)].token);
    EXPECT_EQ(c->cells[6].token, alt);
}
