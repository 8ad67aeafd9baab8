// The DiCoDe decoder side through its public loader, against the official PyTorch run
// (reference/dicode_tiny): every decoder golden via verifyDicodeDecoder, the new video ops against
// direct loops, the clip API's frame mapping, preview, cancel and bad-input errors.
#include "models/dicode_decoder_parts.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/engine.h"
#include "verify/verify_dicode_decoder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace tessera {
namespace {

const std::string kSet = std::string(TESSERA_TEST_DATA_DIR) + "/reference/dicode_tiny";

std::unique_ptr<Backend> cpu() {
    auto be = createBackend("cpu", 2);
    EXPECT_TRUE(be.ok()) << be.error();
    return std::move(*be);
}

std::vector<float> randomValues(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
}

TEST(DicodeDecoder, PassesEveryDecoderGolden) {
    auto be = cpu();
    auto report = verify::verifyDicodeDecoder(kSet, *be);
    ASSERT_TRUE(report.ok()) << report.error();
    // 7 schedule/table checks + checkpoint buffer, 4 VAE, 2 contexts, 13 U-Net activations + v, b2,
    // 2 step-0 passes, 2 × 4 chain checks + the preview.
    EXPECT_GE(report->checks.size(), 38u);
    for (const VerifyCheck& c : report->checks) {
        std::printf("%-34s max |d| %.3g (tolerance %.0e)\n", c.name.c_str(), c.max_abs_diff, c.tolerance);
        EXPECT_TRUE(c.passed) << c.name << ": max |d| " << c.max_abs_diff << " (tolerance " << c.tolerance << ") "
                              << c.detail;
    }
}

// GroupNorm across frames against a direct double-precision loop over [C/G, T, H, W].
TEST(DicodeDecoder, GroupNormFramesMatchesDirectLoop) {
    auto be = cpu();
    const int64_t b = 2, t = 3, c = 4, hw = 5, groups = 2, cpg = c / groups;
    const std::vector<float> x = randomValues(static_cast<size_t>(b * t * c * hw), 1);
    const std::vector<float> w = {1.0f, 0.5f, -2.0f, 1.5f}, bias = {0.1f, -0.2f, 0.3f, 0.0f};
    const std::vector<float> got = be->readF32(be->groupNormFrames(be->fromF32(x, {b * t, c, hw, 1}), t, groups,
                                                                   be->fromF32(w, {c}), be->fromF32(bias, {c}), 1e-5f));
    for (int64_t s = 0; s < b; ++s)
        for (int64_t g = 0; g < groups; ++g) {
            double mean = 0, var = 0, n = static_cast<double>(cpg * t * hw);
            auto idx = [&](int64_t f, int64_t ch, int64_t i) { return static_cast<size_t>(((s * t + f) * c + ch) * hw + i); };
            for (int64_t f = 0; f < t; ++f)
                for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ++ch)
                    for (int64_t i = 0; i < hw; ++i) mean += x[idx(f, ch, i)];
            mean /= n;
            for (int64_t f = 0; f < t; ++f)
                for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ++ch)
                    for (int64_t i = 0; i < hw; ++i) var += (x[idx(f, ch, i)] - mean) * (x[idx(f, ch, i)] - mean);
            var /= n;
            for (int64_t f = 0; f < t; ++f)
                for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ++ch)
                    for (int64_t i = 0; i < hw; ++i) {
                        const double want = (x[idx(f, ch, i)] - mean) / std::sqrt(var + 1e-5) * w[ch] + bias[ch];
                        EXPECT_NEAR(got[idx(f, ch, i)], want, 1e-5);
                    }
        }
}

// The (3,1,1) temporal conv against a direct loop with zero padding in time.
TEST(DicodeDecoder, TemporalConvMatchesDirectLoop) {
    auto be = cpu();
    const int64_t b = 2, t = 4, cin = 3, cout = 2, hw = 6, kt = 3;
    const std::vector<float> x = randomValues(static_cast<size_t>(b * t * cin * hw), 2);
    const std::vector<float> w = randomValues(static_cast<size_t>(cout * cin * kt), 3), bias = {0.5f, -1.0f};
    const Tensor wt = be->fromF32(w, {cout, cin, kt, 1, 1}), bt = be->fromF32(bias, {cout});
    const std::vector<float> got = be->readF32(be->temporalConv(be->fromF32(x, {b * t, cin, 2, 3}), t, wt, &bt));
    for (int64_t s = 0; s < b; ++s)
        for (int64_t f = 0; f < t; ++f)
            for (int64_t o = 0; o < cout; ++o)
                for (int64_t i = 0; i < hw; ++i) {
                    double want = bias[static_cast<size_t>(o)];
                    for (int64_t j = 0; j < kt; ++j) {
                        const int64_t src = f + j - 1;
                        if (src < 0 || src >= t) continue;
                        for (int64_t ci = 0; ci < cin; ++ci)
                            want += w[static_cast<size_t>((o * cin + ci) * kt + j)] *
                                    x[static_cast<size_t>(((s * t + src) * cin + ci) * hw + i)];
                    }
                    EXPECT_NEAR(got[static_cast<size_t>(((s * t + f) * cout + o) * hw + i)], want, 1e-4);
                }
}

// The official save: clamp(−1, 1) → (x + 1)/2·255 truncated, [1,3,T,H,W] → [T][H][W][3].
TEST(DicodeDecoder, FrameMappingTruncatesLikeTheOfficialSave) {
    // T = 2 frames of 1×1 pixel; channel-major input.
    const std::vector<float> px = {-2.0f, 1.0f, 0.0f, 0.999f, 0.5f, -0.5f};
    const DicodeFrames f = DicodeDecoder::toFrames(px, 2, 1, 1);
    ASSERT_EQ(f.rgb.size(), 6u);
    // frame 0: R = -2 → 0, G = 0 → 127 (127.5 truncated), B = 0.5 → 191 (191.25)
    EXPECT_EQ(f.rgb[0], 0);
    EXPECT_EQ(f.rgb[1], 127);
    EXPECT_EQ(f.rgb[2], 191);
    // frame 1: R = 1 → 255, G = 0.999 → 254 (254.87), B = -0.5 → 63 (63.75)
    EXPECT_EQ(f.rgb[3], 255);
    EXPECT_EQ(f.rgb[4], 254);
    EXPECT_EQ(f.rgb[5], 63);
}

TEST(DicodeDecoder, ClipWithSeedGivesPreviewsAndIsReproducible) {
    auto be = cpu();
    auto dec = DicodeDecoder::load(kSet, *be);
    ASSERT_TRUE(dec.ok()) << dec.error();
    const int64_t d = (*dec)->contextDim(), n = 4;
    const std::vector<float> a = randomValues(static_cast<size_t>(n * d), 4), b = randomValues(static_cast<size_t>(n * d), 5),
                             uc = randomValues(static_cast<size_t>(n * d), 6), text = randomValues(static_cast<size_t>(77 * d), 7);
    DicodeDecodeOptions o;
    o.steps = 2, o.eta = 1.0, o.seed = 11;
    std::vector<int64_t> seen;
    DicodeCallbacks cb;
    cb.on_step = [&](const DicodeStepEvent& e) {
        seen.push_back(e.step);
        EXPECT_EQ(e.preview.frames, (*dec)->frames());
        EXPECT_EQ(e.preview.rgb.size(), static_cast<size_t>((*dec)->frames() * (*dec)->latentHeight() *
                                                           (*dec)->latentWidth() * 3));
    };
    auto r1 = (*dec)->decodeClip(a, b, text, uc, o, cb);
    ASSERT_TRUE(r1.ok()) << r1.error();
    EXPECT_EQ(seen, (std::vector<int64_t>{0, 1}));
    EXPECT_EQ(r1->frames.frames, (*dec)->frames());
    // dicode_tiny: ch_mult [1,1,1], so the VAE upsamples 2^(3-1) = 4x.
    EXPECT_EQ(r1->frames.height, 4 * (*dec)->latentHeight());
    auto r2 = (*dec)->decodeClip(a, b, text, uc, o);
    ASSERT_TRUE(r2.ok()) << r2.error();
    EXPECT_EQ(r1->frames.rgb, r2->frames.rgb);
    o.seed = 12;
    auto r3 = (*dec)->decodeClip(a, b, text, uc, o);
    ASSERT_TRUE(r3.ok()) << r3.error();
    EXPECT_NE(r1->final_latent, r3->final_latent);
}

// The context's keys and values computed once per clip (verify's DDIM goldens run that path) or at every
// U-Net call (verify's U-Net goldens run that one) give the same clip.
TEST(DicodeDecoder, ContextReuseDoesNotChangeTheClip) {
    auto be = cpu();
    auto dec = DicodeDecoder::load(kSet, *be);
    ASSERT_TRUE(dec.ok()) << dec.error();
    const int64_t d = (*dec)->contextDim(), n = 4;
    const std::vector<float> a = randomValues(static_cast<size_t>(n * d), 14), b = randomValues(static_cast<size_t>(n * d), 15),
                             uc = randomValues(static_cast<size_t>(n * d), 16), text = randomValues(static_cast<size_t>(77 * d), 17);
    DicodeDecodeOptions o;
    o.steps = 3, o.eta = 1.0, o.seed = 5;
    auto reused = (*dec)->decodeClip(a, b, text, uc, o);
    ASSERT_TRUE(reused.ok()) << reused.error();
    o.reuse_context = false;
    auto recomputed = (*dec)->decodeClip(a, b, text, uc, o);
    ASSERT_TRUE(recomputed.ok()) << recomputed.error();
    ASSERT_EQ(reused->pixels.size(), recomputed->pixels.size());
    float worst = 0;
    for (size_t i = 0; i < reused->pixels.size(); ++i)
        worst = std::max(worst, std::fabs(reused->pixels[i] - recomputed->pixels[i]));
    EXPECT_LE(worst, 1e-5f);
}

TEST(DicodeDecoder, CancelAndBadInputsGiveErrors) {
    auto be = cpu();
    auto dec = DicodeDecoder::load(kSet, *be);
    ASSERT_TRUE(dec.ok()) << dec.error();
    const int64_t d = (*dec)->contextDim();
    const std::vector<float> a(static_cast<size_t>(4 * d), 0.1f), text(static_cast<size_t>(77 * d), 0.0f);
    std::atomic<bool> cancel{true};
    DicodeCallbacks cb;
    cb.cancel = &cancel;
    DicodeDecodeOptions o;
    o.steps = 3;
    auto r = (*dec)->decodeClip(a, a, text, a, o, cb);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("cancelled"), std::string::npos);
    auto bad = (*dec)->decodeClip(a, std::vector<float>(5, 0.0f), text, a, o);
    ASSERT_FALSE(bad.ok());
    o.steps = 0;
    EXPECT_FALSE((*dec)->decodeClip(a, a, text, a, o).ok());
    EXPECT_FALSE(DicodeDecoder::load(kSet + "/no_such_folder", *be).ok());
}

} // namespace
} // namespace tessera
