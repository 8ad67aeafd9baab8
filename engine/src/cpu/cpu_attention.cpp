// CPU backend: rotary embedding, KV-cache writes, attention and layout ops.
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tessera::cpu {

Tensor CpuBackend::rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
    requireF32(x, "rope");
    TS_ASSERT(x.rank() == 4, "rope: x must be [B, T, H, hd]");
    const int64_t batch = x.dim(0), t = x.dim(1), heads = x.dim(2), hd = x.dim(3), half = hd / 2;
    // Tables are per row [B, T, hd] (MM-RoPE) or shared by every row [T, hd] (1D positions: a view
    // of the model's cached table, no per-step work).
    const bool shared = cos.numel() == t * hd && batch > 1;
    TS_ASSERT((cos.numel() == batch * t * hd || cos.numel() == t * hd) && sin.numel() == cos.numel(),
              "rope: cos/sin must be [B, T, hd] or [T, hd]");
    Tensor y = alloc(DType::F32, x.shape());
    const float *xp = x.data<float>(), *cp = cos.data<float>(), *sp = sin.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(batch * t, 4, [&](int64_t s, int64_t e) {
        for (int64_t bt = s; bt < e; ++bt) {
            const int64_t row = shared ? bt % t : bt;
            const float* c = cp + row * hd;
            const float* sn = sp + row * hd;
            for (int64_t h = 0; h < heads; ++h) {
                const float* xr = xp + (bt * heads + h) * hd;
                float* yr = yp + (bt * heads + h) * hd;
                for (int64_t d = 0; d < half; ++d) {
                    yr[d] = xr[d] * c[d] - xr[d + half] * sn[d];
                    yr[d + half] = xr[d + half] * c[d + half] + xr[d] * sn[d + half];
                }
            }
        }
    });
    return y;
}

void CpuBackend::kvWrite(Tensor& k_cache, Tensor& v_cache, const Tensor& k, const Tensor& v, int64_t pos) {
    TS_ASSERT(k.rank() == 4 && k_cache.rank() == 4,
              "kvWrite: k must be [B, T, Hkv, hd], cache [B, Hkv, Tmax, hd]");
    const int64_t batch = k.dim(0), t = k.dim(1), heads = k.dim(2), hd = k.dim(3), tmax = k_cache.dim(2);
    TS_ASSERT(k_cache.dim(0) == batch && k_cache.dim(1) == heads && k_cache.dim(3) == hd,
              "kvWrite: cache shape");
    TS_CHECK(pos + t <= tmax, "KV cache full: " + std::to_string(pos + t) + " positions needed, " +
                                  std::to_string(tmax) + " reserved");
    TS_ASSERT(k_cache.dtype() == v_cache.dtype() && (k_cache.dtype() == DType::F32 || k_cache.dtype() == DType::BF16),
              "kvWrite: caches must be f32 or bf16");
    const bool bf = k_cache.dtype() == DType::BF16;
    for (int which = 0; which < 2; ++which) {
        const float* src = (which ? v : k).data<float>();
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t i = 0; i < t; ++i)
                for (int64_t h = 0; h < heads; ++h) {
                    const float* from = src + ((b * t + i) * heads + h) * hd;
                    const int64_t at = ((b * heads + h) * tmax + pos + i) * hd;
                    if (bf) {
                        uint16_t* dst = (which ? v_cache : k_cache).data<uint16_t>() + at;
                        for (int64_t d = 0; d < hd; ++d) dst[d] = f32ToBf16(from[d]);
                    } else {
                        std::memcpy((which ? v_cache : k_cache).data<float>() + at, from, static_cast<size_t>(hd) * 4);
                    }
                }
    }
}

namespace {

inline float cacheValue(const float* p) { return *p; }
inline float cacheValue(const uint16_t* p) { return bf16ToF32(*p); }

// One query row against the cache (f32 or bf16 keys/values, f32 arithmetic).
template <class T>
void attendRow(const float* qr, const T* kb, const T* vb, int64_t kv_len, int64_t hd, float scale,
               const AttentionMask& mask, const uint8_t* mrow, int64_t visible, float* scores, float* out) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < kv_len; ++j) {
        bool ok = mask.kind == AttentionMask::Kind::Full ||
                  (mask.kind == AttentionMask::Kind::Causal ? j <= visible : mrow[j] != 0);
        if (!ok) {
            scores[j] = -INFINITY;
            continue;
        }
        float dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += qr[d] * cacheValue(kb + j * hd + d);
        scores[j] = dot * scale;
        mx = std::max(mx, dot * scale);
    }
    std::fill(out, out + hd, 0.0f);
    if (mx == -INFINITY) return; // no key allowed: zero output rather than NaN
    double sum = 0;
    for (int64_t j = 0; j < kv_len; ++j) {
        float p = scores[j] == -INFINITY ? 0.0f : std::exp(scores[j] - mx);
        scores[j] = p;
        sum += p;
    }
    float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < kv_len; ++j) {
        float p = scores[j] * inv;
        if (p == 0.0f) continue;
        const T* vr = vb + j * hd;
        for (int64_t d = 0; d < hd; ++d) out[d] += p * cacheValue(vr + d);
    }
}

} // namespace

Tensor CpuBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t kv_len,
                             const AttentionMask& mask, float scale) {
    requireF32(q, "attention q");
    TS_ASSERT(q.rank() == 4, "attention: q must be [B, Tq, Hq, hd]");
    const int64_t batch = q.dim(0), tq = q.dim(1), hq = q.dim(2), hd = q.dim(3);
    const int64_t hkv = k_cache.dim(1), tmax = k_cache.dim(2);
    // Only a causal mask places the queries at the end of the keys; full and explicit masks also serve
    // cross-attention to fewer keys than queries.
    TS_ASSERT(hq % hkv == 0 && k_cache.dim(3) == hd && kv_len <= tmax &&
                  (kv_len >= tq || mask.kind != AttentionMask::Kind::Causal),
              "attention: shapes");
    const uint8_t* allowed = nullptr;
    bool per_batch = false;
    if (mask.kind == AttentionMask::Kind::Explicit) {
        TS_ASSERT(mask.allowed.dtype() == DType::U8, "attention: explicit mask must be u8");
        TS_ASSERT(mask.allowed.dim(-1) == kv_len && mask.allowed.dim(-2) == tq, "attention: mask shape");
        per_batch = mask.allowed.rank() == 3;
        allowed = mask.allowed.data<uint8_t>();
    }
    Tensor y = alloc(DType::F32, q.shape());
    TS_ASSERT(k_cache.dtype() == v_cache.dtype() && (k_cache.dtype() == DType::F32 || k_cache.dtype() == DType::BF16),
              "attention: caches must be f32 or bf16");
    const bool bf = k_cache.dtype() == DType::BF16;
    const float* qp = q.data<float>();
    float* yp = y.data<float>();
    const int64_t group = hq / hkv, past = kv_len - tq;
    // A decode step's attention over a short cache is a few microseconds of work: only hand rows to
    // other threads when each gets enough (about 32k multiply-adds) to outweigh the hand-off.
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, kv_len * hd));
    pool_.parallelFor(batch * hq * tq, grain, [&](int64_t s, int64_t e) {
        thread_local std::vector<float> scores;
        scores.resize(static_cast<size_t>(kv_len));
        for (int64_t idx = s; idx < e; ++idx) {
            const int64_t i = idx % tq, h = (idx / tq) % hq, b = idx / (tq * hq);
            const int64_t kh = h / group;
            const float* qr = qp + ((b * tq + i) * hq + h) * hd;
            const int64_t base = (b * hkv + kh) * tmax * hd;
            const uint8_t* mrow = allowed ? allowed + ((per_batch ? b * tq : 0) + i) * kv_len : nullptr;
            float* out = yp + ((b * tq + i) * hq + h) * hd;
            if (bf) {
                attendRow(qr, k_cache.data<uint16_t>() + base, v_cache.data<uint16_t>() + base, kv_len, hd, scale, mask,
                          mrow, past + i, scores.data(), out);
            } else {
                attendRow(qr, k_cache.data<float>() + base, v_cache.data<float>() + base, kv_len, hd, scale, mask, mrow,
                          past + i, scores.data(), out);
            }
        }
    });
    return y;
}

Tensor CpuBackend::slice(const Tensor& x, int dim, int64_t begin, int64_t end) {
    if (dim < 0) dim += x.rank();
    TS_ASSERT(dim >= 0 && dim < x.rank() && begin >= 0 && begin <= end && end <= x.dim(dim), "slice: range");
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= x.dim(i);
    for (int i = dim + 1; i < x.rank(); ++i) inner *= x.dim(i);
    Shape s = x.shape();
    s[static_cast<size_t>(dim)] = end - begin;
    Tensor y = alloc(x.dtype(), s);
    const size_t es = dtypeSize(x.dtype());
    const char* xp = static_cast<const char*>(x.raw());
    char* yp = static_cast<char*>(y.raw());
    const int64_t len = x.dim(dim);
    for (int64_t o = 0; o < outer; ++o)
        std::memcpy(yp + o * (end - begin) * inner * es, xp + (o * len + begin) * inner * es,
                    static_cast<size_t>((end - begin) * inner) * es);
    return y;
}

Tensor CpuBackend::concat(const Tensor& a, const Tensor& b, int dim) {
    if (dim < 0) dim += a.rank();
    TS_ASSERT(a.rank() == b.rank() && a.dtype() == b.dtype(), "concat: rank or dtype differ");
    for (int i = 0; i < a.rank(); ++i) TS_ASSERT(i == dim || a.dim(i) == b.dim(i), "concat: shapes differ");
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= a.dim(i);
    for (int i = dim + 1; i < a.rank(); ++i) inner *= a.dim(i);
    Shape s = a.shape();
    s[static_cast<size_t>(dim)] += b.dim(dim);
    Tensor y = alloc(a.dtype(), s);
    const size_t es = dtypeSize(a.dtype());
    const size_t ab = static_cast<size_t>(a.dim(dim) * inner) * es,
                 bb = static_cast<size_t>(b.dim(dim) * inner) * es;
    char* yp = static_cast<char*>(y.raw());
    for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(yp + o * (ab + bb), static_cast<const char*>(a.raw()) + o * ab, ab);
        std::memcpy(yp + o * (ab + bb) + ab, static_cast<const char*>(b.raw()) + o * bb, bb);
    }
    return y;
}

Tensor CpuBackend::transposeLast2(const Tensor& x) {
    requireF32(x, "transposeLast2");
    const int64_t m = x.dim(-2), n = x.dim(-1), outer = x.numel() / (m * n);
    Shape s = x.shape();
    std::swap(s[s.size() - 1], s[s.size() - 2]);
    Tensor y = alloc(DType::F32, s);
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) yp[o * m * n + j * m + i] = xp[o * m * n + i * n + j];
    return y;
}

Tensor CpuBackend::gatherRows(const Tensor& x, const std::vector<int64_t>& index) {
    const int64_t rows = x.dim(0), row_bytes = static_cast<int64_t>(x.bytes()) / std::max<int64_t>(rows, 1);
    Shape s = x.shape();
    s[0] = static_cast<int64_t>(index.size());
    Tensor y = alloc(x.dtype(), s);
    for (size_t i = 0; i < index.size(); ++i) {
        TS_ASSERT(index[i] >= 0 && index[i] < rows, "gatherRows: index out of range");
        std::memcpy(static_cast<char*>(y.raw()) + static_cast<int64_t>(i) * row_bytes,
                    static_cast<const char*>(x.raw()) + index[i] * row_bytes, static_cast<size_t>(row_bytes));
    }
    return y;
}

} // namespace tessera::cpu
