// Streaming-read memory bandwidth: the denominator of the decode floor.
#include "tessera/engine/bench.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TESSERA_BENCH_AVX2 1
#endif

namespace tessera::bench {

namespace {

// Four-wide float vectors (SSE2, part of every x86-64 and of NEON): wide enough to saturate memory,
// and no ABI questions when the build targets the baseline ISA.
typedef float F4 __attribute__((vector_size(16)));

// Eight independent accumulators keep loads, not add latency, the limit.
float sumFloats(const float* p, size_t n) {
    F4 acc[8] = {};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int a = 0; a < 8; ++a) {
            F4 v;
            std::memcpy(&v, p + i + 4 * a, sizeof v);
            acc[a] += v;
        }
    }
    F4 total = {};
    for (const F4& a : acc) total += a;
    float s = total[0] + total[1] + total[2] + total[3];
    for (; i < n; ++i) s += p[i];
    return s;
}

#if TESSERA_BENCH_AVX2
// Wider loads where the CPU has them: the floor should be the best streaming read this machine does,
// not one limited by the instruction set the build targets.
__attribute__((target("avx2"))) float sumFloatsAvx2(const float* p, size_t n) {
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int a = 0; a < 8; ++a) acc[a] = _mm256_add_ps(acc[a], _mm256_loadu_ps(p + i + 8 * a));
    for (int a = 1; a < 8; ++a) acc[0] = _mm256_add_ps(acc[0], acc[a]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    float s = 0;
    for (float v : lanes) s += v;
    for (; i < n; ++i) s += p[i];
    return s;
}
#endif

float sumStream(const float* p, size_t n) {
#if TESSERA_BENCH_AVX2
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return sumFloatsAvx2(p, n);
#endif
    return sumFloats(p, n);
}

template <class Fn> void onThreads(int threads, Fn fn) {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
    fn(0);
    for (auto& th : pool) th.join();
}

} // namespace

Expected<BandwidthResult> measureReadBandwidth(size_t bytes, int threads, int passes) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (passes <= 0) passes = 1;
    const size_t n = std::max<size_t>(bytes / sizeof(float), 1024) / 1024 * 1024;
    auto* buf = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    if (!buf)
        return Status::error("out of memory allocating the " + std::to_string(n * 4 >> 20) +
                             " MiB bandwidth buffer (try a smaller --bandwidth-mb)");
    std::unique_ptr<float, decltype(&std::free)> hold(buf, &std::free);
    auto share = [&](int t, size_t& begin, size_t& end) {
        begin = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
        end = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
    };
    // Each thread touches its own share first, so the pages are resident before timing starts.
    onThreads(threads, [&](int t) {
        size_t b, e;
        share(t, b, e);
        for (size_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 7);
    });
    std::vector<float> sums(static_cast<size_t>(threads));
    BandwidthResult r;
    r.bytes = n * sizeof(float);
    r.threads = threads;
    r.passes = passes;
    volatile float sink = 0;
    for (int p = 0; p < passes; ++p) {
        auto t0 = std::chrono::steady_clock::now();
        onThreads(threads, [&](int t) {
            size_t b, e;
            share(t, b, e);
            sums[static_cast<size_t>(t)] = sumStream(buf + b, e - b);
        });
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        for (float v : sums) sink = sink + v;
        if (s > 0) r.gb_per_s = std::max(r.gb_per_s, static_cast<double>(r.bytes) / s / 1e9);
    }
    return r;
}

} // namespace tessera::bench
