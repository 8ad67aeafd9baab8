// Decode-time GEMV: memory-bound, so the aim is one pass over the weights at full bandwidth.
#include "cpu/cpu_gemv.h"

#include <algorithm>
#include <cstring>

namespace tessera::cpu {

namespace {

// Four floats: SSE2 on any x86-64, NEON on arm64. Memory, not arithmetic width, limits these loops.
typedef float F4 __attribute__((vector_size(16)));

inline F4 load4(const float* p) {
    F4 v;
    std::memcpy(&v, p, sizeof v); // unaligned load: checkpoint rows need only 4-byte alignment
    return v;
}

// The one reduction order every output uses: lane-wise partial sums over k in steps of four, the
// lanes added pairwise, then the k % 4 tail.
inline float finish(F4 acc, const float* w, const float* x, int64_t k4, int64_t k) {
    float s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (int64_t i = k4; i < k; ++i) s += w[i] * x[i];
    return s;
}

// R weight rows at once: R independent accumulation chains, and R streams for the prefetcher.
template <int R> void dotRows(const float* x, const float* w, int64_t k, float* y, int64_t y_stride) {
    const int64_t k4 = k / 4 * 4;
    F4 acc[R] = {};
    for (int64_t i = 0; i < k4; i += 4) {
        const F4 xv = load4(x + i);
        for (int r = 0; r < R; ++r) acc[r] += load4(w + r * k + i) * xv;
    }
    for (int r = 0; r < R; ++r) y[r * y_stride] = finish(acc[r], w + r * k, x, k4, k);
}

void gemvRange(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y, int64_t begin,
               int64_t end) {
    // Blocks of four weight rows, each block used for every activation row while it is in cache.
    constexpr int64_t kBlock = 4;
    int64_t j = begin;
    for (; j + kBlock <= end; j += kBlock)
        for (int64_t i = 0; i < m; ++i) dotRows<kBlock>(x + i * k, w + j * k, k, y + i * n + j, 1);
    for (; j < end; ++j)
        for (int64_t i = 0; i < m; ++i) dotRows<1>(x + i * k, w + j * k, k, y + i * n + j, 1);
}

} // namespace

void gemvRows(ThreadPool& pool, const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
    if (m <= 0 || n <= 0) return;
    // At least ~64 KB of weights per chunk, so the fork/join cost stays small against the streaming.
    const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 14) / std::max<int64_t>(k, 1));
    pool.parallelFor(n, grain, [&](int64_t b, int64_t e) { gemvRange(x, m, w, n, k, y, b, e); });
}

} // namespace tessera::cpu
