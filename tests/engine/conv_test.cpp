// The CPU backend's tiled conv2d: against a direct convolution written here (double accumulation) on
// odd shapes, identical across thread counts, and within its documented scratch bound on a large image
// (checked by the backend's own counter and by the process's peak resident memory).
#include "cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace tessera {
namespace {

std::vector<float> randomVec(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

struct ConvCase {
    int64_t batch, cin, h, w, cout, k;
    int stride, pad;
    bool bias;
};

// y[b, o, oy, ox] = bias[o] + sum_{c, ky, kx} w[o, c, ky, kx] · x[b, c, oy·s − p + ky, ox·s − p + kx],
// zero outside the image.
std::vector<double> directConv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& wt,
                               const std::vector<float>& bias, int64_t& ho, int64_t& wo) {
    ho = (c.h + 2 * c.pad - c.k) / c.stride + 1;
    wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    std::vector<double> y(static_cast<size_t>(c.batch * c.cout * ho * wo));
    for (int64_t b = 0; b < c.batch; ++b)
        for (int64_t o = 0; o < c.cout; ++o)
            for (int64_t oy = 0; oy < ho; ++oy)
                for (int64_t ox = 0; ox < wo; ++ox) {
                    double s = c.bias ? bias[static_cast<size_t>(o)] : 0.0;
                    for (int64_t ci = 0; ci < c.cin; ++ci)
                        for (int64_t ky = 0; ky < c.k; ++ky)
                            for (int64_t kx = 0; kx < c.k; ++kx) {
                                const int64_t iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
                                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                                s += double(wt[static_cast<size_t>(((o * c.cin + ci) * c.k + ky) * c.k + kx)]) *
                                     double(x[static_cast<size_t>(((b * c.cin + ci) * c.h + iy) * c.w + ix)]);
                            }
                    y[static_cast<size_t>(((b * c.cout + o) * ho + oy) * wo + ox)] = s;
                }
    return y;
}

std::vector<float> runConv(cpu::CpuBackend& be, const ConvCase& c, const std::vector<float>& x,
                           const std::vector<float>& wt, const std::vector<float>& bias) {
    Tensor tb = be.fromF32(bias, {c.cout});
    Tensor y = be.conv2d(be.fromF32(x, {c.batch, c.cin, c.h, c.w}), be.fromF32(wt, {c.cout, c.cin, c.k, c.k}),
                         c.bias ? &tb : nullptr, c.stride, c.pad);
    return be.readF32(y);
}

TEST(TiledConv, MatchesDirectConvolutionOnOddShapes) {
    // Widths and pixel counts that are not multiples of the tile (64-column multiples), tiles that
    // wrap across output rows, stride 2 with odd sides, 1x1 with stride and padding.
    const std::vector<ConvCase> cases = {
        {2, 3, 37, 29, 5, 3, 1, 1, true},   {1, 5, 13, 71, 7, 3, 2, 1, true}, {1, 4, 33, 35, 6, 3, 2, 0, false},
        {2, 7, 19, 23, 4, 1, 1, 0, true},   {1, 6, 17, 9, 3, 1, 2, 1, true},  {1, 3, 5, 130, 2, 3, 1, 0, true},
        {1, 2, 3, 3, 3, 3, 1, 1, false},    {1, 33, 40, 41, 9, 3, 1, 1, true},
    };
    cpu::CpuBackend be(2);
    uint32_t seed = 1;
    for (const ConvCase& c : cases) {
        SCOPED_TRACE("batch " + std::to_string(c.batch) + " cin " + std::to_string(c.cin) + " " +
                     std::to_string(c.h) + "x" + std::to_string(c.w) + " cout " + std::to_string(c.cout) +
                     " k " + std::to_string(c.k) + " stride " + std::to_string(c.stride) + " pad " +
                     std::to_string(c.pad));
        auto x = randomVec(static_cast<size_t>(c.batch * c.cin * c.h * c.w), seed++);
        auto wt = randomVec(static_cast<size_t>(c.cout * c.cin * c.k * c.k), seed++);
        auto bias = randomVec(static_cast<size_t>(c.cout), seed++);
        int64_t ho = 0, wo = 0;
        std::vector<double> want = directConv(c, x, wt, bias, ho, wo);
        std::vector<float> got = runConv(be, c, x, wt, bias);
        ASSERT_EQ(got.size(), want.size());
        // f32 sums of up to Cin·9 products of values in [-1, 1].
        const double tol = 1e-5 * double(c.cin * c.k * c.k);
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "at " << i;
    }
}

TEST(TiledConv, IdenticalAcrossThreadCounts) {
    const ConvCase c{2, 24, 45, 51, 16, 3, 1, 1, true};
    auto x = randomVec(static_cast<size_t>(c.batch * c.cin * c.h * c.w), 7);
    auto wt = randomVec(static_cast<size_t>(c.cout * c.cin * 9), 8);
    auto bias = randomVec(static_cast<size_t>(c.cout), 9);
    cpu::CpuBackend one(1);
    const std::vector<float> base = runConv(one, c, x, wt, bias);
    for (int threads : {2, 3, 5}) {
        cpu::CpuBackend be(threads);
        const std::vector<float> got = runConv(be, c, x, wt, bias);
        ASSERT_EQ(got.size(), base.size());
        for (size_t i = 0; i < got.size(); ++i)
            ASSERT_EQ(got[i], base[i]) << threads << " threads, at " << i; // bit-identical
    }
}

TEST(TiledConv, TileWidthDependsOnShapeOnly) {
    // Bounded by the budget for wide kernels, at least one 64-column block, and never the thread count
    // (a static function of the shape).
    EXPECT_EQ(cpu::CpuBackend::convTileColumns(512 * 9, 1 << 20) % 64, 0);
    EXPECT_LE(size_t(cpu::CpuBackend::convTileColumns(512 * 9, 1 << 20)) * 512 * 9 * 4,
              cpu::CpuBackend::kConvScratchBudgetBytes);
    EXPECT_EQ(cpu::CpuBackend::convTileColumns(1 << 20, 1 << 20), 64);
    EXPECT_EQ(cpu::CpuBackend::convScratchBoundBytes(1 << 20), size_t{1 << 20} * 64 * 4);
    EXPECT_EQ(cpu::CpuBackend::convScratchBoundBytes(9), cpu::CpuBackend::kConvScratchBudgetBytes);
}

// Peak resident set (VmHWM) in bytes, or -1 where /proc is unavailable.
long long peakResidentBytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return -1;
}

// Resets VmHWM to the current resident set (Linux >= 4.0); false where that is not possible.
bool resetPeakResident() {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

TEST(TiledConv, ScratchStaysWithinTheBoundOnALargeImage) {
    // 3x3 conv, 64 -> 8 channels at 512²: a whole-image im2col would be 576 × 262144 floats (604 MB).
    const ConvCase c{1, 64, 512, 512, 8, 3, 1, 1, true};
    const int threads = 2;
    cpu::CpuBackend be(threads);
    auto wt = randomVec(static_cast<size_t>(c.cout * c.cin * 9), 3);
    Tensor tw = be.fromF32(wt, {c.cout, c.cin, 3, 3});
    Tensor tb = be.fromF32(randomVec(static_cast<size_t>(c.cout), 4), {c.cout});
    Tensor tx;
    {
        std::vector<float> x = randomVec(static_cast<size_t>(c.cin * c.h * c.w), 5);
        tx = be.fromF32(x, {1, c.cin, c.h, c.w});
    }
    const size_t out_bytes = size_t(c.cout * c.h * c.w) * 4;
    const size_t full_im2col = size_t(c.cin * 9) * size_t(c.h * c.w) * 4;
    const size_t bound = size_t(threads) * cpu::CpuBackend::convScratchBoundBytes(c.cin * 9);
    ASSERT_LT(bound * 10, full_im2col);

    be.resetConvScratchPeak();
    const bool hwm = resetPeakResident();
    const long long rss_before = peakResidentBytes();
    const size_t allocated_before = be.allocatedBytes();
    Tensor y = be.conv2d(tx, tw, &tb, 1, 1);
    const long long rss_peak = peakResidentBytes();

    EXPECT_GT(be.convScratchPeakBytes(), 0u);
    EXPECT_LE(be.convScratchPeakBytes(), bound);
    EXPECT_EQ(be.allocatedBytes() - allocated_before, out_bytes); // only the output is a backend tensor
    if (hwm && rss_before > 0) {
        // The process's own peak memory: output + scratch, plus slack for the allocator and BLAS buffers.
        const long long grew = rss_peak - rss_before;
        std::printf("conv 64->8 3x3 at 512²: scratch peak %zu bytes (bound %zu), resident peak grew %lld bytes; "
                    "whole im2col would be %zu\n",
                    be.convScratchPeakBytes(), bound, grew, full_im2col);
        EXPECT_LT(grew, static_cast<long long>(out_bytes + bound + (size_t{64} << 20)));
    } else {
        std::printf("peak resident set cannot be reset here; checked the scratch counter only\n");
    }

    // And the values of a few output pixels against the direct sum, so the large run is the real conv.
    std::vector<float> got = be.readF32(y);
    std::vector<float> x = be.readF32(tx);
    std::vector<float> bias = be.readF32(tb);
    for (int64_t probe : {int64_t{0}, int64_t{511}, int64_t{512 * 300 + 17}, int64_t{512 * 512 - 1}}) {
        const int64_t oy = probe / c.w, ox = probe % c.w;
        for (int64_t o = 0; o < c.cout; ++o) {
            double s = bias[static_cast<size_t>(o)];
            for (int64_t ci = 0; ci < c.cin; ++ci)
                for (int64_t ky = 0; ky < 3; ++ky)
                    for (int64_t kx = 0; kx < 3; ++kx) {
                        const int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;
                        if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                        s += double(wt[static_cast<size_t>(((o * c.cin + ci) * 3 + ky) * 3 + kx)]) *
                             double(x[static_cast<size_t>((ci * c.h + iy) * c.w + ix)]);
                    }
            ASSERT_NEAR(got[static_cast<size_t>(o * c.h * c.w + probe)], s, 1e-3) << "pixel " << probe;
        }
    }
}

} // namespace
} // namespace tessera
