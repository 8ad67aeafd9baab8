#include <cuda_runtime.h>

#include "tessera/kernels/rms_norm.cuh"

namespace tessera::kernels {

namespace {

__global__ void rmsNormKernel(const float* x, const float* w, float* y, int64_t d, float eps) {
    const float* xr = x + blockIdx.x * d;
    float* yr = y + blockIdx.x * d;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
    __shared__ float partial[32];
    for (int offset = 16; offset > 0; offset >>= 1) ss += __shfl_down_sync(0xffffffffu, ss, offset);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        ss = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.f;
        for (int offset = 16; offset > 0; offset >>= 1) ss += __shfl_down_sync(0xffffffffu, ss, offset);
        if (threadIdx.x == 0) partial[0] = rsqrtf(ss / static_cast<float>(d) + eps);
    }
    __syncthreads();
    const float inv = partial[0];
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
}

} // namespace

KernelStatus rmsNormF32(const float* x, const float* w, float* y, int64_t rows, int64_t d, float eps, void* stream) {
    if (rows == 0) return {};
    rmsNormKernel<<<static_cast<unsigned>(rows), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, w, y, d, eps);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {false, std::string("rmsNormF32 launch: ") + cudaGetErrorString(e)};
    return {};
}

} // namespace tessera::kernels
