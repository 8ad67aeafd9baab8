// LayerNorm over the last dimension, f32, one block per row; mean and variance accumulate in f64
// like the CPU backend. The affine covers the trailing dimensions of x: weight/bias hold `period`·d
// values and row r uses slice (r % period), so [H, hd] weights give per-head QK-norm.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// x, y: [rows, d]; w, b: [period·d] or nullptr (no scale / no shift).
KernelStatus layerNormF32(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t d,
                          int64_t period, float eps, void* stream);

} // namespace tessera::kernels
