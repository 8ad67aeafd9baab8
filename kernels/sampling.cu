// Sections: the exact softmax arithmetic · the ranked view (histogram, bucket gather and sort, walks) ·
// the row kernel · the launcher.
#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/sampling.cuh"

namespace tessera::kernels {

namespace {

constexpr int kThreads = 1024;
constexpr int kBucketShift = 20;
constexpr int kBuckets = 1 << (32 - kBucketShift - 1);

// ---- the exact softmax arithmetic (softmax_exact.h, every rounding spelled out) ----------------------

__device__ __forceinline__ float samplingExp(float x) {
    constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
    constexpr float kRoundMagic = 12582912.0f, kMinInput = -87.3f, kMaxInput = 88.7f;
    constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                    kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
    if (!(x >= kMinInput)) return x != x ? x : 0.0f;
    if (x > kMaxInput) return INFINITY;
    const float t = fmaf(x, kLog2e, kRoundMagic);
    const float n = __fsub_rn(t, kRoundMagic);
    float r = fmaf(-n, kLn2Hi, x);
    r = fmaf(-n, kLn2Lo, r);
    const float z = __fmul_rn(r, r);
    float p = fmaf(kP0, r, kP1);
    p = fmaf(p, r, kP2);
    p = fmaf(p, r, kP3);
    p = fmaf(p, r, kP4);
    p = fmaf(p, r, kP5);
    p = fmaf(p, z, r);
    p = __fadd_rn(p, 1.0f);
    const int32_t e = static_cast<int32_t>(n) + 127;
    return __fmul_rn(p, __uint_as_float(static_cast<uint32_t>(e) << 23));
}

__device__ __forceinline__ float tempered(float v, float t) { return t == 1.0f ? v : __fdiv_rn(v, t); }
__device__ __forceinline__ int bucketOf(float p) { return static_cast<int>(__float_as_uint(p) >> kBucketShift); }

// ---- the ranked view ----------------------------------------------------------------------------------
// Every thread of the block runs the same queries on the same shared data and reaches the same answers,
// so the barriers inside loadBucket are met by all threads.

struct View {
    const float* p;
    int64_t n;
    int* count;       // [kBuckets], shared
    double* mass;     // [kBuckets], shared
    int32_t* members; // [pow2 >= n], global scratch: the loaded bucket, ranked
    int* loaded;      // shared: bucket held in members (-1: none)
    int* size;        // shared: its member count
};

__device__ __forceinline__ bool ranksBefore(const float* p, int32_t a, int32_t b) {
    if (b < 0) return a >= 0; // padding sorts last
    if (a < 0) return false;
    return p[a] != p[b] ? p[a] > p[b] : a < b;
}

__device__ void loadBucket(const View& v, int b) {
    if (*v.loaded == b) return;
    __syncthreads(); // nobody still reads the previous bucket
    if (threadIdx.x == 0) *v.size = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < v.n; i += blockDim.x)
        if (bucketOf(v.p[i]) == b) v.members[atomicAdd(v.size, 1)] = static_cast<int32_t>(i);
    __syncthreads();
    const int n = *v.size;
    int pow2 = 1;
    while (pow2 < n) pow2 <<= 1;
    for (int i = n + static_cast<int>(threadIdx.x); i < pow2; i += blockDim.x) v.members[i] = -1;
    __syncthreads();
    // Bitonic sort into rank order (the gather above filled slots in no particular order).
    for (int k = 2; k <= pow2; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < pow2; i += blockDim.x) {
                const int l = i ^ j;
                if (l <= i) continue;
                const int32_t a = v.members[i], c = v.members[l];
                const bool forward = (i & k) == 0;
                if (forward ? ranksBefore(v.p, c, a) : ranksBefore(v.p, a, c)) {
                    v.members[i] = c;
                    v.members[l] = a;
                }
            }
            __syncthreads();
        }
    }
    if (threadIdx.x == 0) *v.loaded = b;
    __syncthreads();
}

__device__ int32_t rankedAt(const View& v, int64_t r) {
    for (int b = kBuckets - 1; b >= 0; --b) {
        const int64_t c = v.count[b];
        if (r < c) {
            loadBucket(v, b);
            return v.members[r];
        }
        r -= c;
    }
    return static_cast<int32_t>(v.n - 1);
}

__device__ double massOfTop(const View& v, int64_t k) {
    double m = 0;
    for (int b = kBuckets - 1; b >= 0 && k > 0; --b) {
        const int64_t c = v.count[b];
        if (c <= k) {
            m += v.mass[b];
            k -= c;
        } else {
            loadBucket(v, b);
            for (int64_t i = 0; i < k; ++i) m += v.p[v.members[i]];
            k = 0;
        }
    }
    return m;
}

__device__ int64_t countAtLeast(const View& v, float floor) {
    int64_t k = 0;
    const int fb = bucketOf(floor);
    for (int b = kBuckets - 1; b > fb; --b) k += v.count[b];
    loadBucket(v, fb);
    for (int i = 0; i < *v.size; ++i)
        if (v.p[v.members[i]] >= floor) ++k;
    return k;
}

// First rank r < limit at which the running mass (including r) reaches the target: cum >= target
// (inclusive) or cum > target (strict); limit - 1 if none.
__device__ int64_t walk(const View& v, int64_t limit, double target, bool strict) {
    double cum = 0;
    int64_t base = 0;
    for (int b = kBuckets - 1; b >= 0 && base < limit; --b) {
        const int64_t c = v.count[b];
        if (c == 0) continue;
        const double whole = cum + v.mass[b];
        const bool stops = strict ? target < whole : whole >= target;
        if (base + c <= limit && !stops) {
            cum = whole;
            base += c;
            continue;
        }
        loadBucket(v, b);
        for (int64_t i = 0; i < c && base + i < limit; ++i) {
            cum += v.p[v.members[i]];
            if (strict ? target < cum : cum >= target) return base + i;
        }
        base += c;
    }
    return limit - 1;
}

// ---- the row kernel -----------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) sampleKernel(const float* logits, int64_t vocab, const SampleRowDesc* rows,
                                                         int64_t n_rows, SampleConfig cfg, float* scratch_f,
                                                         int32_t* scratch_i, int64_t member_stride, SampleRowOut* out,
                                                         int32_t* top_ids, float* top_probs) {
    __shared__ int count[kBuckets];
    __shared__ double mass[kBuckets];
    __shared__ float fred[32];
    __shared__ int ired[32];
    __shared__ double dred[32];
    __shared__ double lanes[16];
    __shared__ int loaded, size, bad;
    const int64_t r = blockIdx.x;
    const SampleRowDesc row = rows[r];
    const float* c = logits + row.cond * vocab;
    const float* u = row.uncond >= 0 ? logits + row.uncond * vocab : nullptr;
    float* g = scratch_f + r * 2 * vocab;
    float* p = g + vocab;
    int32_t* members = scratch_i + r * member_stride;
    const float t = cfg.temperature > 0 ? cfg.temperature : 1.0f;
    const float w = row.cfg;

    for (int i = threadIdx.x; i < kBuckets; i += blockDim.x) {
        count[i] = 0;
        mass[i] = 0;
    }
    if (threadIdx.x == 0) {
        loaded = -1;
        bad = 0;
    }
    __syncthreads();

    // Guided logits and their tempered maximum.
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float v = u ? __fadd_rn(u[i], __fmul_rn(w, __fsub_rn(c[i], u[i]))) : c[i];
        g[i] = v;
        if (!isfinite(v)) bad = 1;
        mx = fmaxf(mx, tempered(v, t));
    }
    mx = blockReduce(mx, fred, MaxOp{}, -INFINITY);
    // Unnormalised exponentials, and Σ e·shifted for the entropy (any order: a statistic).
    double dot = 0;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float shifted = __fsub_rn(tempered(g[i], t), mx);
        const float e = samplingExp(shifted);
        p[i] = e;
        dot += static_cast<double>(e) * shifted;
    }
    dot = blockReduce(dot, dred, SumOp{}, 0.0);
    __syncthreads(); // p complete before the lane sums read other threads' values
    // The canonical sum: lane L adds elements L, L + 16, L + 32, ... in index order.
    if (threadIdx.x < 16) {
        double acc = 0;
        for (int64_t i = threadIdx.x; i < vocab; i += 16) acc += p[i];
        lanes[threadIdx.x] = acc;
    }
    __syncthreads();
    double l[16];
    for (int i = 0; i < 16; ++i) l[i] = lanes[i];
    for (int half = 8; half >= 1; half /= 2)
        for (int i = 0; i < half; ++i) l[i] = l[i] + l[i + half];
    const double sum = l[0];
    if (bad || !isfinite(sum) || !(sum > 0)) {
        if (threadIdx.x == 0) out[r] = SampleRowOut{-1, 0.0f, 0.0f, 0, 0.0f, 1};
        return; // the whole block leaves together
    }
    const double log_sum = log(sum);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float q = __fmul_rn(p[i], inv);
        p[i] = q;
        const int b = bucketOf(q);
        atomicAdd(&count[b], 1);
        atomicAdd(&mass[b], static_cast<double>(q)); // exact: members of a bucket share one exponent
    }
    __syncthreads();
    const float entropy = static_cast<float>(fmax(0.0, log_sum - dot / sum));

    float kl = 0.0f;
    if (u && cfg.guidance_kl) {
        float mc = -INFINITY;
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) mc = fmaxf(mc, tempered(c[i], t));
        mc = blockReduce(mc, fred, MaxOp{}, -INFINITY);
        double sum_c = 0, cross = 0;
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
            const float yc = __fsub_rn(tempered(c[i], t), mc);
            sum_c += samplingExp(yc);
            cross += static_cast<double>(p[i]) * __fsub_rn(__fsub_rn(tempered(g[i], t), mx), yc);
        }
        sum_c = blockReduce(sum_c, dred, SumOp{}, 0.0);
        cross = blockReduce(cross, dred, SumOp{}, 0.0);
        kl = static_cast<float>(fmax(0.0, cross - log_sum + log(sum_c)));
    }

    const View v{p, vocab, count, mass, members, &loaded, &size};
    const int k = cfg.report_k;
    for (int i = 0; i < k; ++i) {
        const bool in = i < vocab;
        const int32_t id = in ? rankedAt(v, i) : -1;
        if (threadIdx.x == 0) {
            top_ids[r * k + i] = id;
            top_probs[r * k + i] = in ? p[id] : 0.0f;
        }
    }

    if (row.forced >= 0) {
        if (row.forced >= vocab) {
            if (threadIdx.x == 0) out[r] = SampleRowOut{row.forced, 0.0f, entropy, 0, kl, 2};
            return;
        }
        const int32_t tok = row.forced;
        const float pt = p[tok];
        int above = 0;
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
            if (p[i] > pt || (p[i] == pt && i < tok)) ++above;
        above = blockReduce(above, ired, SumOp{}, 0);
        if (threadIdx.x == 0) out[r] = SampleRowOut{tok, pt, entropy, above, kl, 0};
        return;
    }

    int64_t keep = vocab;
    if (cfg.temperature <= 0) keep = 1;
    if (cfg.top_k > 0 && cfg.top_k < keep) keep = cfg.top_k;
    if (cfg.min_p > 0) {
        const float floor = __fmul_rn(cfg.min_p, p[rankedAt(v, 0)]);
        const int64_t at_least = countAtLeast(v, floor);
        if (at_least < keep) keep = at_least;
        if (keep < 1) keep = 1;
    }
    if (cfg.top_p < 1.0f) {
        keep = walk(v, keep, static_cast<double>(cfg.top_p), false) + 1;
        if (keep < 1) keep = 1;
    }
    const double total = massOfTop(v, keep);
    const double target = row.uniform * total;
    const int64_t pick = walk(v, keep, target, true);
    const int32_t tok = rankedAt(v, pick);
    if (threadIdx.x == 0) out[r] = SampleRowOut{tok, p[tok], entropy, static_cast<int32_t>(pick), kl, 0};
}

int64_t pow2AtLeast(int64_t n) {
    int64_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

} // namespace

size_t sampleScratchBytes(int64_t rows, int64_t vocab) {
    return static_cast<size_t>(rows) * (static_cast<size_t>(2 * vocab) * sizeof(float) +
                                        static_cast<size_t>(pow2AtLeast(vocab)) * sizeof(int32_t));
}

KernelStatus sampleRows(const float* logits, int64_t vocab, const SampleRowDesc* rows, int64_t n,
                        const SampleConfig& config, void* scratch, void* out, void* stream) {
    if (n == 0) return {};
    if (vocab <= 0 || vocab >= (int64_t(1) << 30)) return {false, "sampleRows: vocabulary size out of range"};
    if (config.report_k < 0 || config.report_k > 1024) return {false, "sampleRows: report_k must be in [0, 1024]"};
    if (n > 0x7fffffffLL) return {false, "sampleRows: too many rows"};
    float* scratch_f = static_cast<float*>(scratch);
    int32_t* scratch_i = reinterpret_cast<int32_t*>(scratch_f + n * 2 * vocab);
    auto* rows_out = static_cast<SampleRowOut*>(out);
    auto* ids = reinterpret_cast<int32_t*>(rows_out + n);
    auto* probs = reinterpret_cast<float*>(ids + n * config.report_k);
    sampleKernel<<<static_cast<unsigned>(n), kThreads, 0, asStream(stream)>>>(
            logits, vocab, rows, n, config, scratch_f, scratch_i, pow2AtLeast(vocab), rows_out, ids, probs);
    return launched("sampleRows");
}

} // namespace tessera::kernels
