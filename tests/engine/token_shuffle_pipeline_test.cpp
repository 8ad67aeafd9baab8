// Token-Shuffle generation on a tiny random checkpoint in the documented schema: 512² images, events,
// reproducibility across thread counts, replay, cancel, the CFG schedule, the estimate, and tiled vs
// whole VQ decode.
#include "engine/token_shuffle_test_util.h"
#include "models/janus_parts.h"
#include "models/token_shuffle.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/token_shuffle.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kTokenizerDir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

class TokenShufflePipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("tessera_tshuffle_pipeline_" + std::to_string(::getpid()));
        const bench::TokenShuffleShape s = test::tinyTokenShuffleShape(256, 32); // 512²
        Status st = bench::writeRandomTokenShuffleCheckpoint(s, dir_.string(), kTokenizerDir, 5);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }
    static fs::path dir_;
};
fs::path TokenShufflePipelineTest::dir_;

struct Events {
    int tokens = 0, timings = 0, previews = 0, finals = 0;
    std::vector<int> preview_cells; // tokens_done of each live preview
    std::vector<int> positions;
};

TEST_F(TokenShufflePipelineTest, Generates512WithEventsForEveryWindow) {
    ASSERT_TRUE(TokenShufflePipeline::isTokenShuffleFolder(dir_.string()));
    auto be = createBackend("cpu", 2);
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ((*p)->info().image_size, 512);
    TokenShuffleRequest req;
    req.prompt = "a red apple";
    req.seed = 3;
    req.preview_every = 4;
    Events ev;
    JobContext ctx(
        1,
        [&](const Event& e) {
            if (auto* t = std::get_if<TokenSampled>(&e)) {
                ++ev.tokens;
                ev.positions.push_back(t->position);
            }
            if (std::holds_alternative<StepTiming>(e)) ++ev.timings;
            if (auto* pr = std::get_if<PreviewReady>(&e)) {
                (pr->final ? ev.finals : ev.previews)++;
                if (!pr->final) ev.preview_cells.push_back(pr->tokens_done);
            }
        },
        nullptr);
    auto r = (*p)->generate(req, ctx);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->cancelled);
    EXPECT_EQ(r->steps, 16 * 16); // (32 / 2)² windows: s² = 4 times fewer steps than tokens
    ASSERT_EQ(r->tokens.size(), 1u);
    EXPECT_EQ(r->tokens[0].size(), 32u * 32u);
    for (int32_t t : r->grids[0]) EXPECT_TRUE(t >= 0 && t < 256);
    EXPECT_EQ(ev.tokens, 1024);
    EXPECT_EQ(ev.timings, 256);
    EXPECT_EQ(ev.finals, 1);
    // Live previews (mosaics where a decode does not fit the budget) show whole s×s windows.
    EXPECT_GT(ev.previews, 0);
    EXPECT_EQ(ev.previews, r->previews_decoded + r->previews_approximate);
    for (int cells : ev.preview_cells) EXPECT_EQ(cells % 4, 0) << cells;
    // The first window's four cells come first: (0,0), (0,1), (1,0), (1,1) of the 32-wide grid.
    ASSERT_GE(ev.positions.size(), 8u);
    EXPECT_EQ(std::vector<int>(ev.positions.begin(), ev.positions.begin() + 8),
              (std::vector<int>{0, 1, 32, 33, 2, 3, 34, 35}));
    ASSERT_EQ(r->images.size(), 1u);
    EXPECT_EQ(r->images[0].width, 512);
    EXPECT_EQ(r->images[0].height, 512);
    // Real pixels, not a constant image.
    int lo = 255, hi = 0;
    for (uint8_t v : r->images[0].rgb) {
        lo = std::min<int>(lo, v);
        hi = std::max<int>(hi, v);
    }
    EXPECT_GT(hi - lo, 10);
}

TEST_F(TokenShufflePipelineTest, SameTokensOnOneAndTwoThreadsAndOnReplay) {
    TokenShuffleRequest req;
    req.prompt = "a blue boat";
    req.seed = 11;
    req.grid = 8;
    req.previews = false;
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::vector<uint8_t>> pixels;
    for (int threads : {1, 2}) {
        auto be = createBackend("cpu", threads);
        auto p = TokenShufflePipeline::load(dir_.string(), **be);
        ASSERT_TRUE(p.ok()) << p.error();
        JobContext ctx(1, {}, nullptr);
        auto r = (*p)->generate(req, ctx);
        ASSERT_TRUE(r.ok()) << r.error();
        tokens.push_back(r->tokens[0]);
        pixels.push_back(r->images[0].rgb);
        if (threads == 2) {
            // Replay: the recorded tokens forced, another seed: the same tokens and pixels.
            TokenShuffleRequest replay = req;
            replay.seed = 999;
            replay.forced = r->tokens;
            auto again = (*p)->generate(replay, ctx);
            ASSERT_TRUE(again.ok()) << again.error();
            EXPECT_EQ(again->tokens[0], r->tokens[0]);
            EXPECT_EQ(again->images[0].rgb, r->images[0].rgb);
            // A different seed without forcing does change the image.
            replay.forced.clear();
            auto other = (*p)->generate(replay, ctx);
            ASSERT_TRUE(other.ok());
            EXPECT_NE(other->tokens[0], r->tokens[0]);
        }
    }
    EXPECT_EQ(tokens[0], tokens[1]);
    EXPECT_EQ(pixels[0], pixels[1]);
}

TEST_F(TokenShufflePipelineTest, CancelStopsBetweenWindowsAndLeavesThePartialImage) {
    auto be = createBackend("cpu", 2);
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok());
    std::atomic<bool> cancel{false};
    int steps = 0;
    JobContext ctx(
        1,
        [&](const Event& e) {
            if (std::holds_alternative<StepTiming>(e) && ++steps == 10) cancel = true;
        },
        &cancel);
    TokenShuffleRequest req;
    req.prompt = "x";
    req.grid = 16;
    req.previews = false;
    auto r = (*p)->generate(req, ctx);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->tokens[0].size(), 40u); // 10 windows of 4
    ASSERT_EQ(r->images.size(), 1u);
    // The last cell (bottom right) was never sampled: painted mid-grey.
    const auto& img = r->images[0];
    const size_t last = (static_cast<size_t>(img.height - 1) * img.width + img.width - 1) * 3;
    EXPECT_EQ(img.rgb[last], 128);
}

// Half-linear starts at weight 1 (the conditional logits) and reaches w at the middle of the windows.
TEST_F(TokenShufflePipelineTest, CfgScheduleReachesTheGuidedLogits) {
    auto be = createBackend("cpu", 1);
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok());
    auto run = [&](CfgSchedule schedule, float cfg) {
        TokenShuffleRequest req;
        req.prompt = "a cat";
        req.grid = 8; // 16 windows
        req.previews = false;
        req.cfg_schedule = schedule;
        req.sampler.cfg = cfg;
        req.capture_logits_steps = 16;
        req.forced = {std::vector<int32_t>(64, 7)}; // the same tokens under every schedule
        JobContext ctx(1, {}, nullptr);
        auto r = (*p)->generate(req, ctx);
        EXPECT_TRUE(r.ok()) << r.error();
        return r->guided_logits;
    };
    const auto cond = run(CfgSchedule::Constant, 1.0f);
    const auto half = run(CfgSchedule::HalfLinear, 5.0f);
    const auto full = run(CfgSchedule::Constant, 5.0f);
    ASSERT_EQ(cond.size(), 16u);
    EXPECT_EQ(half[0], cond[0]); // t = 0: w = 1
    EXPECT_EQ(half[8], full[8]); // t = T/2: w = 5
    EXPECT_EQ(half[15], full[15]);
    EXPECT_NE(half[4], full[4]); // t = T/4: w = 3
    EXPECT_NE(half[4], cond[4]);
}

TEST_F(TokenShufflePipelineTest, EstimateFollowsTheConfig) {
    auto be = createBackend("cpu", 1);
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok());
    TokenShuffleRequest req;
    req.prompt = "a cat";
    req.grid = 128; // 2048²
    auto e = (*p)->estimate(req);
    ASSERT_TRUE(e.ok()) << e.error();
    EXPECT_EQ(e->image_size, 2048);
    EXPECT_EQ(e->steps, 64 * 64);
    // 2 CFG rows × 2 layers × (k, v) × 2 kv heads × positions × head_dim 16 × 4 bytes (config values).
    EXPECT_EQ(e->kv_cache_bytes, static_cast<size_t>(2 * 2 * 2 * 2 * (e->prompt_tokens + 4096) * 16 * 4));
    EXPECT_GT(e->vq_window_bytes, 0u);
    EXPECT_GE(e->peak_bytes_bound, e->vq_window_bytes + e->kv_cache_bytes + e->output_bytes);
    req.grid = 31; // not a multiple of the window
    EXPECT_FALSE((*p)->estimate(req).ok());
}

// Tiled and whole decodes of a 24×24-token grid (384²; both fit here) in 8-token tiles with a 4-token
// halo. The random decoder's GroupNorm and attention see a window rather than the whole image, so
// pixels differ everywhere; the bounds (docs/TOKEN_SHUFFLE.md, "Seams") are: max |Δ| below 40% and mean
// |Δ| below 5% of the whole decode's output range, and no seam: within one token of a tile border the
// error is at most 1.25× the worst error inside the tiles.
TEST_F(TokenShufflePipelineTest, TiledDecodeIsCloseToWholeDecodeWithoutSeams) {
    auto be = createBackend("cpu", 2);
    auto ckpt = Checkpoint::open(dir_.string());
    ASSERT_TRUE(ckpt.ok());
    auto m = models::TokenShuffleModel::load(*ckpt, **be, true);
    ASSERT_TRUE(m.ok()) << m.error();
    const janus::VqModel& vq = *(*m)->vq();
    const int64_t g = 24, tile = 8, halo = 4, f = vq.downsample(), side = g * f;
    std::vector<int64_t> ids(static_cast<size_t>(g * g));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 131 + (i / 24) * 7) % 256);
    Tensor codes = vq.codesFor(**be, (*be)->fromI64(ids, {1, g * g}), g, g);
    const std::vector<float> whole = (*be)->readF32(vq.decodeCodes(**be, codes));
    const std::vector<float> tiled = (*be)->readF32(vq.decodeCodesTiled(**be, codes, {tile, halo}));
    ASSERT_EQ(whole.size(), tiled.size());
    ASSERT_EQ(whole.size(), static_cast<size_t>(3 * side * side));
    const auto [lo, hi] = std::minmax_element(whole.begin(), whole.end());
    const double range = double(*hi) - double(*lo);
    auto nearBorder = [&](int64_t p) {
        const int64_t r = p % (tile * f);
        return (r < f && p >= tile * f) || (r >= tile * f - f && p + f < side);
    };
    double interior = 0, seam = 0, sum = 0;
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < side; ++y)
            for (int64_t x = 0; x < side; ++x) {
                const size_t i = static_cast<size_t>((c * side + y) * side + x);
                const double d = std::fabs(double(tiled[i]) - double(whole[i]));
                sum += d;
                double& worst = nearBorder(y) || nearBorder(x) ? seam : interior;
                worst = std::max(worst, d);
            }
    const double mean = sum / static_cast<double>(whole.size());
    std::printf("tiled (tile %lld, halo %lld) vs whole at %lld² tokens: range %.4f, max |d| interior %.4f, "
                "seam %.4f, mean %.4f\n",
                static_cast<long long>(tile), static_cast<long long>(halo), static_cast<long long>(g), range,
                interior, seam, mean);
    ASSERT_GT(range, 1e-3);
    EXPECT_GT(std::max(interior, seam), 0.0); // the tiles really were decoded apart
    EXPECT_LT(std::max(interior, seam), 0.40 * range);
    EXPECT_LT(mean, 0.05 * range);
    EXPECT_LE(seam, 1.25 * interior);
}

// The tiled decode streams: each window's blocks go back to the system before the next, so the
// backend holds no more after a decode than before it (the docs/TOKEN_SHUFFLE.md memory bound counts one
// window), and the host path gives the pixels decodeCodesTiled gives.
TEST_F(TokenShufflePipelineTest, TiledDecodeKeepsNoBlocksAfterItself) {
    auto be = createBackend("cpu", 2);
    auto ckpt = Checkpoint::open(dir_.string());
    ASSERT_TRUE(ckpt.ok());
    auto m = models::TokenShuffleModel::load(*ckpt, **be, true);
    ASSERT_TRUE(m.ok()) << m.error();
    const janus::VqModel& vq = *(*m)->vq();
    const int64_t g = 20;
    std::vector<int64_t> ids(static_cast<size_t>(g * g));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 37 + 5) % 256);
    const Tensor codes = vq.codesFor(**be, (*be)->fromI64(ids, {1, g * g}), g, g);
    const std::vector<float> via_tensor = (*be)->readF32(vq.decodeCodesTiled(**be, codes, {8, 4}));
    (*be)->releaseCached();
    const size_t before = (*be)->allocatedBytes();
    Shape shape;
    const std::vector<float> host = vq.decodeCodesTiledToHost(**be, codes, {8, 4}, shape);
    EXPECT_LE((*be)->allocatedBytes(), before);
    EXPECT_EQ(shape, (Shape{1, 3, g * vq.downsample(), g * vq.downsample()}));
    EXPECT_EQ(host, via_tensor);
}

} // namespace
} // namespace tessera
