// Nearest-neighbour 2x upsampling of NCHW f32: x [planes, h, w] -> y [planes, 2h, 2w].
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus upsampleNearest2xF32(const float* x, float* y, int64_t planes, int64_t h, int64_t w, void* stream);

} // namespace tessera::kernels
