// Elementwise activations, f32: y = act(x); swiglu: y = silu(gate) · up.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// The engine's Activation enum in order: Silu, Gelu (erf), GeluTanh, QuickGelu, Relu, Identity.
enum class ActKind : int { Silu = 0, Gelu, GeluTanh, QuickGelu, Relu, Identity };

// x, y: n floats on the device (y may alias x).
KernelStatus activationF32(const float* x, float* y, int64_t n, ActKind act, void* stream);
KernelStatus swigluF32(const float* gate, const float* up, float* y, int64_t n, void* stream);

} // namespace tessera::kernels
