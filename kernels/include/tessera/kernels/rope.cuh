// Rotary position embedding, rotate-half convention, f32: x [B, T, H, hd], tables cos/sin either
// [B, T, hd] (per-sequence positions, e.g. MM-RoPE) or [T, hd] shared by every sequence (shared = true).
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus ropeF32(const float* x, const float* cos, const float* sin, float* y, int64_t batch, int64_t t,
                     int64_t heads, int64_t hd, bool shared, void* stream);

} // namespace tessera::kernels
