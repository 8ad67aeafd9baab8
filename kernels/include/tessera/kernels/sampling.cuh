// Sampling on the device, one block per token to draw, with the CPU backend's algorithm operation for
// operation (engine/src/cpu/cpu_sampling.cpp, softmax_exact.h), so a seed gives the same tokens:
//   guided logits g = u + w·(c − u) without fused multiply-adds; p = samplingExp(g/T − max) summed in the
//   canonical 16-lane f64 order, normalised by one f32 reciprocal; candidates ranked through the
//   2,048-bucket histogram of p's bit patterns (per-bucket f64 masses are exact sums, so the order of
//   atomic additions cannot change them); only the buckets a query ends in are gathered and sorted
//   (p descending, id ascending); top-k, min-p, top-p and the final draw walk the ranking exactly as
//   the CPU does. The Philox uniform of each row is computed on the host (it is a pure function of
//   seed, stream and index) and passed in.
// Entropy and KL are statistics: they are summed in another order than on the CPU (tolerance ~1e-6).
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

struct SampleRowDesc {
    int64_t cond = 0;
    int64_t uncond = -1; // -1: no guidance
    float cfg = 1.0f;
    int32_t forced = -1; // >= 0: take this token, statistics still computed
    double uniform = 0;  // Philox uniform in [0, 1) for this row
};

struct SampleConfig {
    float temperature = 1.0f; // <= 0: greedy (distribution at T = 1)
    int top_k = 0;
    float top_p = 1.0f;
    float min_p = 0.0f;
    int report_k = 5; // <= 1024
    bool guidance_kl = true;
};

// Per-row results as they come back to the host.
struct SampleRowOut {
    int32_t token;
    float probability;
    float entropy;
    int32_t rank;
    float guidance_kl;
    int32_t status; // 0 ok, 1 non-finite logits, 2 forced token outside the vocabulary
};

// Scratch bytes sampleRows needs for `rows` rows over a vocabulary of `vocab`.
size_t sampleScratchBytes(int64_t rows, int64_t vocab);

// logits: [*, vocab] f32; rows: `n` descriptors (device memory); out: n SampleRowOut followed by
// n·report_k int32 ids and n·report_k float probabilities (device memory); scratch as above.
KernelStatus sampleRows(const float* logits, int64_t vocab, const SampleRowDesc* rows, int64_t n,
                        const SampleConfig& config, void* scratch, void* out, void* stream);

} // namespace tessera::kernels
