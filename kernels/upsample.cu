#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/upsample.cuh"

namespace tessera::kernels {

namespace {

__global__ void upsampleKernel(const float* x, float* y, int64_t h, int64_t w, int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t ox = i % (2 * w), oy = (i / (2 * w)) % (2 * h), p = i / (4 * h * w);
        y[i] = x[(p * h + oy / 2) * w + ox / 2];
    }
}

} // namespace

KernelStatus upsampleNearest2xF32(const float* x, float* y, int64_t planes, int64_t h, int64_t w, void* stream) {
    const int64_t total = planes * 4 * h * w;
    if (total == 0) return {};
    const unsigned grid = blocksFor(total, 256) < 65535u ? blocksFor(total, 256) : 65535u;
    upsampleKernel<<<grid, 256, 0, asStream(stream)>>>(x, y, h, w, total);
    return launched("upsampleNearest2xF32");
}

} // namespace tessera::kernels
