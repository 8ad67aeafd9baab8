// RMSNorm over the last dimension: y = x / sqrt(mean(x²) + eps) * w, f32, one block per row.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// x, y: [rows, d] device pointers; w: [d]. `stream` is a cudaStream_t (nullptr = default stream).
KernelStatus rmsNormF32(const float* x, const float* w, float* y, int64_t rows, int64_t d, float eps,
                        void* stream);

// The pre-norm residual step fused: sum = x + residual (written to `sum`, which may alias x or
// residual), y = rmsNorm(sum) · w. One pass over the row instead of three.
KernelStatus addRmsNormF32(const float* x, const float* residual, const float* w, float* sum, float* y,
                           int64_t rows, int64_t d, float eps, void* stream);

} // namespace tessera::kernels
