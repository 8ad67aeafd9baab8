#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/softmax.cuh"

namespace tessera::kernels {

namespace {

__global__ void softmaxKernel(const float* x, float* y, int64_t d) {
    __shared__ float fscratch[32];
    __shared__ double dscratch[32];
    const int64_t base = static_cast<int64_t>(blockIdx.x) * d;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) mx = fmaxf(mx, x[base + i]);
    mx = blockReduce(mx, fscratch, MaxOp{}, -INFINITY);
    double s = 0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        const float e = expf(x[base + i] - mx);
        y[base + i] = e;
        s += e;
    }
    const float inv = static_cast<float>(1.0 / blockReduce(s, dscratch, SumOp{}, 0.0));
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) y[base + i] *= inv;
}

} // namespace

KernelStatus softmaxF32(const float* x, float* y, int64_t rows, int64_t d, void* stream) {
    if (rows == 0) return {};
    softmaxKernel<<<static_cast<unsigned>(rows), 256, 0, asStream(stream)>>>(x, y, d);
    return launched("softmaxF32");
}

} // namespace tessera::kernels
