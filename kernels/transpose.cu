#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/transpose.cuh"

namespace tessera::kernels {

namespace {

// One thread per output element (reads strided, writes coalesced): simple, and off the decode path.
__global__ void transposeKernel(const float* x, float* y, int64_t m, int64_t n, int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t o = i / (m * n), rem = i % (m * n), j = rem / m, r = rem % m; // y[o][j][r]
        y[i] = x[o * m * n + r * n + j];
    }
}

} // namespace

KernelStatus transposeLast2F32(const float* x, float* y, int64_t outer, int64_t m, int64_t n, void* stream) {
    const int64_t total = outer * m * n;
    if (total == 0) return {};
    const unsigned grid = blocksFor(total, 256) < 65535u ? blocksFor(total, 256) : 65535u;
    transposeKernel<<<grid, 256, 0, asStream(stream)>>>(x, y, m, n, total);
    return launched("transposeLast2F32");
}

} // namespace tessera::kernels
