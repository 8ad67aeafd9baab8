// Row softmax over the last dimension, f32, max-subtracted, sum in f64 (the CPU backend's softmaxRow).
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus softmaxF32(const float* x, float* y, int64_t rows, int64_t d, void* stream);

} // namespace tessera::kernels
