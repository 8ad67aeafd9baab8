// Element type conversions on the device: 16-bit floats to f32 (exact) and f32 to bf16/f16 (round to
// nearest even), e.g. activations narrowed for a bf16 tensor-core GEMM.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// src: n bf16 (bf16 = true) or f16 values; dst: n floats.
KernelStatus widen16(const uint16_t* src, bool bf16, float* dst, int64_t n, void* stream);
// src: n floats; dst: n bf16 or f16 values.
KernelStatus narrowF32(const float* src, bool bf16, uint16_t* dst, int64_t n, void* stream);

} // namespace tessera::kernels
