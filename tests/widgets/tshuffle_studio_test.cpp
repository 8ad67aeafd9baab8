// Token-Shuffle in the studio on a tiny random checkpoint of the documented schema (8×8 tokens, s = 2):
// the model manager's probe (family, window, memory), the generator behind the Generator seam with
// live previews that fill whole s×s windows, and the cell inspector showing a cell's window.
#include "engine/token_shuffle_test_util.h"
#include "tessera/engine/bench.h"
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/model_manager.h"
#include "tessera/widgets/acceptance_strip.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_shuffle_generator.h"
#include "widgets/test_app.h"

#include <QDirIterator>
#include <QFileInfo>
#include <QLabel>
#include <QTemporaryDir>
#include <cstdio>
#include <gtest/gtest.h>
#include <map>
#include <set>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

constexpr int kGrid = 8, kWindow = 2;

// One checkpoint for the file: hidden 64, 2 layers, 2 kv heads of head_dim 16, 256 codes.
const QString& checkpoint() {
    static QTemporaryDir dir;
    static bool written = false;
    if (!written) {
        const bench::TokenShuffleShape s = test::tinyTokenShuffleShape(256, kGrid);
        static_assert(kWindow == 2, "tinyTokenShuffleShape is s = 2");
        const Status st = bench::writeRandomTokenShuffleCheckpoint(
            s, (dir.path() + "/model").toStdString(),
            std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny", 5);
        EXPECT_TRUE(st.ok()) << st.message();
        written = true;
    }
    static const QString path = dir.path() + "/model";
    return path;
}

bool done(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}

} // namespace

TEST(TokenShuffleStudio, ModelManagerShowsFamilyWindowAndMemory) {
    const ModelProbe m = probeModel(checkpoint());
    ASSERT_TRUE(m.error.isEmpty()) << m.error.toStdString();
    EXPECT_EQ(m.family, "token-shuffle");
    EXPECT_EQ(m.window, kWindow);
    EXPECT_EQ(m.grid, kGrid);
    EXPECT_EQ(m.image_tokens, kGrid * kGrid);
    // The LM, the shuffle tensors and the VQ decoder in vq/: every safetensors file below the folder.
    int64_t files = 0;
    for (QDirIterator it(checkpoint(), {"*.safetensors"}, QDir::Files, QDirIterator::Subdirectories);
         it.hasNext();)
        files += QFileInfo(it.next()).size();
    EXPECT_EQ(m.weight_bytes, files);
    // KV cache: 2 (k, v) × 2 layers × 2 kv heads × head_dim 16 × (128 + (8/2)² windows) × 4 bytes × 2 CFG
    // rows.
    EXPECT_EQ(m.kv_cache_bytes, 2 * 2 * 2 * 16 * (128 + 16) * 4 * 2);
    EXPECT_TRUE(m.summary().contains("token-shuffle")) << m.summary().toStdString();
    EXPECT_TRUE(m.summary().contains("window 2×2")) << m.summary().toStdString();
    EXPECT_TRUE(m.summary().contains("128×128 px")) << m.summary().toStdString();
}

TEST(TokenShuffleStudio, GeneratesWithPreviewsFillingWholeWindowsAndInspectsAWindow) {
    test::app();
    auto gen = loadGenerator(checkpoint().toStdString(), "cpu");
    ASSERT_TRUE(gen.ok()) << gen.error();
    EXPECT_EQ((*gen)->info().family, "token-shuffle");
    EXPECT_EQ((*gen)->info().rows, kGrid);
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(*gen);
    GenerationSettings s;
    s.seed = 11;
    s.seed_locked = true;
    s.prompt = "a red cube";
    int previews = 0, partial = 0;
    std::vector<std::string> problems;
    int64_t id = 0;
    // Every picture shown while the run goes: the cells sampled so far are whole 2×2 windows, and a
    // cell's 16×16 block is painted (not the flat grey of a missing cell) exactly when it is sampled.
    QObject::connect(&studio, &StudioController::imageChanged, [&](qint64 gid) {
        const Generation* g = studio.generation(gid);
        if (gid != id || !g || g->image.isNull() || done(g)) return;
        ++previews;
        if (g->sampled() < kGrid * kGrid) ++partial;
        std::printf("preview with %d of %d cells sampled\n", g->sampled(), kGrid * kGrid);
        if (g->sampled() % (kWindow * kWindow) != 0) problems.push_back("a preview split a window");
        const QImage img = g->image.convertToFormat(QImage::Format_RGB888);
        if (img.width() != kGrid * 16) return problems.push_back("preview size");
        for (int cell = 0; cell < kGrid * kGrid; ++cell) {
            const int x0 = (cell % kGrid) * 16, y0 = (cell / kGrid) * 16;
            bool grey = true;
            for (int y = y0; y < y0 + 16 && grey; ++y)
                for (int x = x0; x < x0 + 16 && grey; ++x) grey = img.pixel(x, y) == qRgb(128, 128, 128);
            const bool sampled = g->cells[static_cast<size_t>(cell)].token >= 0;
            if (grey == sampled) problems.push_back("cell " + std::to_string(cell) + " painted wrongly");
        }
    });
    id = studio.generate(s);
    ASSERT_GT(id, 0);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }, 60000));
    const Generation* g = studio.generation(id);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    EXPECT_GE(partial, 1); // at least one picture of a half-done grid
    EXPECT_TRUE(problems.empty()) << problems.front();
    ASSERT_EQ(g->sampled(), kGrid * kGrid);
    // Window order: the first step samples (0,0) (0,1) (1,0) (1,1), the second the next window of row 0.
    EXPECT_EQ(std::vector<int>(g->decode_order.begin(), g->decode_order.begin() + 8),
              (std::vector<int>{0, 1, 8, 9, 2, 3, 10, 11}));
    EXPECT_EQ(g->image.width(), kGrid * 16);
    EXPECT_EQ(InspectorController::windowSide(*g, 0), kWindow);

    CellInspector view;
    InspectorController inspector(&studio, &view);
    inspector.inspect(id, 2 * kGrid + 3); // row 2, column 3: window (1, 1), slot 1 (top right)
    ASSERT_FALSE(view.windowLabel()->isHidden());
    const QString text = view.windowLabel()->text();
    EXPECT_TRUE(text.contains("Window (1, 1)")) << text.toStdString();
    for (int cell : {2 * kGrid + 2, 2 * kGrid + 3, 3 * kGrid + 2, 3 * kGrid + 3})
        EXPECT_TRUE(text.contains(QString::number(g->cells[static_cast<size_t>(cell)].token))) << cell;
    EXPECT_TRUE(
        text.contains("<b>[" + QString::number(g->cells[static_cast<size_t>(2 * kGrid + 3)].token) + "]</b>"))
        << text.toStdString();
    // A raster-order generation shows no window.
    Generation raster = *g;
    for (int i = 0; i < kGrid * kGrid; ++i) raster.decode_order[static_cast<size_t>(i)] = i;
    EXPECT_EQ(InspectorController::windowSide(raster, 0), 1);
}

// Speculative Jacobi decoding over windows: the job finishes with every cell, the four cells of each
// window become final in the same step (the engine's events), and the acceptance strip's plain line is
// one window per image per step.
TEST(TokenShuffleStudio, SpeculativeDecodingCommitsWholeWindows) {
    test::app();
    auto gen = loadGenerator(checkpoint().toStdString(), "cpu");
    ASSERT_TRUE(gen.ok()) << gen.error();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(*gen);
    PerfStrip perf;
    QObject::connect(&bridge, &EngineBridge::tokenSampled, &perf, &PerfStrip::onToken);
    std::map<int, int> step_of;
    QObject::connect(&bridge, &EngineBridge::tokenSampled,
                     [&](const TokenSampled& e) { step_of[e.position] = e.step; });
    GenerationSettings s;
    s.seed = 3;
    s.seed_locked = true;
    s.temperature = 0; // greedy: the drafts settle, so some steps make several windows final
    s.decode = "sjd";
    s.sjd_window = 4;
    const int64_t id = studio.generate(s);
    ASSERT_GT(id, 0);
    ASSERT_TRUE(waitFor([&] { return done(studio.generation(id)); }, 60000));
    const Generation* g = studio.generation(id);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    EXPECT_EQ(g->sampled(), kGrid * kGrid);
    ASSERT_TRUE(waitFor([&] { return static_cast<int>(step_of.size()) == kGrid * kGrid; }));
    std::set<int> steps;
    for (int c = 0; c < kGrid * kGrid; ++c) {
        const int corner = (c / kGrid / kWindow * kWindow) * kGrid + (c % kGrid) / kWindow * kWindow;
        EXPECT_EQ(step_of.at(c), step_of.at(corner)) << "cell " << c;
        steps.insert(step_of.at(c));
    }
    EXPECT_LT(steps.size(), static_cast<size_t>(kGrid * kGrid / (kWindow * kWindow)));
    EXPECT_EQ(perf.acceptance()->baseline(), kWindow * kWindow);
    EXPECT_EQ(perf.acceptance()->tokens(), kGrid * kGrid);
}
