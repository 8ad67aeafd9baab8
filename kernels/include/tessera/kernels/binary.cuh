// Elementwise arithmetic, f32: a ⊕ b with b broadcast over a's rows, scaling, per-channel bias.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

enum class BinaryOp : int { Add = 0, Mul = 1 };

// y[i] = a[i] ⊕ b[i % m] for i < n (n % m == 0).
KernelStatus binaryF32(const float* a, const float* b, float* y, int64_t n, int64_t m, BinaryOp op, void* stream);
// y = x · s.
KernelStatus scaleF32(const float* x, float* y, int64_t n, float s, void* stream);
// x, y [batch, channels, inner]: y = x + bias[channel].
KernelStatus addChannelF32(const float* x, const float* bias, float* y, int64_t batch, int64_t channels,
                           int64_t inner, void* stream);

} // namespace tessera::kernels
