// Writes new keys or values src [B, T, H, hd] (f32) into a cache [B, H, Tmax, hd] (f32 or bf16) at
// positions [pos, pos + T). The caller checks pos + T <= Tmax.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

KernelStatus kvWrite(void* cache, bool cache_bf16, const float* src, int64_t batch, int64_t t, int64_t heads,
                     int64_t hd, int64_t tmax, int64_t pos, void* stream);

} // namespace tessera::kernels
