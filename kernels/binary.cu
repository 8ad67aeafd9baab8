#include "tessera/kernels/binary.cuh"
#include "tessera/kernels/device_common.cuh"

namespace tessera::kernels {

namespace {

constexpr int kThreads = 256;
inline unsigned gridFor(int64_t n) { return blocksFor(n, kThreads) < 65535u ? blocksFor(n, kThreads) : 65535u; }

__global__ void binaryKernel(const float* a, const float* b, float* y, int64_t n, int64_t m, BinaryOp op) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float bv = b[i % m];
        y[i] = op == BinaryOp::Add ? a[i] + bv : a[i] * bv;
    }
}

__global__ void scaleKernel(const float* x, float* y, int64_t n, float s) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = x[i] * s;
}

__global__ void addChannelKernel(const float* x, const float* bias, float* y, int64_t n, int64_t channels,
                                 int64_t inner) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = x[i] + bias[(i / inner) % channels];
}

} // namespace

KernelStatus binaryF32(const float* a, const float* b, float* y, int64_t n, int64_t m, BinaryOp op, void* stream) {
    if (n == 0) return {};
    if (m <= 0 || n % m != 0) return {false, "binaryF32: operand does not broadcast"};
    binaryKernel<<<gridFor(n), kThreads, 0, asStream(stream)>>>(a, b, y, n, m, op);
    return launched("binaryF32");
}

KernelStatus scaleF32(const float* x, float* y, int64_t n, float s, void* stream) {
    if (n == 0) return {};
    scaleKernel<<<gridFor(n), kThreads, 0, asStream(stream)>>>(x, y, n, s);
    return launched("scaleF32");
}

KernelStatus addChannelF32(const float* x, const float* bias, float* y, int64_t batch, int64_t channels,
                           int64_t inner, void* stream) {
    const int64_t n = batch * channels * inner;
    if (n == 0) return {};
    addChannelKernel<<<gridFor(n), kThreads, 0, asStream(stream)>>>(x, bias, y, n, channels, inner);
    return launched("addChannelF32");
}

} // namespace tessera::kernels
