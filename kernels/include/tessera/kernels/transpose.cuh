// Swap the last two dimensions of an f32 tensor: x [outer, m, n] -> y [outer, n, m].
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus transposeLast2F32(const float* x, float* y, int64_t outer, int64_t m, int64_t n, void* stream);

} // namespace tessera::kernels
