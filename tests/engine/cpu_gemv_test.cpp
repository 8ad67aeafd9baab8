// The CPU backend's decode-time matmul (few rows against a weight matrix) and its thread pool: values
// against a plain double-precision loop, and identical bits whatever the thread count.
#include "cpu/thread_pool.h"
#include "tessera/engine/engine.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <cmath>
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

std::vector<float> matmulOn(int threads, const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>* bias, int64_t m, int64_t n, int64_t k) {
    auto be = createBackend("cpu", threads);
    EXPECT_TRUE(be.ok());
    Tensor xt = (*be)->fromF32(x, {m, k});
    Tensor wt = (*be)->fromF32(w, {n, k});
    Tensor bt;
    if (bias) bt = (*be)->fromF32(*bias, {n});
    return (*be)->readF32((*be)->matmul(xt, wt, bias ? &bt : nullptr));
}

} // namespace

struct MatmulShape {
    int64_t m, n, k;
};

class CpuMatmul : public ::testing::TestWithParam<MatmulShape> {};

// Shapes cover one and several activation rows (odd counts too), k with and without vector tails,
// and the hand-over to BLAS above the GEMV row limit.
TEST_P(CpuMatmul, MatchesDoublePrecisionLoop) {
    const auto [m, n, k] = GetParam();
    auto x = randomValues(static_cast<size_t>(m * k), 1);
    auto w = randomValues(static_cast<size_t>(n * k), 2);
    auto bias = randomValues(static_cast<size_t>(n), 3);
    auto y = matmulOn(2, x, w, &bias, m, n, k);
    ASSERT_EQ(y.size(), static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double ref = bias[static_cast<size_t>(j)];
            for (int64_t t = 0; t < k; ++t)
                ref += static_cast<double>(x[static_cast<size_t>(i * k + t)]) *
                       w[static_cast<size_t>(j * k + t)];
            ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], ref,
                        1e-5 * std::sqrt(static_cast<double>(k)) + 1e-5)
                << "row " << i << " feature " << j;
        }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CpuMatmul,
                         ::testing::Values(MatmulShape{1, 100, 37}, MatmulShape{1, 513, 768},
                                           MatmulShape{2, 257, 64}, MatmulShape{3, 64, 1000},
                                           MatmulShape{8, 33, 5}, MatmulShape{9, 70, 48},
                                           MatmulShape{1, 7, 3}, MatmulShape{32, 100, 2056},
                                           MatmulShape{65, 40, 300}));

// Each output of a batch must be the same bits as the same row alone: the register-blocked kernel for
// batches keeps the one-row loop's arithmetic, so a token never depends on how many images share a
// step (up to the row count handed to BLAS).
TEST(CpuMatmul, EveryRowOfABatchEqualsTheRowAlone) {
    const int64_t n = 77, k = 1000 + 8 + 5; // 32-blocks, an 8-block tail and a scalar tail
    auto w = randomValues(static_cast<size_t>(n * k), 8);
    for (int64_t m : {2, 4, 7, 32, 64}) {
        auto x = randomValues(static_cast<size_t>(m * k), 9);
        auto all = matmulOn(2, x, w, nullptr, m, n, k);
        for (int64_t i = 0; i < m; ++i) {
            std::vector<float> row(x.begin() + i * k, x.begin() + (i + 1) * k);
            auto alone = matmulOn(2, row, w, nullptr, 1, n, k);
            for (int64_t j = 0; j < n; ++j)
                ASSERT_EQ(all[static_cast<size_t>(i * n + j)], alone[static_cast<size_t>(j)]) << "m " << m << " row " << i;
        }
    }
}

TEST(CpuMatmul, SameBitsWhateverTheThreadCount) {
    for (int64_t m : {1, 2, 3, 17, 64}) { // 17, 64: BLAS
        const int64_t n = 1001, k = 515;  // uneven chunks, vector tails
        auto x = randomValues(static_cast<size_t>(m * k), 4);
        auto w = randomValues(static_cast<size_t>(n * k), 5);
        auto first = matmulOn(1, x, w, nullptr, m, n, k);
        for (int threads : {2, 3, 4}) EXPECT_EQ(matmulOn(threads, x, w, nullptr, m, n, k), first) << threads;
    }
}

TEST(ThreadPool, EveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3, 5}) {
        cpu::ThreadPool pool(threads);
        for (int64_t n : {1, 2, 7, 64, 1000}) {
            for (int64_t grain : {1, 3, 100}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                for (int rep = 0; rep < 50; ++rep)
                    pool.parallelFor(n, grain, [&](int64_t b, int64_t e) {
                        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
                    });
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 50)
                        << threads << " threads, n " << n << " grain " << grain;
            }
        }
    }
}

// The studio leaves a core to the GUI by lowering the active thread count while a job runs: loops
// then run on that many threads (the caller alone at 1), and results keep their bits.
TEST(ThreadPool, ActiveThreadsLimitWhoRunsALoop) {
    cpu::ThreadPool pool(3);
    EXPECT_EQ(pool.activeThreads(), 3);
    pool.setActiveThreads(1);
    EXPECT_EQ(pool.activeThreads(), 1);
    std::mutex m;
    std::set<std::thread::id> ran_on;
    for (int rep = 0; rep < 20; ++rep)
        pool.parallelFor(1000, 1, [&](int64_t, int64_t) {
            std::lock_guard<std::mutex> lock(m);
            ran_on.insert(std::this_thread::get_id());
        });
    EXPECT_EQ(ran_on, std::set<std::thread::id>{std::this_thread::get_id()});
    pool.setActiveThreads(0);
    EXPECT_EQ(pool.activeThreads(), 3);
    pool.setActiveThreads(99);
    EXPECT_EQ(pool.activeThreads(), 3);
}

TEST(CpuMatmul, SameBitsWithFewerActiveThreads) {
    const int64_t m = 2, n = 300, k = 513;
    auto x = randomValues(static_cast<size_t>(m * k), 4);
    auto w = randomValues(static_cast<size_t>(n * k), 5);
    auto be = createBackend("cpu", 3);
    ASSERT_TRUE(be.ok());
    Tensor xt = (*be)->fromF32(x, {m, k});
    Tensor wt = (*be)->fromF32(w, {n, k});
    auto all = (*be)->readF32((*be)->matmul(xt, wt));
    (*be)->setActiveThreads(1);
    EXPECT_EQ((*be)->activeThreads(), 1);
    EXPECT_EQ((*be)->readF32((*be)->matmul(xt, wt)), all);
}

} // namespace tessera
