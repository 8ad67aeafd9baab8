#include "tessera/kernels/attention.cuh"
#include "tessera/kernels/device_common.cuh"

namespace tessera::kernels {

namespace {

constexpr int kThreads = 128; // 4 warps; thread t owns output dims t and t + 128
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64; // keys scored per pass

__device__ __forceinline__ float cacheAt(const void* c, bool bf, int64_t i) {
    return bf ? bf16Bits(static_cast<const uint16_t*>(c)[i]) : static_cast<const float*>(c)[i];
}

__global__ void attentionPartialKernel(const float* q, const void* k, const void* v, AttentionShape s, int64_t splits,
                                       float* part_m, float* part_l, float* part_acc) {
    __shared__ float qs[kAttentionMaxHeadDim];
    __shared__ float scores[kTile];
    const int64_t row = blockIdx.x, split = blockIdx.y;
    const int64_t h = row % s.hq, i = (row / s.hq) % s.tq, b = row / (s.hq * s.tq);
    const int64_t kh = h / (s.hq / s.hkv), hd = s.hd;
    const int64_t cache_base = (b * s.hkv + kh) * s.tmax * hd;
    const int64_t chunk = (s.kv_len + splits - 1) / splits;
    const int64_t j0 = split * chunk, j1 = j0 + chunk < s.kv_len ? j0 + chunk : s.kv_len;
    const int64_t visible = s.kv_len - s.tq + i; // causal: keys [0, visible]
    const uint8_t* mrow = s.mask_kind == 2 ? s.mask + ((s.mask_per_batch ? b * s.tq : 0) + i) * s.kv_len : nullptr;
    for (int64_t d = threadIdx.x; d < hd; d += kThreads) qs[d] = q[row * hd + d];
    __syncthreads();

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t d0 = threadIdx.x, d1 = threadIdx.x + kThreads;
    float m = -INFINITY, l = 0.0f, acc0 = 0.0f, acc1 = 0.0f;
    for (int64_t t0 = j0; t0 < j1; t0 += kTile) {
        const int64_t n = j1 - t0 < kTile ? j1 - t0 : kTile;
        for (int64_t jj = warp; jj < n; jj += kWarps) {
            const int64_t j = t0 + jj;
            const bool ok = s.mask_kind == 1 || (s.mask_kind == 0 ? j <= visible : mrow[j] != 0);
            float dot = 0.0f;
            if (ok)
                for (int64_t d = lane; d < hd; d += 32) dot += qs[d] * cacheAt(k, s.cache_bf16, cache_base + j * hd + d);
            dot = warpSum(dot);
            if (lane == 0) scores[jj] = ok ? dot * s.scale : -INFINITY;
        }
        __syncthreads();
        float tile_max = -INFINITY;
        for (int64_t jj = 0; jj < n; ++jj) tile_max = fmaxf(tile_max, scores[jj]);
        const float new_m = fmaxf(m, tile_max);
        if (new_m != -INFINITY) {
            const float factor = m == -INFINITY ? 0.0f : expf(m - new_m);
            l *= factor;
            acc0 *= factor;
            acc1 *= factor;
            for (int64_t jj = 0; jj < n; ++jj) {
                const float sc = scores[jj];
                if (sc == -INFINITY) continue;
                const float p = expf(sc - new_m);
                l += p;
                const int64_t vrow = cache_base + (t0 + jj) * hd;
                if (d0 < hd) acc0 += p * cacheAt(v, s.cache_bf16, vrow + d0);
                if (d1 < hd) acc1 += p * cacheAt(v, s.cache_bf16, vrow + d1);
            }
            m = new_m;
        }
        __syncthreads(); // scores are rewritten by the next tile
    }
    const int64_t slot = row * gridDim.y + split;
    if (threadIdx.x == 0) {
        part_m[slot] = m;
        part_l[slot] = l;
    }
    if (d0 < hd) part_acc[slot * hd + d0] = acc0;
    if (d1 < hd) part_acc[slot * hd + d1] = acc1;
}

__global__ void attentionCombineKernel(const float* part_m, const float* part_l, const float* part_acc, int64_t splits,
                                       int64_t hd, float* y) {
    const int64_t row = blockIdx.x;
    float mx = -INFINITY;
    for (int64_t s = 0; s < splits; ++s) mx = fmaxf(mx, part_m[row * splits + s]);
    float total = 0.0f;
    for (int64_t s = 0; s < splits; ++s) {
        const float ms = part_m[row * splits + s];
        if (ms != -INFINITY) total += expf(ms - mx) * part_l[row * splits + s];
    }
    for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
        float out = 0.0f;
        if (mx != -INFINITY) {
            for (int64_t s = 0; s < splits; ++s) {
                const float ms = part_m[row * splits + s];
                if (ms != -INFINITY) out += expf(ms - mx) * part_acc[(row * splits + s) * hd + d];
            }
            out /= total;
        }
        y[row * hd + d] = out;
    }
}

} // namespace

int64_t attentionSplits(const AttentionShape& s) {
    const int64_t rows = s.batch * s.tq * s.hq;
    const int64_t by_blocks = rows > 0 ? (264 + rows - 1) / rows : 1; // about two waves of blocks on 132 SMs
    const int64_t by_keys = (s.kv_len + kTile - 1) / kTile;           // at least a tile of keys per chunk
    int64_t splits = by_blocks < by_keys ? by_blocks : by_keys;
    if (splits > 64) splits = 64;
    return splits < 1 ? 1 : splits;
}

int64_t attentionScratchFloats(const AttentionShape& s) {
    return s.batch * s.tq * s.hq * attentionSplits(s) * (s.hd + 2);
}

KernelStatus attentionF32(const float* q, const void* k, const void* v, const AttentionShape& s, float* scratch,
                          float* y, void* stream) {
    const int64_t rows = s.batch * s.tq * s.hq;
    if (rows == 0 || s.hd == 0) return {};
    if (s.hd > kAttentionMaxHeadDim) return {false, "attentionF32: head dimension above 256"};
    if (s.hkv <= 0 || s.hq % s.hkv != 0) return {false, "attentionF32: query heads not a multiple of KV heads"};
    if (s.kv_len < s.tq || s.kv_len > s.tmax) return {false, "attentionF32: kv_len outside [tq, tmax]"};
    if (rows > 0x7fffffffLL) return {false, "attentionF32: too many query rows"};
    const int64_t splits = attentionSplits(s);
    float* part_m = scratch;
    float* part_l = scratch + rows * splits;
    float* part_acc = scratch + 2 * rows * splits;
    const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(splits));
    attentionPartialKernel<<<grid, kThreads, 0, asStream(stream)>>>(q, k, v, s, splits, part_m, part_l, part_acc);
    KernelStatus st = launched("attentionF32 (partial)");
    if (!st.ok) return st;
    attentionCombineKernel<<<static_cast<unsigned>(rows), 128, 0, asStream(stream)>>>(part_m, part_l, part_acc, splits,
                                                                                      s.hd, y);
    return launched("attentionF32 (combine)");
}

} // namespace tessera::kernels
