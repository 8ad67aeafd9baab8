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

// One weight row against MR activation rows. The weight row is read once, front to back: a single
// sequential stream is what the hardware prefetchers serve best (interleaving several weight rows
// measured at half the bandwidth). Every output uses the same reduction order whatever MR is: four
// lane-wise partial sums over 16-float blocks, then 4-float steps, then pairwise, then the scalar tail.
template <int MR>
void dotRow(const float* x, int64_t x_stride, const float* w, int64_t k, float* y, int64_t y_stride) {
    F4 acc[MR][4] = {};
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const F4 w0 = load4(w + i), w1 = load4(w + i + 4), w2 = load4(w + i + 8), w3 = load4(w + i + 12);
        for (int r = 0; r < MR; ++r) {
            const float* xr = x + r * x_stride + i;
            acc[r][0] += w0 * load4(xr);
            acc[r][1] += w1 * load4(xr + 4);
            acc[r][2] += w2 * load4(xr + 8);
            acc[r][3] += w3 * load4(xr + 12);
        }
    }
    for (; i + 4 <= k; i += 4) {
        const F4 wv = load4(w + i);
        for (int r = 0; r < MR; ++r) acc[r][0] += wv * load4(x + r * x_stride + i);
    }
    for (int r = 0; r < MR; ++r) {
        const F4 a = (acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3]);
        float s = (a[0] + a[1]) + (a[2] + a[3]);
        for (int64_t t = i; t < k; ++t) s += w[t] * x[r * x_stride + t];
        y[r * y_stride] = s;
    }
}

void gemvRange(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y, int64_t begin,
               int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
        const float* wr = w + j * k;
        // Activation rows in pairs (eight accumulators fit the sixteen SSE registers); the weight row
        // is re-read from L1 for the next pair.
        int64_t i = 0;
        for (; i + 2 <= m; i += 2) dotRow<2>(x + i * k, k, wr, k, y + i * n + j, n);
        if (i < m) dotRow<1>(x + i * k, k, wr, k, y + i * n + j, n);
    }
}

} // namespace

void gemvRows(ThreadPool& pool, const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
    if (m <= 0 || n <= 0) return;
    // At least ~64 KB of weights per chunk, so the fork/join cost stays small against the streaming.
    const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 14) / std::max<int64_t>(k, 1));
    pool.parallelFor(n, grain, [&](int64_t b, int64_t e) { gemvRange(x, m, w, n, k, y, b, e); });
}

} // namespace tessera::cpu
