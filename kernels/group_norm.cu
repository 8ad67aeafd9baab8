#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/group_norm.cuh"

namespace tessera::kernels {

namespace {

__global__ void groupNormKernel(const float* x, const float* w, const float* b, float* y, int64_t channels,
                                int64_t inner, int groups, float eps) {
    __shared__ double scratch[32];
    const int64_t bg = blockIdx.x, img = bg / groups, g = bg % groups, cpg = channels / groups;
    const int64_t base = (img * channels + g * cpg) * inner, n = cpg * inner;
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[base + i];
    const double mean = blockReduce(s, scratch, SumOp{}, 0.0) / static_cast<double>(n);
    double v = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const double c = x[base + i] - mean;
        v += c * c;
    }
    const double var = blockReduce(v, scratch, SumOp{}, 0.0) / static_cast<double>(n);
    const float inv = static_cast<float>(1.0 / sqrt(var + eps));
    const float meanf = static_cast<float>(mean);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const int64_t c = g * cpg + i / inner;
        y[base + i] = (x[base + i] - meanf) * inv * w[c] + b[c];
    }
}

} // namespace

KernelStatus groupNormF32(const float* x, const float* w, const float* b, float* y, int64_t batch, int64_t channels,
                          int64_t inner, int groups, float eps, void* stream) {
    if (batch * channels * inner == 0) return {};
    if (groups <= 0 || channels % groups != 0) return {false, "groupNormF32: channels not divisible by groups"};
    groupNormKernel<<<static_cast<unsigned>(batch * groups), 256, 0, asStream(stream)>>>(x, w, b, y, channels, inner,
                                                                                         groups, eps);
    return launched("groupNormF32");
}

} // namespace tessera::kernels
