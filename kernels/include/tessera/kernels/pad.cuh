// Zero padding on the right and bottom of NCHW f32 planes: x [planes, h, w] -> y [planes, h+pad, w+pad].
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus padRightBottomF32(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int64_t pad,
                               void* stream);

} // namespace tessera::kernels
