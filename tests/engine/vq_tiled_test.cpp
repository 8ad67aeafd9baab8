// Tiled Janus VQ decode against the whole-grid decode of the same codes (the path the reference sets
// check), on the janus_tiny VQ model: exact when the halo reaches past every border, close in the
// tile interiors with a small halo and no worse at the tile borders (the differences are printed).
#include "models/janus_parts.h"
#include "tessera/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace tessera {
namespace {

const std::string kRef = std::string(TESSERA_TEST_DATA_DIR) + "/reference/";

class VqTiled : public ::testing::Test {
protected:
    void SetUp() override {
        auto b = createBackend("cpu", 2);
        ASSERT_TRUE(b.ok()) << b.error();
        be = std::move(*b);
        auto c = Checkpoint::open(kRef + "janus_tiny");
        ASSERT_TRUE(c.ok()) << c.error();
        ckpt = std::make_unique<Checkpoint>(std::move(*c));
        janus::Binder wb(*ckpt, *be, janus::Layout::Transformers);
        vq.load(wb, *be);
        Status s = wb.finish();
        ASSERT_TRUE(s.ok()) << s.message();
        ASSERT_GE(vq.downsample(), 2);
    }

    Tensor randomCodes(int64_t h, int64_t w, uint32_t seed) {
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int64_t> d(0, vq.codebookSize() - 1);
        std::vector<int64_t> ids(static_cast<size_t>(h * w));
        for (auto& id : ids) id = d(rng);
        return vq.codesFor(*be, be->fromI64(ids, {1, h * w}), h, w);
    }

    std::unique_ptr<Backend> be;
    std::unique_ptr<Checkpoint> ckpt;
    janus::VqModel vq;
};

TEST_F(VqTiled, HaloPastEveryBorderReproducesTheWholeDecode) {
    // Tiles of 5 tokens on a 12x13 grid (neither a multiple of 5), each window clipped to the whole
    // grid: every pixel must come out where, and as, the whole decode puts it.
    const Tensor codes = randomCodes(12, 13, 1);
    const std::vector<float> whole = be->readF32(vq.decodeCodes(*be, codes));
    const Tensor tiled = vq.decodeCodesTiled(*be, codes, {5, 13});
    const int64_t f = vq.downsample();
    ASSERT_EQ(tiled.shape(), (Shape{1, 3, 12 * f, 13 * f}));
    const std::vector<float> got = be->readF32(tiled);
    ASSERT_EQ(got.size(), whole.size());
    // Every window is the whole grid: the blend averages identical values (exact up to rounding).
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], whole[i], 1e-6f) << "at " << i;
}

struct TiledError {
    double range = 0;    // max - min of the whole decode
    double interior = 0; // max |tiled - whole| more than one token from every tile border
    double seam = 0;     // the same within one token of a tile border
};

TEST_F(VqTiled, SmallHaloIsCloseAndLeavesNoSeam) {
    // janus_tiny's decoder has attention and GroupNorm over the whole image, so a window never sees
    // exactly what the whole decode sees: tiled pixels differ everywhere, less with a larger halo. No
    // seam: the pixels at tile borders must not be worse than the tile interiors.
    const int64_t h = 24, w = 22, tile = 8, f = vq.downsample();
    const Tensor codes = randomCodes(h, w, 2);
    const std::vector<float> whole = be->readF32(vq.decodeCodes(*be, codes));
    auto measure = [&](int64_t halo) {
        const std::vector<float> got = be->readF32(vq.decodeCodesTiled(*be, codes, {tile, halo}));
        EXPECT_EQ(got.size(), whole.size());
        TiledError e;
        const auto [lo, hi] = std::minmax_element(whole.begin(), whole.end());
        e.range = double(*hi) - double(*lo);
        const int64_t ph = h * f, pw = w * f;
        auto nearBorder = [&](int64_t p, int64_t side) {
            const int64_t r = p % (tile * f);
            return (r < f && p >= tile * f) || (r >= tile * f - f && p + f < side);
        };
        for (int64_t c = 0; c < 3 && got.size() == whole.size(); ++c)
            for (int64_t y = 0; y < ph; ++y)
                for (int64_t x = 0; x < pw; ++x) {
                    const size_t i = static_cast<size_t>((c * ph + y) * pw + x);
                    double& worst = nearBorder(y, ph) || nearBorder(x, pw) ? e.seam : e.interior;
                    worst = std::max(worst, std::fabs(double(got[i]) - double(whole[i])));
                }
        std::printf("janus_tiny %lldx%lld tokens, tile %lld, halo %lld: output range %.4g; max |tiled - whole| "
                    "%.3g in tile interiors, %.3g within one token of a tile border\n",
                    static_cast<long long>(h), static_cast<long long>(w), static_cast<long long>(tile),
                    static_cast<long long>(halo), e.range, e.interior, e.seam);
        return e;
    };
    const TiledError narrow = measure(2), wide = measure(8);
    ASSERT_GT(wide.range, 0.0);
    EXPECT_LT(wide.interior, narrow.interior);
    EXPECT_LT(wide.seam, narrow.seam);
    EXPECT_LT(wide.interior, 0.1 * wide.range);
    EXPECT_LT(wide.seam, 0.1 * wide.range);
    // With the default halo the cross-faded borders are no worse than the interiors (25% margin); a
    // 2-token halo is too short for that and is only required to be worse than 8.
    EXPECT_LE(wide.seam, 1.25 * wide.interior);
}

TEST_F(VqTiled, RejectsBadTiling) {
    const Tensor codes = randomCodes(4, 4, 3);
    EXPECT_THROW(vq.decodeCodesTiled(*be, codes, {0, 2}), Error);
    EXPECT_THROW(vq.decodeCodesTiled(*be, codes, {2, -1}), Error);
}

} // namespace
} // namespace tessera
