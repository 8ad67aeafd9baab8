// Decode-time GEMV: memory-bound, so the aim is one pass over the weights at full bandwidth.
#include "cpu/cpu_gemv.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tessera/engine/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define TESSERA_GEMV_AVX2 1
#endif

namespace tessera::cpu {

namespace {

// Four floats: SSE2 on any x86-64, NEON on arm64. Memory, not arithmetic width, limits these loops.
typedef float F4 __attribute__((vector_size(16)));

inline F4 load4(const float* p) {
    F4 v;
    std::memcpy(&v, p, sizeof v); // unaligned load: checkpoint rows need only 4-byte alignment
    return v;
}

// Weight loaders: a checkpoint's bf16/f16 weights are widened in registers, never in memory, so a
// decode step streams half the bytes; widening is exact, so every product and every sum is the same
// as with the weights stored as f32 (the same reduction order is used for all three types).
inline float widen(float w) { return w; }
inline float widen(Bf16 w) { return bf16ToF32(w.bits); }
inline float widen(F16 w) { return f16ToF32(w.bits); }

template <class W> F4 load4w(const W* p) {
    if constexpr (std::is_same_v<W, float>) {
        return load4(p);
    } else {
        F4 v = {widen(p[0]), widen(p[1]), widen(p[2]), widen(p[3])};
        return v;
    }
}

// One weight row against MR activation rows. The weight row is read once, front to back: a single
// sequential stream is what the hardware prefetchers serve best (interleaving several weight rows
// measured at half the bandwidth). Every output uses the same reduction order whatever MR is: four
// lane-wise partial sums over 16-float blocks, then 4-float steps, then pairwise, then the scalar tail.
template <int MR, class W>
void dotRow(const float* x, int64_t x_stride, const W* w, int64_t k, float* y, int64_t y_stride) {
    F4 acc[MR][4] = {};
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const F4 w0 = load4w(w + i), w1 = load4w(w + i + 4), w2 = load4w(w + i + 8), w3 = load4w(w + i + 12);
        for (int r = 0; r < MR; ++r) {
            const float* xr = x + r * x_stride + i;
            acc[r][0] += w0 * load4(xr);
            acc[r][1] += w1 * load4(xr + 4);
            acc[r][2] += w2 * load4(xr + 8);
            acc[r][3] += w3 * load4(xr + 12);
        }
    }
    for (; i + 4 <= k; i += 4) {
        const F4 wv = load4w(w + i);
        for (int r = 0; r < MR; ++r) acc[r][0] += wv * load4(x + r * x_stride + i);
    }
    for (int r = 0; r < MR; ++r) {
        const F4 a = (acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3]);
        float s = (a[0] + a[1]) + (a[2] + a[3]);
        for (int64_t t = i; t < k; ++t) s += widen(w[t]) * x[r * x_stride + t];
        y[r * y_stride] = s;
    }
}

#if TESSERA_GEMV_AVX2
// Eight weights widened to f32 lanes: bf16 is the high half of an f32, f16 goes through F16C.
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8w(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8w(const Bf16* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8w(const F16* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// The same loop with eight-float vectors and fused multiply-add, for CPUs that have them (chosen once
// per process, so a given machine always computes the same bits). Streaming from memory the SSE loop
// keeps up too; with two activation rows, or weights in cache, it runs out of instructions first.
template <int MR, class W>
__attribute__((target("avx2,fma,f16c"))) void dotRowAvx2(const float* x, int64_t x_stride, const W* w,
                                                         int64_t k, float* y, int64_t y_stride) {
    __m256 acc[MR][4];
    for (int r = 0; r < MR; ++r)
        for (int u = 0; u < 4; ++u) acc[r][u] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m256 w0 = load8w(w + i), w1 = load8w(w + i + 8);
        const __m256 w2 = load8w(w + i + 16), w3 = load8w(w + i + 24);
        for (int r = 0; r < MR; ++r) {
            const float* xr = x + r * x_stride + i;
            acc[r][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xr + 16), acc[r][2]);
            acc[r][3] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xr + 24), acc[r][3]);
        }
    }
    for (; i + 8 <= k; i += 8) {
        const __m256 wv = load8w(w + i);
        for (int r = 0; r < MR; ++r)
            acc[r][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * x_stride + i), acc[r][0]);
    }
    for (int r = 0; r < MR; ++r) {
        const __m256 a =
            _mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3]));
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        float lanes[4];
        _mm_storeu_ps(lanes, h);
        float s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        for (int64_t t = i; t < k; ++t) s = std::fma(widen(w[t]), x[r * x_stride + t], s); // one rounding, as the vector lanes
        y[r * y_stride] = s;
    }
}

template <class W>
__attribute__((target("avx2,fma,f16c"))) void gemvRangeAvx2(const float* x, int64_t m, const W* w, int64_t n,
                                                           int64_t k, float* y, int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
        const W* wr = w + j * k;
        int64_t i = 0;
        for (; i + 2 <= m; i += 2) dotRowAvx2<2>(x + i * k, k, wr, k, y + i * n + j, n);
        if (i < m) dotRowAvx2<1>(x + i * k, k, wr, k, y + i * n + j, n);
    }
}

// F16C through CPUID (leaf 1, ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
bool haveF16c() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

bool haveAvx2() {
    static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && haveF16c();
    return have;
}
#endif

#if TESSERA_GEMV_AVX2
// GCC 12's AVX-512 intrinsics build their "undefined" pass-through vectors by self-initialisation,
// which -Wuninitialized reports once they are inlined; the values are never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__) // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// ---- AVX-512: several weight rows × several activation rows per pass --------------------------------
//
// Batches of 8–64 rows (16 images with guidance) are compute-bound, not memory-bound: register blocking
// (NR weight rows × MR activation rows per pass, each weight vector widened once and used MR times)
// keeps the FMA units busy where the one-row loop waits on loads. Each output keeps exactly the AVX2
// loop's arithmetic: a 16-lane accumulator A holds its acc0|acc1 (k mod 32 in [0, 16)), B its acc2|acc3
// ([16, 32)), the 8-float tail goes to acc0's lanes only, and the reduction is (acc0 + acc1) +
// (acc2 + acc3), then halves, then pairs, then the scalar tail. So results are bit-identical to the
// one-row loop whatever the batch size, the blocking or the thread count.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 load16w(const float* p) {
    return _mm512_loadu_ps(p);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 load16w(const Bf16* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 load16w(const F16* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Eight weights into the low lanes, the high lanes zero (so the FMA leaves acc1's lanes as they are).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 loadTail8w(const float* p) {
    return _mm512_maskz_loadu_ps(0x00FF, p);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 loadTail8w(const Bf16* p) {
    const __m256i h = _mm256_maskz_loadu_epi16(0x00FF, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) inline __m512 loadTail8w(const F16* p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(0x00FF, p));
}
template <int MR, int NR, class W>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) void blockAvx512(const float* x, int64_t k,
                                                                             const W* const* wr, float* y,
                                                                             int64_t y_stride) {
    __m512 A[MR][NR], B[MR][NR];
    for (int r = 0; r < MR; ++r)
        for (int c = 0; c < NR; ++c) A[r][c] = B[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        __m512 wa[NR], wb[NR];
        for (int c = 0; c < NR; ++c) {
            wa[c] = load16w(wr[c] + i);
            wb[c] = load16w(wr[c] + i + 16);
        }
        for (int r = 0; r < MR; ++r) {
            const __m512 xa = _mm512_loadu_ps(x + r * k + i), xb = _mm512_loadu_ps(x + r * k + i + 16);
            for (int c = 0; c < NR; ++c) {
                A[r][c] = _mm512_fmadd_ps(wa[c], xa, A[r][c]);
                B[r][c] = _mm512_fmadd_ps(wb[c], xb, B[r][c]);
            }
        }
    }
    for (; i + 8 <= k; i += 8) {
        __m512 wv[NR];
        for (int c = 0; c < NR; ++c) wv[c] = loadTail8w(wr[c] + i);
        for (int r = 0; r < MR; ++r) {
            const __m512 xv = _mm512_maskz_loadu_ps(0x00FF, x + r * k + i);
            for (int c = 0; c < NR; ++c) A[r][c] = _mm512_fmadd_ps(wv[c], xv, A[r][c]);
        }
    }
    for (int r = 0; r < MR; ++r)
        for (int c = 0; c < NR; ++c) {
            alignas(64) float lanes_a[16], lanes_b[16];
            _mm512_store_ps(lanes_a, A[r][c]);
            _mm512_store_ps(lanes_b, B[r][c]);
            const __m256 acc0 = _mm256_load_ps(lanes_a), acc1 = _mm256_load_ps(lanes_a + 8);
            const __m256 acc2 = _mm256_load_ps(lanes_b), acc3 = _mm256_load_ps(lanes_b + 8);
            const __m256 a = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
            const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
            float lanes[4];
            _mm_storeu_ps(lanes, h);
            float s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
            for (int64_t t = i; t < k; ++t) s = std::fma(widen(wr[c][t]), x[r * k + t], s);
            y[r * y_stride + c] = s;
        }
}

template <int NR, class W>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma"))) void blockRowsAvx512(const float* x, int64_t m,
                                                                                 const W* const* wr, int64_t k,
                                                                                 float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) blockAvx512<4, NR>(x + i * k, k, wr, y + i * n, n);
    switch (m - i) {
    case 3: blockAvx512<3, NR>(x + i * k, k, wr, y + i * n, n); break;
    case 2: blockAvx512<2, NR>(x + i * k, k, wr, y + i * n, n); break;
    case 1: blockAvx512<1, NR>(x + i * k, k, wr, y + i * n, n); break;
    default: break;
    }
}

template <class W>
void gemvRangeAvx512(const float* x, int64_t m, const W* w, int64_t n, int64_t k, float* y, int64_t begin,
                     int64_t end) {
    int64_t j = begin;
    for (; j + 3 <= end; j += 3) {
        const W* wr[3] = {w + j * k, w + (j + 1) * k, w + (j + 2) * k};
        blockRowsAvx512<3>(x, m, wr, k, y + j, n);
    }
    for (; j < end; ++j) {
        const W* wr[1] = {w + j * k};
        blockRowsAvx512<1>(x, m, wr, k, y + j, n);
    }
}

#pragma GCC diagnostic pop

bool haveAvx512() {
    static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && haveAvx2();
    return have;
}
#endif

template <class W>
void gemvRange(const float* x, int64_t m, const W* w, int64_t n, int64_t k, float* y, int64_t begin, int64_t end) {
#if TESSERA_GEMV_AVX2
    // Same bits either way. Even for one or two rows the 16-lane loop wins: it widens 16-bit weights
    // sixteen at a time, where the 8-lane loop ran out of instructions before memory did.
    if (haveAvx512()) return gemvRangeAvx512(x, m, w, n, k, y, begin, end);
    if (haveAvx2()) return gemvRangeAvx2(x, m, w, n, k, y, begin, end);
#endif
    for (int64_t j = begin; j < end; ++j) {
        const W* wr = w + j * k;
        // Activation rows in pairs (eight accumulators fit the sixteen SSE registers); the weight row
        // is re-read from L1 for the next pair.
        int64_t i = 0;
        for (; i + 2 <= m; i += 2) dotRow<2>(x + i * k, k, wr, k, y + i * n + j, n);
        if (i < m) dotRow<1>(x + i * k, k, wr, k, y + i * n + j, n);
    }
}

template <class W>
void gemvRowsT(ThreadPool& pool, const float* x, int64_t m, const W* w, int64_t n, int64_t k, float* y) {
    if (m <= 0 || n <= 0) return;
    // At least ~64 KB of weights per chunk, so the fork/join cost stays small against the streaming.
    const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 14) / std::max<int64_t>(k, 1));
    pool.parallelFor(n, grain, [&](int64_t b, int64_t e) { gemvRange(x, m, w, n, k, y, b, e); });
}

} // namespace

int64_t gemvMaxRows() {
#if TESSERA_GEMV_AVX2
    if (haveAvx512()) return 64;
#endif
    return 8;
}

void gemvRows(ThreadPool& pool, const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
    gemvRowsT(pool, x, m, w, n, k, y);
}

void gemvRows(ThreadPool& pool, const float* x, int64_t m, const Bf16* w, int64_t n, int64_t k, float* y) {
    gemvRowsT(pool, x, m, w, n, k, y);
}

void gemvRows(ThreadPool& pool, const float* x, int64_t m, const F16* w, int64_t n, int64_t k, float* y) {
    gemvRowsT(pool, x, m, w, n, k, y);
}

void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                  bool b_transposed, float* c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    constexpr int64_t kColumns = 64;
    const int64_t blocks = (n + kColumns - 1) / kColumns;
    pool.parallelFor(blocks, 1, [&](int64_t first, int64_t last) {
        const int64_t c0 = first * kColumns, c1 = std::min(n, last * kColumns);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
                    static_cast<int>(m), static_cast<int>(c1 - c0), static_cast<int>(k), 1.0f, a,
                    static_cast<int>(k), b_transposed ? b + c0 * k : b + c0,
                    static_cast<int>(b_transposed ? k : n), 0.0f, c + c0, static_cast<int>(ldc));
    });
}

namespace {

template <class W>
void sgemmColumnsWide(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const W* b, float* c,
                      int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    constexpr int64_t kColumns = 64;
    const int64_t blocks = (n + kColumns - 1) / kColumns;
    pool.parallelFor(blocks, 1, [&](int64_t first, int64_t last) {
        thread_local std::vector<float> panel;
        panel.resize(static_cast<size_t>(kColumns * k));
        for (int64_t blk = first; blk < last; ++blk) {
            const int64_t c0 = blk * kColumns, c1 = std::min(n, c0 + kColumns);
            const W* src = b + c0 * k;
            for (int64_t i = 0; i < (c1 - c0) * k; ++i) panel[static_cast<size_t>(i)] = widen(src[i]);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(c1 - c0),
                        static_cast<int>(k), 1.0f, a, static_cast<int>(k), panel.data(), static_cast<int>(k), 0.0f,
                        c + c0, static_cast<int>(ldc));
        }
    });
}

} // namespace

void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const Bf16* b, float* c,
                  int64_t ldc) {
    sgemmColumnsWide(pool, m, n, k, a, b, c, ldc);
}

void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const F16* b, float* c,
                  int64_t ldc) {
    sgemmColumnsWide(pool, m, n, k, a, b, c, ldc);
}

} // namespace tessera::cpu
