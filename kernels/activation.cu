#include "tessera/kernels/activation.cuh"
#include "tessera/kernels/device_common.cuh"

namespace tessera::kernels {

namespace {

// The CPU backend's formulas (applyActivation), with CUDA's full-precision expf/erff/tanhf.
__device__ float applyAct(float v, ActKind act) {
    switch (act) {
    case ActKind::Silu: return v / (1.0f + expf(-v));
    case ActKind::Gelu: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case ActKind::GeluTanh: return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case ActKind::QuickGelu: return v / (1.0f + expf(-1.702f * v));
    case ActKind::Relu: return v > 0.0f ? v : 0.0f;
    case ActKind::Identity: return v;
    }
    return v;
}

__global__ void activationKernel(const float* x, float* y, int64_t n, ActKind act) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = applyAct(x[i], act);
}

__global__ void swigluKernel(const float* g, const float* u, float* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

constexpr int kThreads = 256;
inline unsigned gridFor(int64_t n) { return blocksFor(n, kThreads) < 65535u ? blocksFor(n, kThreads) : 65535u; }

} // namespace

KernelStatus activationF32(const float* x, float* y, int64_t n, ActKind act, void* stream) {
    if (n == 0) return {};
    activationKernel<<<gridFor(n), kThreads, 0, asStream(stream)>>>(x, y, n, act);
    return launched("activationF32");
}

KernelStatus swigluF32(const float* gate, const float* up, float* y, int64_t n, void* stream) {
    if (n == 0) return {};
    swigluKernel<<<gridFor(n), kThreads, 0, asStream(stream)>>>(gate, up, y, n);
    return launched("swigluF32");
}

} // namespace tessera::kernels
