// Lumos-1 AR-DF generation end to end on a tiny random Chameleon + MM-RoPE checkpoint (lumos-tiny):
// the schedule, the temperature quirk, the two branches' caches and P0s, the committed frames' history
// mask, determinism across threads, cancel, recipes, I2V and T2I. Expected values are worked out here
// from the spec's formulas and by hand, not read from the pipeline.
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <numbers>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {

namespace {

// 64x32 pixels: a 4x8 latent frame (N = 32 cells, L = 36 content positions, 40-token segment).
constexpr int64_t kCells = 32, kContent = 36, kSegment = 40, kSteps = 6;
// Prompt ids {5, 6, 7}: the prefix is 0 5 6 7 8710 9004 8805 8806 (8 ids), [9004] at index 5.
constexpr int64_t kPrefix = 8, kVideoStart = 5;

class LumosPipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = (fs::temp_directory_path() / ("tessera_lumos_tiny_" + std::to_string(::getpid()))).string();
        auto cfg = lumosPresetConfig("lumos-tiny");
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        Status st = bench::writeRandomCheckpoint(*cfg, dir_, 7);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    static LumosRequest request(uint64_t seed) {
        LumosRequest r;
        r.prompt = "a red cube";
        r.prompt_ids = {5, 6, 7};
        r.width = 64;
        r.height = 32;
        r.fps = 2;
        r.duration_s = 1; // 2 frames: ceil(1/4) + 1 = 2 latent frames
        r.steps = kSteps;
        r.seed = seed;
        return r;
    }

    static Expected<LumosResult> run(const LumosRequest& r, int threads,
                                     std::vector<LumosProgress>* progress = nullptr,
                                     const std::atomic<bool>* cancel = nullptr,
                                     std::function<void(const LumosProgress&)> extra = {}) {
        auto be = createBackend("cpu", threads);
        if (!be) return be.status();
        auto p = LumosPipeline::load(dir_, **be);
        if (!p) return p.status();
        std::atomic<bool> never{false};
        JobContext ctx(3, {}, cancel ? cancel : &never);
        return (*p)->generate(r, ctx, [&](const LumosProgress& pr) {
            if (progress) progress->push_back(pr);
            if (extra) extra(pr);
        });
    }

    static std::string dir_;
};

std::string LumosPipelineTest::dir_;

// Cells still masked after step s of a frame of n cells, from the spec: floor(n·cos(π/2·(s+1)/S)) clamped to
// [1, unknown − 1], 0 after the last step.
int64_t maskedAfterSpec(int64_t n, int64_t unknown, int64_t s, int64_t steps) {
    if (s == steps - 1) return 0;
    const double v =
        std::floor(static_cast<double>(n) *
                   std::cos(std::numbers::pi / 2 * static_cast<double>(s + 1) / static_cast<double>(steps)));
    return std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(v), unknown - 1));
}

} // namespace

TEST_F(LumosPipelineTest, ScheduleLeavesTheCosineCountMaskedAfterEachStep) {
    std::vector<LumosProgress> pr;
    auto r = run(request(11), 1, &pr);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(pr.size(), static_cast<size_t>(2 * kSteps));
    // By hand for N = 32, S = 6: 32·cos(15°) = 30.9, ·cos(30°) = 27.7, ·cos(45°) = 22.6, ·cos(60°) = 16,
    // ·cos(75°) = 8.3, then 0.
    const std::vector<int64_t> by_hand = {30, 27, 22, 16, 8, 0};
    for (int64_t f = 0; f < 2; ++f) {
        int64_t unknown = kCells;
        for (int64_t s = 0; s < kSteps; ++s) {
            const LumosProgress& p = pr[static_cast<size_t>(f * kSteps + s)];
            EXPECT_EQ(p.frame, f);
            EXPECT_EQ(p.step, s + 1);
            EXPECT_EQ(p.frames, 2);
            const int64_t expected = maskedAfterSpec(kCells, unknown, s, kSteps);
            EXPECT_EQ(expected, by_hand[static_cast<size_t>(s)]);
            EXPECT_EQ(p.masked, expected) << "frame " << f << " step " << s;
            unknown = expected;
            // The whole grid exists every step: every cell has a sampled code, known ones unchanged.
            ASSERT_EQ(p.sampled.size(), static_cast<size_t>(kCells));
            for (int64_t i = 0; i < kCells; ++i) {
                EXPECT_GE(p.sampled[static_cast<size_t>(i)], 0);
                EXPECT_LT(p.sampled[static_cast<size_t>(i)], 64000);
                if (p.grid[static_cast<size_t>(i)] >= 0) {
                    EXPECT_EQ(p.sampled[static_cast<size_t>(i)], p.grid[static_cast<size_t>(i)]);
                }
            }
        }
    }
    ASSERT_EQ(r->codes.size(), static_cast<size_t>(2 * kCells));
    for (int32_t k : r->codes) {
        EXPECT_GE(k, 0);
        EXPECT_LT(k, 64000);
    }
}

TEST_F(LumosPipelineTest, TwoBranchesKeepTheirOwnCachesAndP0s) {
    std::vector<LumosProgress> pr;
    auto r = run(request(12), 1, &pr);
    ASSERT_TRUE(r.ok()) << r.error();
    // P0: cond 8 prefix ids + 3 header ids; uncond starts at [9004] (index 5) so 3 + 3.
    EXPECT_EQ(r->cond_p0, kPrefix + 3);
    EXPECT_EQ(r->uncond_p0, 6);
    for (const LumosProgress& p : pr) {
        // After every step both caches are cropped back to the start of the frame being generated.
        const int64_t frame_start = kPrefix + p.frame * kSegment;
        EXPECT_EQ(p.cond_frame_start, frame_start);
        EXPECT_EQ(p.cond_cache_length, frame_start);
        EXPECT_EQ(p.uncond_cache_length, frame_start - kVideoStart);
    }
    // The final sequence: prefix, two frames, [9005]; its unconditional branch drops the prompt.
    ASSERT_EQ(r->sequence.size(), static_cast<size_t>(kPrefix + 2 * kSegment + 1));
    EXPECT_EQ(r->sequence.back(), 9005);
    auto b = lumosBranches(r->sequence);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->cond_p0, r->cond_p0);
    EXPECT_EQ(b->uncond_p0, r->uncond_p0);
    // Codes in the sequence are 65536 + k in row-major order with newlines.
    for (int64_t f = 0; f < 2; ++f)
        for (int64_t row = 0; row < 4; ++row)
            for (int64_t c = 0; c < 8; ++c)
                EXPECT_EQ(r->sequence[static_cast<size_t>(kPrefix + f * kSegment + 3 + row * 9 + c)],
                          65536 + r->codes[static_cast<size_t>(f * kCells + row * 8 + c)]);
}

TEST_F(LumosPipelineTest, CommittedFrameIsWrittenWithSeventyPercentMaskedEvenlyInBothBranches) {
    auto r = run(request(13), 1);
    ASSERT_TRUE(r.ok()) << r.error();
    // Only frame 0 is committed (the last frame is never fed back).
    ASSERT_EQ(r->committed.size(), 1u);
    const LumosCommittedFrame& c = r->committed[0];
    EXPECT_EQ(c.frame, 0);
    // n = round(0.7·36) = round(25.2) = 25 positions, at round(k·36/25) = round(1.44·k).
    std::vector<bool> masked(kContent, false);
    for (int k = 0; k < 25; ++k) masked[static_cast<size_t>(std::lround(1.44 * k))] = true;
    const std::vector<int64_t> actual(r->sequence.begin() + kPrefix,
                                      r->sequence.begin() + kPrefix + kSegment);
    for (const auto* fed : {&c.cond, &c.uncond}) {
        ASSERT_EQ(fed->size(), static_cast<size_t>(kSegment));
        EXPECT_EQ((*fed)[0], 8197);
        EXPECT_EQ((*fed)[kSegment - 1], 8196);
        int mask_count = 0;
        for (int64_t i = 0; i < kContent; ++i) {
            const int64_t id = (*fed)[static_cast<size_t>(3 + i)];
            if (masked[static_cast<size_t>(i)]) {
                EXPECT_EQ(id, 9003) << "content position " << i;
                ++mask_count;
            } else {
                EXPECT_EQ(id, actual[static_cast<size_t>(3 + i)]) << "content position " << i;
            }
        }
        EXPECT_EQ(mask_count, 25);
    }
}

TEST_F(LumosPipelineTest, GumbelTemperatureDecaysAndIsNeverResetUnlessAsked) {
    // Carried temperature after step s of frame 0: prod_{k<=s} (1 − (k+1)/S) = 5/6, 5/6·4/6, …, 0.
    std::vector<double> frame0;
    double t = 1.0;
    for (int s = 0; s < kSteps; ++s) frame0.push_back(t *= 1.0 - (s + 1.0) / kSteps);
    std::vector<LumosProgress> ref, reset;
    auto a = run(request(14), 1, &ref);
    ASSERT_TRUE(a.ok()) << a.error();
    LumosRequest rr = request(14);
    rr.reset_temperature_per_frame = true;
    auto b = run(rr, 1, &reset);
    ASSERT_TRUE(b.ok()) << b.error();
    for (int s = 0; s < kSteps - 1; ++s) {
        EXPECT_NEAR(ref[static_cast<size_t>(s)].gumbel_temperature, frame0[static_cast<size_t>(s)], 1e-12);
        EXPECT_NEAR(reset[static_cast<size_t>(s)].gumbel_temperature, frame0[static_cast<size_t>(s)], 1e-12);
    }
    // Reference: 0 from the end of frame 0 on. Reset: back to 1 for frame 1, which then decays alike.
    EXPECT_EQ(ref[kSteps - 1].gumbel_temperature, 0.0);
    EXPECT_EQ(reset[kSteps - 1].gumbel_temperature, 1.0);
    for (int s = 0; s < kSteps; ++s) {
        EXPECT_EQ(ref[static_cast<size_t>(kSteps + s)].gumbel_temperature, 0.0);
        if (s < kSteps - 1) {
            EXPECT_NEAR(reset[static_cast<size_t>(kSteps + s)].gumbel_temperature,
                        frame0[static_cast<size_t>(s)], 1e-12);
        }
    }
    // Frame 0 is the same draw either way; frame 1 re-masks with noise only when reset.
    EXPECT_TRUE(std::equal(a->codes.begin(), a->codes.begin() + kCells, b->codes.begin()));
    EXPECT_FALSE(std::equal(a->codes.begin() + kCells, a->codes.end(), b->codes.begin() + kCells));
}

TEST_F(LumosPipelineTest, SameSeedSameCodesOnOneAndTwoThreads) {
    auto a = run(request(21), 1);
    auto b = run(request(21), 2);
    auto c = run(request(22), 2);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(a->codes, b->codes);
    EXPECT_EQ(a->sequence, b->sequence);
    EXPECT_NE(a->codes, c->codes);
}

TEST_F(LumosPipelineTest, CancelStopsWithinOneStep) {
    std::atomic<bool> cancel{false};
    std::vector<LumosProgress> pr;
    auto r = run(request(31), 2, &pr, &cancel, [&](const LumosProgress& p) {
        if (p.frame == 0 && p.step == 3) cancel = true;
    });
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->steps, 3);
    EXPECT_EQ(pr.size(), 3u);
    EXPECT_NE(r->sequence.back(), 9005);
    // Frame 0 has 32 − 22 cells final after three steps; frame 1 none.
    EXPECT_EQ(std::count_if(r->codes.begin(), r->codes.end(), [](int32_t k) { return k >= 0; }), kCells - 22);
}

TEST_F(LumosPipelineTest, RecipeRegeneratesTheSameCodes) {
    const LumosRequest req = request(41);
    auto a = run(req, 1);
    ASSERT_TRUE(a.ok()) << a.error();
    const nlohmann::json recipe = lumosRecipe(req, *a, {dir_, "hash", "cpu", 1});
    EXPECT_EQ(recipe["method"], "lumos-1");
    auto parsed = parseLumosRecipe(nlohmann::json::parse(recipe.dump()));
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    EXPECT_EQ(parsed->codes, a->codes);
    auto b = run(parsed->request, 2);
    ASSERT_TRUE(b.ok()) << b.error();
    EXPECT_EQ(b->codes, a->codes);
    nlohmann::json bad = recipe;
    bad["steps"] = -1;
    EXPECT_FALSE(parseLumosRecipe(bad).ok());
    bad = recipe;
    bad["method"] = "janus";
    EXPECT_FALSE(parseLumosRecipe(bad).ok());
}

TEST_F(LumosPipelineTest, ImageToVideoKeepsTheGivenFrameAndCommitsItMasked) {
    LumosRequest req = request(51);
    req.task = LumosTask::ImageToVideo;
    req.first_frame_codes.resize(kCells);
    for (int64_t i = 0; i < kCells; ++i)
        req.first_frame_codes[static_cast<size_t>(i)] = static_cast<int32_t>((i * 5) % 64);
    std::vector<LumosProgress> pr;
    auto r = run(req, 1, &pr);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->codes.size(), static_cast<size_t>(2 * kCells));
    EXPECT_TRUE(std::equal(req.first_frame_codes.begin(), req.first_frame_codes.end(), r->codes.begin()));
    ASSERT_EQ(pr.size(), static_cast<size_t>(kSteps)); // one generated frame
    EXPECT_EQ(pr[0].frame, 1);
    EXPECT_EQ(pr[0].cond_cache_length, kPrefix + kSegment);
    ASSERT_EQ(r->committed.size(), 1u);
    EXPECT_EQ(r->committed[0].frame, 0);
    EXPECT_EQ(r->committed[0].cond[3], 9003);                // content offset 0 is masked
    EXPECT_EQ(r->committed[0].cond[4], 9003);                // round(1.44) = 1
    EXPECT_EQ(r->committed[0].cond[5], 65536 + 10);          // offset 2 is kept: cell 2, code 2·5
    EXPECT_EQ(r->committed[0].uncond, r->committed[0].cond); // both branches alike
    req.first_frame_codes[0] = 64000;                        // past the 64,000 Cosmos codes
    auto bad = run(req, 1);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("64000"), std::string::npos);
}

TEST_F(LumosPipelineTest, TextToImageIsOneFrame) {
    LumosRequest req = request(61);
    req.task = LumosTask::TextToImage;
    auto r = run(req, 1);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->shape.latent_frames, 1);
    EXPECT_FLOAT_EQ(r->shape.cfg, 16.0f);
    EXPECT_EQ(r->codes.size(), static_cast<size_t>(kCells));
    EXPECT_TRUE(r->committed.empty());
    // dur = fps = 1: the prefix is 0 5 6 7 8710 9004 8805 8805.
    EXPECT_EQ(r->sequence[6], 8805);
    EXPECT_EQ(r->sequence[7], 8805);
}

TEST_F(LumosPipelineTest, MissingTokenizerAndBadModelsAreClearErrors) {
    LumosRequest req = request(71);
    req.prompt_ids.clear();
    auto r = run(req, 1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("tokenizer.json"), std::string::npos);
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = LumosPipeline::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny", **be);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("Chameleon"), std::string::npos);
}

} // namespace tessera
