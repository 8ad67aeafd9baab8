#include "tessera/kernels/convert.cuh"
#include "tessera/kernels/device_common.cuh"

namespace tessera::kernels {

namespace {

__global__ void widenKernel(const uint16_t* src, bool bf, float* dst, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dst[i] = load16(src, i, bf);
}

__global__ void narrowKernel(const float* src, bool bf, uint16_t* dst, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dst[i] = bf ? toBf16(src[i]) : __half_as_ushort(__float2half_rn(src[i]));
}

inline unsigned gridFor(int64_t n) { return blocksFor(n, 256) < 65535u ? blocksFor(n, 256) : 65535u; }

} // namespace

KernelStatus widen16(const uint16_t* src, bool bf16, float* dst, int64_t n, void* stream) {
    if (n == 0) return {};
    widenKernel<<<gridFor(n), 256, 0, asStream(stream)>>>(src, bf16, dst, n);
    return launched("widen16");
}

KernelStatus narrowF32(const float* src, bool bf16, uint16_t* dst, int64_t n, void* stream) {
    if (n == 0) return {};
    narrowKernel<<<gridFor(n), 256, 0, asStream(stream)>>>(src, bf16, dst, n);
    return launched("narrowF32");
}

} // namespace tessera::kernels
