// Attention over a KV cache, split-K ("flash-decoding"): the keys of each query row are cut into
// `splits` chunks; one block per (row, chunk) keeps an online softmax (running max, running sum, f32
// accumulator) over its chunk, and a second kernel merges the chunks. GQA: query head h reads cache
// head h / (Hq / Hkv). The same kernels serve decode (Tq = 1) and prefill or frame attention (every
// query row its own block), with causal, full or explicit masks. A row with no allowed key gives zeros.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

inline constexpr int64_t kAttentionMaxHeadDim = 256;

struct AttentionShape {
    int64_t batch = 0, tq = 0, hq = 0, hkv = 0, hd = 0;
    int64_t tmax = 0;   // cache capacity (positions)
    int64_t kv_len = 0; // keys in use; the queries are the last tq of them
    bool cache_bf16 = false;
    int mask_kind = 0; // 0 causal, 1 full, 2 explicit
    const uint8_t* mask = nullptr; // explicit: [tq, kv_len] or [batch, tq, kv_len], 1 = may attend
    bool mask_per_batch = false;
    float scale = 1.0f;
};

// How many chunks the launcher cuts each row's keys into for this shape (>= 1).
int64_t attentionSplits(const AttentionShape& s);
// Scratch floats attentionF32 needs: rows · splits · (hd + 2), rows = batch · tq · hq.
int64_t attentionScratchFloats(const AttentionShape& s);

// q, y: [batch, tq, hq, hd] f32; k, v: [batch, hkv, tmax, hd] (f32 or bf16); scratch as above.
KernelStatus attentionF32(const float* q, const void* k, const void* v, const AttentionShape& s, float* scratch,
                          float* y, void* stream);

} // namespace tessera::kernels
