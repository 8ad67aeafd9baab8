// GroupNorm for NCHW tensors, f32, one block per (image, group); statistics in f64 like the CPU.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// x, y: [batch, channels, inner]; w, b: [channels]. channels % groups == 0.
KernelStatus groupNormF32(const float* x, const float* w, const float* b, float* y, int64_t batch, int64_t channels,
                          int64_t inner, int groups, float eps, void* stream);

} // namespace tessera::kernels
