#include "tessera/kernels/conv2d.cuh"
#include "tessera/kernels/device_common.cuh"

namespace tessera::kernels {

namespace {

__global__ void im2colKernel(const float* x, Conv2dShape s, int64_t p0, int64_t columns, float* col, int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t j = i % columns, r = i / columns;
        const int64_t c = r / (s.kh * s.kw), ky = (r / s.kw) % s.kh, kx = r % s.kw;
        const int64_t p = p0 + j, oy = p / s.wo, ox = p % s.wo;
        const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
        col[i] = (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) ? x[(c * s.h + iy) * s.w + ix] : 0.0f;
    }
}

} // namespace

KernelStatus im2colTile(const float* x, const Conv2dShape& s, int64_t p0, int64_t columns, float* col, void* stream) {
    const int64_t total = s.cin * s.kh * s.kw * columns;
    if (total == 0) return {};
    const unsigned grid = blocksFor(total, 256) < 65535u ? blocksFor(total, 256) : 65535u;
    im2colKernel<<<grid, 256, 0, asStream(stream)>>>(x, s, p0, columns, col, total);
    return launched("im2colTile");
}

} // namespace tessera::kernels
