// Skinny matrix products for decode: y[m, n] = x[m, k] · w[n, k]ᵀ (+ bias[n]) for m <= kGemvMaxRows,
// weights read once as stored (f32, bf16 or f16) and widened in registers, f32 accumulation. One warp
// per output feature streams its weight row with 16-byte loads; the m activation rows are reused from
// cache. Larger m goes to cuBLAS (the backend decides).
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

inline constexpr int64_t kGemvMaxRows = 8;

// x: [m, k] f32; w: [n, k] of `elem`; bias: [n] f32 or nullptr; y: [m, n] f32 (must not alias x).
KernelStatus gemvRows(const float* x, int64_t m, const void* w, Elem elem, int64_t n, int64_t k, const float* bias,
                      float* y, void* stream);

} // namespace tessera::kernels
