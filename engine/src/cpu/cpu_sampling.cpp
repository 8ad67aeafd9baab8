// CPU backend: batched sampling and per-token statistics without sorting the vocabulary.
//
// Sections: the ranked view (histogram selection) · one row · the batched op.
//
// A row's probabilities are ranked (p descending, ties by lower id) through a 2,048-bucket histogram of
// their f32 bit patterns: for p >= 0 the bit pattern orders like the value, and the top 12 bits (sign,
// exponent, three mantissa bits) split the range into eighths of an octave. Count and mass per bucket
// answer "how many / how much above rank r" for whole buckets; only the one bucket a query ends in is
// gathered and sorted. A peaked distribution's boundary bucket holds a handful of codes, so a row
// costs a few linear passes over the vocabulary instead of an O(V log V) sort.
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"
#include "tessera/engine/sampler.h"
#include "util/softmax_exact.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace tessera {

void SampleResult::resize(size_t rows, int k) {
    report_k = k;
    token.resize(rows);
    probability.resize(rows);
    entropy.resize(rows);
    rank.resize(rows);
    guidance_kl.resize(rows);
    top_ids.resize(rows * static_cast<size_t>(k));
    top_probs.resize(rows * static_cast<size_t>(k));
}

size_t SampleResult::bytes() const {
    return token.size() * (sizeof(int32_t) * 2 + sizeof(float) * 3) + top_ids.size() * (sizeof(int32_t) + sizeof(float));
}

namespace cpu {

namespace {

constexpr int kBucketShift = 20;
constexpr int kBuckets = 1 << (32 - kBucketShift - 1); // p >= 0: the sign bit is always clear

inline uint32_t bitsOf(float p) {
    uint32_t b;
    std::memcpy(&b, &p, sizeof b);
    return b;
}
inline int bucketOf(float p) { return static_cast<int>(bitsOf(p) >> kBucketShift); }

// Ranks one row of probabilities. Scratch vectors live in the (thread-local) object and are reused.
// Indices i with bucket[i] == b, appended to out (scalar; the AVX-512 version below does 32 at a time).
void gatherBucketScalar(const uint16_t* bucket, int64_t n, int b, std::vector<int32_t>& out) {
    for (int64_t i = 0; i < n; ++i)
        if (bucket[i] == b) out.push_back(static_cast<int32_t>(i));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__) // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f,avx512bw,avx512vl"))) void gatherBucketAvx512(const uint16_t* bucket, int64_t n, int b,
                                                                             std::vector<int32_t>& out) {
    const __m512i want = _mm512_set1_epi16(static_cast<int16_t>(b));
    const __m512i step = _mm512_set1_epi32(16);
    int64_t i = 0;
    alignas(64) int32_t found[32];
    for (; i + 32 <= n; i += 32) {
        const __mmask32 hit = _mm512_cmpeq_epi16_mask(_mm512_loadu_si512(bucket + i), want);
        if (!hit) continue;
        const __m512i ids0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(i)),
                                              _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        const int lo = __builtin_popcount(hit & 0xFFFFu);
        _mm512_mask_compressstoreu_epi32(found, static_cast<__mmask16>(hit & 0xFFFFu), ids0);
        _mm512_mask_compressstoreu_epi32(found + lo, static_cast<__mmask16>(hit >> 16), _mm512_add_epi32(ids0, step));
        out.insert(out.end(), found, found + __builtin_popcount(hit));
    }
    for (; i < n; ++i)
        if (bucket[i] == b) out.push_back(static_cast<int32_t>(i));
}
#pragma GCC diagnostic pop
#endif

class RankedView {
public:
    // Normalises p in place (p *= inv) and ranks it. Two interleaved sub-histograms (even and odd
    // ids) break the store-to-load chain when many codes share a bucket; they merge in a fixed order.
    void build(float* p, int64_t n, float inv) {
        p_ = p;
        n_ = n;
        bucket_.resize(static_cast<size_t>(n));
        uint16_t* bk = bucket_.data();
        int32_t* c0 = count2_[0].data();
        int32_t* c1 = count2_[1].data();
        double* m0 = mass2_[0].data();
        double* m1 = mass2_[1].data();
        std::fill(c0, c0 + kBuckets, 0);
        std::fill(c1, c1 + kBuckets, 0);
        std::fill(m0, m0 + kBuckets, 0.0);
        std::fill(m1, m1 + kBuckets, 0.0);
        int64_t i = 0;
        for (; i + 2 <= n; i += 2) {
            const float a = p[i] * inv, b = p[i + 1] * inv;
            p[i] = a;
            p[i + 1] = b;
            const int ba = bucketOf(a), bb = bucketOf(b);
            bk[i] = static_cast<uint16_t>(ba);
            bk[i + 1] = static_cast<uint16_t>(bb);
            ++c0[ba];
            m0[ba] += a;
            ++c1[bb];
            m1[bb] += b;
        }
        for (; i < n; ++i) {
            const float a = p[i] * inv;
            p[i] = a;
            const int ba = bucketOf(a);
            bk[i] = static_cast<uint16_t>(ba);
            ++c0[ba];
            m0[ba] += a;
        }
        for (int b = 0; b < kBuckets; ++b) {
            count_[static_cast<size_t>(b)] = c0[b] + c1[b];
            mass_[static_cast<size_t>(b)] = m0[b] + m1[b];
        }
        cached_[0].id = cached_[1].id = -1;
    }

    // The members of bucket b, ranked (p descending, id ascending). The two most recently used
    // buckets stay sorted (the top alternatives and the sampled token's usually differ).
    const std::vector<int32_t>& bucket(int b) {
        for (auto& c : cached_)
            if (c.id == b) return c.members;
        Cached& c = cached_[next_];
        next_ ^= 1;
        c.members.clear();
        gatherBucket(b, c.members);
        std::sort(c.members.begin(), c.members.end(), [&](int32_t a, int32_t d) {
            return p_[a] != p_[d] ? p_[a] > p_[d] : a < d;
        });
        c.id = b;
        return c.members;
    }

    // The id at rank r (0 = most likely), r < n.
    int32_t at(int64_t r) {
        for (int b = kBuckets - 1; b >= 0; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (r < c) return bucket(b)[static_cast<size_t>(r)];
            r -= c;
        }
        return static_cast<int32_t>(n_ - 1);
    }

    // Mass of the `k` most likely ids.
    double massOfTop(int64_t k) {
        double m = 0;
        for (int b = kBuckets - 1; b >= 0 && k > 0; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (c <= k) {
                m += mass_[static_cast<size_t>(b)];
                k -= c;
            } else {
                const auto& ids = bucket(b);
                for (int64_t i = 0; i < k; ++i) m += p_[ids[static_cast<size_t>(i)]];
                k = 0;
            }
        }
        return m;
    }

    // How many ids have p >= floor (they form a prefix of the ranking).
    int64_t countAtLeast(float floor) {
        int64_t k = 0;
        const int fb = bucketOf(floor);
        for (int b = kBuckets - 1; b > fb; --b) k += count_[static_cast<size_t>(b)];
        for (int32_t id : bucket(fb))
            if (p_[id] >= floor) ++k;
        return k;
    }

    // Walks the first `limit` ranks accumulating mass and returns the first rank r at which
    // stop(mass including r) holds, or limit - 1. Whole buckets are skipped while stop stays false for
    // their total.
    template <class Stop> int64_t walk(int64_t limit, Stop stop) {
        double cum = 0;
        int64_t base = 0;
        for (int b = kBuckets - 1; b >= 0 && base < limit; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (c == 0) continue;
            if (base + c <= limit && !stop(cum + mass_[static_cast<size_t>(b)])) {
                cum += mass_[static_cast<size_t>(b)];
                base += c;
                continue;
            }
            const auto& ids = bucket(b);
            for (int64_t i = 0; i < c && base + i < limit; ++i) {
                cum += p_[ids[static_cast<size_t>(i)]];
                if (stop(cum)) return base + i;
            }
            base += c;
        }
        return limit - 1;
    }

private:
    void gatherBucket(int b, std::vector<int32_t>& out) const;
    struct Cached {
        int id = -1;
        std::vector<int32_t> members;
    };
    const float* p_ = nullptr;
    int64_t n_ = 0;
    std::array<int64_t, kBuckets> count_{};
    std::array<double, kBuckets> mass_{};
    std::vector<uint16_t> bucket_;
    std::array<std::array<int32_t, kBuckets>, 2> count2_{};
    std::array<std::array<double, kBuckets>, 2> mass2_{};
    Cached cached_[2];
    int next_ = 0;
};

void RankedView::gatherBucket(int b, std::vector<int32_t>& out) const {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                               __builtin_cpu_supports("avx512vl");
    if (avx512) return gatherBucketAvx512(bucket_.data(), n_, b, out);
#endif
    gatherBucketScalar(bucket_.data(), n_, b, out);
}

struct RowScratch {
    std::vector<float> guided, probs;
    RankedView view;
};

// What the softmax passes leave for the statistics.
struct SoftmaxStats {
    float mx = 0;       // max of g/t
    double sum = 0;     // Σ exp(g/t − mx) in the canonical lane order (p holds the unnormalised e)
    double dot = 0;     // Σ e·(g/t − mx), any order (a statistic)
    bool finite = true; // every guided logit finite
};

// ---- scalar passes (the definition) -----------------------------------------------------------------

// Guided logits g = u + w(c − u) (or c) into `g`, then p = softmax(g / t) with softmax_exact.h's
// arithmetic into `p` (t == 1 skips the division, which is exact).
SoftmaxStats softmaxScalar(const float* c, const float* u, float w, int64_t n, float t, float* g, float* p) {
    SoftmaxStats st;
    st.mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        const float v = u ? u[i] + w * (c[i] - u[i]) : c[i];
        g[i] = v;
        st.finite = st.finite && std::isfinite(v);
        st.mx = std::max(st.mx, t == 1.0f ? v : v / t);
    }
    softmax::LaneSum sum;
    for (int64_t i = 0; i < n; ++i) {
        const float shifted = (t == 1.0f ? g[i] : g[i] / t) - st.mx;
        const float e = softmax::samplingExp(shifted);
        p[i] = e;
        sum.add(i, e);
        st.dot += static_cast<double>(e) * shifted;
    }
    st.sum = sum.total();
    return st;
}

// Σ exp(c/t − max(c/t)) and Σ p·((g/t − mx) − (c/t − mc)), for KL(guided ‖ conditional).
void klTermsScalar(const float* c, const float* g, const float* p, int64_t n, float t, float mx, double& sum_c,
                   double& cross) {
    float mc = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mc = std::max(mc, t == 1.0f ? c[i] : c[i] / t);
    sum_c = 0;
    cross = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float yc = (t == 1.0f ? c[i] : c[i] / t) - mc;
        sum_c += softmax::samplingExp(yc);
        cross += static_cast<double>(p[i]) * (((t == 1.0f ? g[i] : g[i] / t) - mx) - yc);
    }
}

// ---- AVX-512 passes: the same operations, sixteen lanes at a time ------------------------------------
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12's AVX-512 intrinsics build "undefined" pass-through vectors by self-initialisation, which
// -Wuninitialized reports once inlined; the values are never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__) // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define TS_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

TS_AVX512 inline __m512 expV(__m512 x) {
    using namespace softmax;
    const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), _mm512_set1_ps(kRoundMagic));
    const __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(kRoundMagic));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    const __m512 z = _mm512_mul_ps(r, r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kP0), r, _mm512_set1_ps(kP1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
    p = _mm512_fmadd_ps(p, z, r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    // Clamp the exponent for lanes that are replaced below, so the shift stays defined.
    const __m512 nc = _mm512_max_ps(_mm512_min_ps(n, _mm512_set1_ps(127.0f)), _mm512_set1_ps(-126.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(nc), _mm512_set1_epi32(127)), 23);
    __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    const __mmask16 small = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMinInput), _CMP_LT_OQ);
    const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMaxInput), _CMP_GT_OQ);
    y = _mm512_mask_mov_ps(y, small, _mm512_setzero_ps());
    return _mm512_mask_mov_ps(y, big, _mm512_set1_ps(INFINITY));
}

TS_AVX512 inline __mmask16 tailMask(int64_t left) {
    return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

TS_AVX512 inline __m256 high8(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

TS_AVX512 SoftmaxStats softmaxAvx512(const float* c, const float* u, float w, int64_t n, float t, float* g, float* p) {
    SoftmaxStats st;
    const bool div = t != 1.0f;
    const __m512 tv = _mm512_set1_ps(t), wv = _mm512_set1_ps(w);
    __m512 mxv = _mm512_set1_ps(-INFINITY);
    __mmask16 bad = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        const __m512 cv = _mm512_maskz_loadu_ps(m, c + i);
        __m512 v = cv;
        if (u) {
            const __m512 uv = _mm512_maskz_loadu_ps(m, u + i);
            v = _mm512_add_ps(uv, _mm512_mul_ps(wv, _mm512_sub_ps(cv, uv)));
        }
        _mm512_mask_storeu_ps(g + i, m, v);
        bad = static_cast<__mmask16>(bad | _mm512_mask_fpclass_ps_mask(m, v, 0x99)); // NaN or ±inf
        mxv = _mm512_mask_max_ps(mxv, m, mxv, div ? _mm512_div_ps(v, tv) : v);
    }
    st.finite = bad == 0;
    st.mx = _mm512_reduce_max_ps(mxv);
    const __m512 mx = _mm512_set1_ps(st.mx);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd(), dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 shifted = _mm512_maskz_mov_ps(m, _mm512_sub_ps(div ? _mm512_div_ps(gv, tv) : gv, mx));
        const __m512 e = _mm512_maskz_mov_ps(m, expV(shifted));
        _mm512_mask_storeu_ps(p + i, m, e);
        const __m512d e0 = _mm512_cvtps_pd(_mm512_castps512_ps256(e)), e1 = _mm512_cvtps_pd(high8(e));
        lo = _mm512_add_pd(lo, e0);
        hi = _mm512_add_pd(hi, e1);
        dlo = _mm512_fmadd_pd(e0, _mm512_cvtps_pd(_mm512_castps512_ps256(shifted)), dlo);
        dhi = _mm512_fmadd_pd(e1, _mm512_cvtps_pd(high8(shifted)), dhi);
    }
    // The canonical reduction: l[i] + l[i+8], then + l[i+4], + l[i+2], then l0 + l1.
    alignas(64) double l[8];
    _mm512_store_pd(l, _mm512_add_pd(lo, hi));
    for (int half = 4; half >= 1; half /= 2)
        for (int i = 0; i < half; ++i) l[i] = l[i] + l[i + half];
    st.sum = l[0];
    st.dot = _mm512_reduce_add_pd(_mm512_add_pd(dlo, dhi));
    return st;
}

TS_AVX512 void klTermsAvx512(const float* c, const float* g, const float* p, int64_t n, float t, float mx,
                             double& sum_c, double& cross) {
    const bool div = t != 1.0f;
    const __m512 tv = _mm512_set1_ps(t);
    __m512 mcv = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        const __m512 cv = _mm512_maskz_loadu_ps(m, c + i);
        mcv = _mm512_mask_max_ps(mcv, m, mcv, div ? _mm512_div_ps(cv, tv) : cv);
    }
    const __m512 mc = _mm512_set1_ps(_mm512_reduce_max_ps(mcv)), mxv = _mm512_set1_ps(mx);
    __m512d sc = _mm512_setzero_pd(), cr = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        const __m512 cv = _mm512_maskz_loadu_ps(m, c + i), gv = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 pv = _mm512_maskz_loadu_ps(m, p + i);
        const __m512 yc = _mm512_maskz_mov_ps(m, _mm512_sub_ps(div ? _mm512_div_ps(cv, tv) : cv, mc));
        const __m512 ec = _mm512_maskz_mov_ps(m, expV(yc));
        const __m512 diff = _mm512_maskz_mov_ps(m, _mm512_sub_ps(_mm512_sub_ps(div ? _mm512_div_ps(gv, tv) : gv, mxv), yc));
        const __m512 pd = _mm512_mul_ps(pv, diff);
        sc = _mm512_add_pd(sc, _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(ec)), _mm512_cvtps_pd(high8(ec))));
        cr = _mm512_add_pd(cr, _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(pd)), _mm512_cvtps_pd(high8(pd))));
    }
    sum_c = _mm512_reduce_add_pd(sc);
    cross = _mm512_reduce_add_pd(cr);
}

bool haveAvx512Sampling() {
    static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("fma");
    return have;
}
#pragma GCC diagnostic pop
#define TS_HAVE_AVX512_SAMPLING 1
#endif

SoftmaxStats softmaxRow(const float* c, const float* u, float w, int64_t n, float t, float* g, float* p) {
#ifdef TS_HAVE_AVX512_SAMPLING
    if (haveAvx512Sampling()) return softmaxAvx512(c, u, w, n, t, g, p);
#endif
    return softmaxScalar(c, u, w, n, t, g, p);
}

void klTerms(const float* c, const float* g, const float* p, int64_t n, float t, float mx, double& sum_c,
             double& cross) {
#ifdef TS_HAVE_AVX512_SAMPLING
    if (haveAvx512Sampling()) return klTermsAvx512(c, g, p, n, t, mx, sum_c, cross);
#endif
    klTermsScalar(c, g, p, n, t, mx, sum_c, cross);
}

void sampleRow(const float* logits_base, int64_t vocab, const SampleRow& row, const SampleParams& sp,
               RowScratch& s, SampleResult& out, size_t r) {
    const float* cond = logits_base + row.cond * vocab;
    const float* uncond = row.uncond >= 0 ? logits_base + row.uncond * vocab : nullptr;
    s.guided.resize(static_cast<size_t>(vocab));
    s.probs.resize(static_cast<size_t>(vocab));
    const float t = sp.temperature > 0 ? sp.temperature : 1.0f;
    float* g = s.guided.data();
    float* p = s.probs.data();
    const SoftmaxStats st = softmaxRow(cond, uncond, row.cfg, vocab, t, g, p);
    // NaN or infinite logits (broken weights, an infinite guidance weight) would otherwise pick the same
    // code every time without a word.
    TS_CHECK(st.finite && std::isfinite(st.sum) && st.sum > 0,
             "the model produced non-finite logits (NaN or infinity): check the checkpoint's weights and the guidance weight");
    const double log_sum = std::log(st.sum);
    RankedView& v = s.view;
    v.build(p, vocab, softmax::reciprocal(st.sum)); // p normalised in place
    // H = −Σ p log p with log p = shifted − log Σ: no logarithm per code.
    out.entropy[r] = static_cast<float>(std::max(0.0, log_sum - st.dot / st.sum));

    float kl = 0;
    if (uncond && sp.guidance_kl) {
        // KL(p ‖ q), q = softmax(c / t): Σ p (log p − log q) with both logs in closed form.
        double sum_c = 0, cross = 0;
        klTerms(cond, g, p, vocab, t, st.mx, sum_c, cross);
        kl = static_cast<float>(std::max(0.0, cross - log_sum + std::log(sum_c)));
    }
    out.guidance_kl[r] = kl;

    const int k = out.report_k;
    for (int i = 0; i < k; ++i) {
        const bool in = i < vocab;
        const int32_t id = in ? v.at(i) : -1;
        out.top_ids[r * static_cast<size_t>(k) + static_cast<size_t>(i)] = id;
        out.top_probs[r * static_cast<size_t>(k) + static_cast<size_t>(i)] = in ? p[id] : 0.0f;
    }

    if (row.forced >= 0) {
        TS_CHECK(row.forced < vocab, "forced token " + std::to_string(row.forced) + " outside the vocabulary of " +
                                         std::to_string(vocab));
        const int32_t tok = row.forced;
        const float pt = p[tok];
        int32_t rank = 0;
        for (int64_t i = 0; i < vocab; ++i)
            if (p[i] > pt || (p[i] == pt && i < tok)) ++rank;
        out.token[r] = tok;
        out.rank[r] = rank;
        out.probability[r] = pt;
        return;
    }

    // The kept prefix of the ranking, as sampleToken() defines it.
    int64_t keep = vocab;
    if (sp.temperature <= 0) keep = 1;
    if (sp.top_k > 0) keep = std::min<int64_t>(keep, sp.top_k);
    if (sp.min_p > 0) {
        const float floor = sp.min_p * p[v.at(0)];
        keep = std::max<int64_t>(1, std::min(keep, v.countAtLeast(floor)));
    }
    if (sp.top_p < 1.0f) {
        const double target = sp.top_p;
        keep = std::max<int64_t>(1, v.walk(keep, [&](double cum) { return cum >= target; }) + 1);
    }
    const double total = v.massOfTop(keep);
    const double target = Philox::uniform(sp.seed, row.stream, row.index) * total;
    const int64_t pick = v.walk(keep, [&](double cum) { return target < cum; });
    const int32_t tok = v.at(pick);
    out.token[r] = tok;
    out.rank[r] = static_cast<int32_t>(pick);
    out.probability[r] = p[tok];
}

} // namespace

void CpuBackend::sample(const Tensor& logits, const std::vector<SampleRow>& rows, const SampleParams& params,
                        SampleResult& out) {
    requireF32(logits, "sample logits");
    const int64_t vocab = logits.dim(-1), n_rows = logits.numel() / std::max<int64_t>(1, vocab);
    TS_CHECK(vocab > 0 && vocab < (int64_t(1) << 31), "sample: vocabulary size out of range");
    TS_CHECK(params.report_k >= 0 && params.report_k <= 1024, "sample: report_k must be in [0, 1024]");
    for (const SampleRow& r : rows) {
        TS_CHECK(r.cond >= 0 && r.cond < n_rows && r.uncond < n_rows, "sample: row index outside the logits");
        TS_CHECK(std::isfinite(r.cfg), "sample: guidance weight must be finite");
    }
    out.resize(rows.size(), params.report_k);
    const float* base = logits.data<float>();
    pool_.parallelFor(static_cast<int64_t>(rows.size()), 1, [&](int64_t b, int64_t e) {
        thread_local RowScratch scratch;
        for (int64_t i = b; i < e; ++i)
            sampleRow(base, vocab, rows[static_cast<size_t>(i)], params, scratch, out, static_cast<size_t>(i));
    });
    countHostRead(out.bytes());
}

} // namespace cpu
} // namespace tessera
