#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/pad.cuh"

namespace tessera::kernels {

namespace {

__global__ void padKernel(const float* x, float* y, int64_t h, int64_t w, int64_t pad, int64_t total) {
    const int64_t ho = h + pad, wo = w + pad;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t ox = i % wo, oy = (i / wo) % ho, p = i / (ho * wo);
        y[i] = (oy < h && ox < w) ? x[(p * h + oy) * w + ox] : 0.0f;
    }
}

} // namespace

KernelStatus padRightBottomF32(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int64_t pad,
                               void* stream) {
    const int64_t total = planes * (h + pad) * (w + pad);
    if (total == 0) return {};
    const unsigned grid = blocksFor(total, 256) < 65535u ? blocksFor(total, 256) : 65535u;
    padKernel<<<grid, 256, 0, asStream(stream)>>>(x, y, h, w, pad, total);
    return launched("padRightBottomF32");
}

} // namespace tessera::kernels
