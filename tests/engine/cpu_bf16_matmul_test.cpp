// Matrix products with bf16 activations (Backend::setActivationDtype(BF16)) on the CPU backend: values
// against a double-precision loop over the bf16-rounded inputs (the rounding re-derived here from its
// definition, nearest representable value with ties to even), the rounding really applied, and the
// same bits whatever the thread count and the number of rows. The suite runs twice under ctest: as
// the machine chooses (AMX where present) and with TESSERA_CPU_NO_AMX=1 (the f32 path).
#include "cpu/cpu_bf16_matmul.h"
#include "tessera/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace tessera {

namespace {

std::vector<float> randomValues(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

uint16_t bf16Bits(float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return static_cast<uint16_t>(u >> 16);
}

float fromBits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// The bf16 value nearest to v (finite v): of the two bf16 neighbours (truncation and the next value
// away from zero), the closer one; on a tie the one whose last mantissa bit is 0.
double nearestBf16(float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    const double a = fromBits(lo), b = fromBits(hi), x = v;
    const double da = std::fabs(x - a), db = std::fabs(x - b);
    if (da < db) return a;
    if (db < da) return b;
    return ((lo >> 16) & 1u) ? b : a;
}

struct Problem {
    std::vector<float> x;       // activations [m, k]
    std::vector<uint16_t> w;    // bf16 weights [n, k]
    int64_t m, n, k;
};

Problem makeProblem(int64_t m, int64_t n, int64_t k, unsigned seed) {
    Problem p{randomValues(static_cast<size_t>(m * k), seed), {}, m, n, k};
    for (float v : randomValues(static_cast<size_t>(n * k), seed + 100)) p.w.push_back(bf16Bits(v));
    return p;
}

std::vector<float> runBf16(const Problem& p, int threads, int64_t rows) {
    auto be = createBackend("cpu", threads);
    EXPECT_TRUE(be.ok());
    (*be)->setActivationDtype(DType::BF16);
    EXPECT_EQ((*be)->activationDtype(), DType::BF16);
    std::vector<float> x(p.x.begin(), p.x.begin() + rows * p.k);
    Tensor xt = (*be)->fromF32(x, {rows, p.k});
    Tensor wt = (*be)->uploadMatrix(p.w.data(), DType::BF16, {p.n, p.k});
    return (*be)->readF32((*be)->matmul(xt, wt));
}

struct Shape3 {
    int64_t m, n, k;
};

} // namespace

class CpuBf16Matmul : public ::testing::TestWithParam<Shape3> {};

TEST_P(CpuBf16Matmul, MatchesDoublePrecisionOnRoundedInputs) {
    const auto [m, n, k] = GetParam();
    Problem p = makeProblem(m, n, k, 7);
    auto y = runBf16(p, 2, m);
    ASSERT_EQ(y.size(), static_cast<size_t>(m * n));
    RecordProperty("path", cpu::bf16MatmulPath());
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double ref = 0;
            for (int64_t t = 0; t < k; ++t)
                ref += nearestBf16(p.x[static_cast<size_t>(i * k + t)]) *
                       static_cast<double>(fromBits(uint32_t{p.w[static_cast<size_t>(j * k + t)]} << 16));
            ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], ref, 2e-6 * std::sqrt(static_cast<double>(k)) + 1e-6)
                << "row " << i << " feature " << j << " on path " << cpu::bf16MatmulPath();
        }
}

// Row counts below, at and above one tile (16) and two (32); weight rows with a partial tile; k with a
// partial 32-wide slice and k below one slice; a Janus-sized k.
INSTANTIATE_TEST_SUITE_P(Shapes, CpuBf16Matmul,
                         ::testing::Values(Shape3{1, 16, 32}, Shape3{2, 48, 64}, Shape3{17, 40, 70},
                                           Shape3{32, 64, 2048}, Shape3{40, 33, 96}, Shape3{5, 7, 20},
                                           Shape3{3, 130, 5632}));

// 1 + 2^-10 is not a bf16 value and rounds to 1: a product that used the f32 activation would give
// k · (1 + 2^-10).
TEST(CpuBf16MatmulRounding, ActivationsAreRoundedToBf16) {
    const int64_t k = 64, n = 16;
    Problem p{std::vector<float>(static_cast<size_t>(k), 1.0f + std::ldexp(1.0f, -10)),
              std::vector<uint16_t>(static_cast<size_t>(n * k), bf16Bits(1.0f)), 1, n, k};
    auto y = runBf16(p, 1, 1);
    for (float v : y) EXPECT_EQ(v, static_cast<float>(k));
}

TEST(CpuBf16MatmulRounding, F32ActivationsStayTheDefault) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EXPECT_EQ((*be)->activationDtype(), DType::F32);
    EXPECT_THROW((*be)->setActivationDtype(DType::F16), Error);
}

// Output features are split over threads, never k; a row's sums never see the other rows. (The f32
// path hands more than gemvMaxRows() rows to BLAS, whose sums differ from the GEMV's: rows are then
// compared only up to that limit.)
TEST(CpuBf16MatmulBits, SameBitsForAnyThreadAndRowCount) {
    const int64_t m = 40, n = 96, k = 2048 + 48;
    Problem p = makeProblem(m, n, k, 11);
    auto one = runBf16(p, 1, m);
    for (int threads : {2, 3}) EXPECT_EQ(runBf16(p, threads, m), one) << threads << " threads";
    const bool amx = std::strcmp(cpu::bf16MatmulPath(), "amx") == 0;
    const int64_t limit = amx ? m : std::min<int64_t>(m, cpu::gemvMaxRows());
    auto full = runBf16(p, 2, limit);
    for (int64_t rows : {int64_t{1}, int64_t{2}, std::min<int64_t>(17, limit)}) {
        auto part = runBf16(p, 2, rows);
        for (int64_t i = 0; i < rows * n; ++i)
            ASSERT_EQ(part[static_cast<size_t>(i)], full[static_cast<size_t>(i)]) << rows << " rows, element " << i;
    }
}

} // namespace tessera
