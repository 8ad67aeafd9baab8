// Lumos-1's multimodal RoPE (MM-RoPE) and frame-causal attention mask, computed from a token sequence
// laid out as Lumos-1 lays it out: `[8197] [gridH] [gridW] (rows of codes, each ended by 8803) [8196]`
// per latent frame.
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/status.h"

namespace tessera {

struct LumosTokens {
    int64_t frame_start = 8197;
    int64_t frame_end = 8196;
    int64_t newline = 8803;
};

// Per-token positions. Content tokens of a frame (codes and newline columns) get
// t = P0 + 4·frame, h = P0 + 8·row, w = P0 + 8·column, where P0 is the sequence index of frame 0's
// first content token; every other token has t = h = w = its sequence index.
struct MmRopePositions {
    std::vector<int64_t> text, t, h, w;
    std::vector<uint8_t> content; // 1 for frame content tokens
};

// A final frame that has begun but not ended (generation in progress) extends to the end.
Expected<MmRopePositions> mmRopePositions(const std::vector<int64_t>& ids, const LumosTokens& tokens = {});

// cos/sin [1, T, head_dim]: frequency j (and its rotate-half pair j + D/2) follows the time axis for
// j % 16 in {0..3}, height for {4,5,8,9,12,13}, width for {6,7,10,11,14,15}. head_dim % 16 == 0.
RopeTables mmRopeTables(Backend& backend, const MmRopePositions& pos, int64_t head_dim, double theta);

// allowed[i * T + j] = j <= i, or i and j lie in the same frame segment [8197 … 8196].
std::vector<uint8_t> frameCausalMask(const std::vector<int64_t>& ids, const LumosTokens& tokens = {});

} // namespace tessera
