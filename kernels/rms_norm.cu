#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/rms_norm.cuh"

namespace tessera::kernels {

namespace {

// residual == nullptr: plain RMSNorm of x. Otherwise the row is x + residual, stored to `sum` first.
__global__ void rmsNormKernel(const float* x, const float* residual, const float* w, float* sum, float* y, int64_t d,
                              float eps) {
    __shared__ float scratch[32];
    const int64_t base = static_cast<int64_t>(blockIdx.x) * d;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        float v = x[base + i];
        if (residual) {
            v += residual[base + i];
            sum[base + i] = v;
        }
        ss += v * v;
    }
    ss = blockReduce(ss, scratch, SumOp{}, 0.0f);
    const float inv = rsqrtf(ss / static_cast<float>(d) + eps);
    // Each thread rereads only the elements it wrote itself, so no barrier is needed before the reread.
    const float* src = residual ? sum : x;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) y[base + i] = src[base + i] * inv * w[i];
}

} // namespace

KernelStatus rmsNormF32(const float* x, const float* w, float* y, int64_t rows, int64_t d, float eps, void* stream) {
    if (rows == 0) return {};
    rmsNormKernel<<<static_cast<unsigned>(rows), 256, 0, asStream(stream)>>>(x, nullptr, w, nullptr, y, d, eps);
    return launched("rmsNormF32");
}

KernelStatus addRmsNormF32(const float* x, const float* residual, const float* w, float* sum, float* y, int64_t rows,
                           int64_t d, float eps, void* stream) {
    if (rows == 0) return {};
    rmsNormKernel<<<static_cast<unsigned>(rows), 256, 0, asStream(stream)>>>(x, residual, w, sum, y, d, eps);
    return launched("addRmsNormF32");
}

} // namespace tessera::kernels
