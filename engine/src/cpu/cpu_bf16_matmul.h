// Matrix products with bf16 activations: y = round_bf16(x) · wᵀ for bf16 weights, f32 accumulation.
//
// This is the CPU backend's `activationDtype() == BF16` mode (backend.h): activations stay f32 in
// memory and are rounded to bf16 (nearest even) where they enter a product with bf16 weights, as a
// bf16 reference run rounds them. Products of two bf16 values are exact in f32, so the paths below
// differ only in the order the f32 sums are taken:
//   amx    Intel AMX tiles (TDPBF16PS), 32 weight rows × 32 activation rows per tile set: compute stops
//          being the limit, a 16-image batch with guidance reads the weights once at memory speed.
//   f32    elsewhere: the rounded activations go through the f32 GEMV/GEMM kernels (cpu_gemv.h).
// Results are bit-identical across thread counts and across row counts (an output element's sum never
// depends on the other rows or on how output features are split over threads), but not across paths:
// a recipe run with bf16 activations reproduces exactly on a machine that takes the same path.
#pragma once

#include "cpu/cpu_gemv.h"
#include "cpu/thread_pool.h"

#include <cstdint>
#include <vector>

namespace tessera::cpu {

// "amx" or "f32" (see above): what bf16MatmulRows will use on this machine and process. The first call
// asks the OS for permission to use AMX tile data (Linux arch_prctl); a refusal selects "f32".
const char* bf16MatmulPath();

// Round-to-nearest-even f32 → bf16, the rounding used for activations.
uint16_t roundToBf16(float v);

// Packed/rounded activations, kept between calls (grown once: no allocation in a steady state).
struct Bf16Scratch {
    std::vector<uint16_t> packed;
    std::vector<float> rounded;
};

// y [m, n] (row stride n) = round_bf16(x [m, k]) · w [n, k]ᵀ.
void bf16MatmulRows(ThreadPool& pool, const float* x, int64_t m, const Bf16* w, int64_t n, int64_t k, float* y,
                    Bf16Scratch& scratch);

} // namespace tessera::cpu
