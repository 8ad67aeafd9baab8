#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/gemv.cuh"

namespace tessera::kernels {

namespace {

constexpr int kWarpsPerBlock = 4;

__device__ __forceinline__ float weightAt(const void* w, Elem elem, int64_t i) {
    return elem == Elem::F32 ? static_cast<const float*>(w)[i]
                             : load16(static_cast<const uint16_t*>(w), i, elem == Elem::BF16);
}

// vec16: 16-bit weights, k % 8 == 0 and 16-byte aligned rows: eight weights per load.
__global__ void gemvKernel(const float* x, int m, const void* w, Elem elem, int64_t n, int64_t k, const float* bias,
                           float* y, bool vec16) {
    const int lane = threadIdx.x & 31;
    const int64_t col = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
    if (col >= n) return;
    float acc[kGemvMaxRows];
#pragma unroll
    for (int r = 0; r < kGemvMaxRows; ++r) acc[r] = 0.0f;
    const int64_t row = col * k;
    if (vec16) {
        const bool bf = elem == Elem::BF16;
        const uint4* wr = reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(w) + row);
        for (int64_t c = lane; c < k / 8; c += 32) {
            const uint4 pack = wr[c];
            const uint16_t* h = reinterpret_cast<const uint16_t*>(&pack);
            float wv[8];
#pragma unroll
            for (int j = 0; j < 8; ++j) wv[j] = bf ? bf16Bits(h[j]) : f16Bits(h[j]);
#pragma unroll
            for (int r = 0; r < kGemvMaxRows; ++r) {
                if (r < m) {
                    const float4* xr = reinterpret_cast<const float4*>(x + r * k + c * 8);
                    const float4 a = xr[0], b = xr[1];
                    acc[r] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y +
                              wv[6] * b.z + wv[7] * b.w;
                }
            }
        }
    } else {
        for (int64_t i = lane; i < k; i += 32) {
            const float wv = weightAt(w, elem, row + i);
#pragma unroll
            for (int r = 0; r < kGemvMaxRows; ++r)
                if (r < m) acc[r] += wv * x[r * k + i];
        }
    }
#pragma unroll
    for (int r = 0; r < kGemvMaxRows; ++r) {
        if (r < m) {
            const float s = warpSum(acc[r]);
            if (lane == 0) y[r * n + col] = bias ? s + bias[col] : s;
        }
    }
}

} // namespace

KernelStatus gemvRows(const float* x, int64_t m, const void* w, Elem elem, int64_t n, int64_t k, const float* bias,
                      float* y, void* stream) {
    if (m == 0 || n == 0) return {};
    if (m > kGemvMaxRows) return {false, "gemvRows: more rows than kGemvMaxRows"};
    const bool aligned = reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
    const bool vec16 = elem != Elem::F32 && k % 8 == 0 && aligned;
    const unsigned grid = static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
    gemvKernel<<<grid, 32 * kWarpsPerBlock, 0, asStream(stream)>>>(x, static_cast<int>(m), w, elem, n, k, bias, y,
                                                                   vec16);
    return launched("gemvRows");
}

} // namespace tessera::kernels
