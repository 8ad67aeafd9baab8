#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/rope.cuh"

namespace tessera::kernels {

namespace {

// One thread per (b, t, h, d < hd/2) pair of rotated elements.
__global__ void ropeKernel(const float* x, const float* cs, const float* sn, float* y, int64_t t, int64_t heads,
                           int64_t hd, bool shared, int64_t n) {
    const int64_t half = hd / 2;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t d = i % half, bth = i / half, bt = bth / heads;
        const int64_t row = (shared ? bt % t : bt) * hd;
        const float* xr = x + bth * hd;
        float* yr = y + bth * hd;
        const float a = xr[d], b = xr[d + half];
        // Written as the CPU writes it: two products and a difference, no fused multiply-add.
        yr[d] = __fsub_rn(__fmul_rn(a, cs[row + d]), __fmul_rn(b, sn[row + d]));
        yr[d + half] = __fadd_rn(__fmul_rn(b, cs[row + d + half]), __fmul_rn(a, sn[row + d + half]));
    }
}

} // namespace

KernelStatus ropeF32(const float* x, const float* cos, const float* sin, float* y, int64_t batch, int64_t t,
                     int64_t heads, int64_t hd, bool shared, void* stream) {
    const int64_t n = batch * t * heads * (hd / 2);
    if (n == 0) return {};
    if (hd % 2 != 0) return {false, "ropeF32: head dimension must be even"};
    const unsigned grid = blocksFor(n, 256) < 65535u ? blocksFor(n, 256) : 65535u;
    ropeKernel<<<grid, 256, 0, asStream(stream)>>>(x, cos, sin, y, t, heads, hd, shared, n);
    return launched("ropeF32");
}

} // namespace tessera::kernels
