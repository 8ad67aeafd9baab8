#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/layer_norm.cuh"

namespace tessera::kernels {

namespace {

__global__ void layerNormKernel(const float* x, const float* w, const float* b, float* y, int64_t d, int64_t period,
                                float eps) {
    __shared__ double scratch[32];
    const int64_t r = blockIdx.x, base = r * d;
    double s = 0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += x[base + i];
    const double mean = blockReduce(s, scratch, SumOp{}, 0.0) / static_cast<double>(d);
    double v = 0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        const double c = x[base + i] - mean;
        v += c * c;
    }
    const double var = blockReduce(v, scratch, SumOp{}, 0.0) / static_cast<double>(d);
    const float inv = static_cast<float>(1.0 / sqrt(var + eps));
    const float meanf = static_cast<float>(mean);
    const int64_t off = (r % period) * d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        float o = (x[base + i] - meanf) * inv;
        if (w) o *= w[off + i];
        if (b) o += b[off + i];
        y[base + i] = o;
    }
}

} // namespace

KernelStatus layerNormF32(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t d,
                          int64_t period, float eps, void* stream) {
    if (rows == 0) return {};
    if (d <= 0 || period <= 0) return {false, "layerNormF32: bad shape"};
    layerNormKernel<<<static_cast<unsigned>(rows), 256, 0, asStream(stream)>>>(x, w, b, y, d, period, eps);
    return launched("layerNormF32");
}

} // namespace tessera::kernels
