// Sampling as a backend op: logits stay where they were computed; only ids and O(rows·k) statistics
// come back to the host.
//
// Semantics (every backend, bit for bit where the arithmetic allows): for each SampleRow the guided
// logits are g = u + w·(c − u) (or c alone without an unconditional row), the distribution is
// p = softmax(g / T) (T ≤ 0 uses T = 1 for the distribution and picks greedily), candidates are ranked
// by p descending with ties broken by lower id, and filtering keeps a prefix of that ranking: top-k, then
// min-p (p ≥ min_p·p_max), then top-p (the shortest prefix whose mass reaches top_p). The token is the
// first candidate of the prefix whose running mass exceeds u·(prefix mass), u the Philox uniform of
// (seed, stream, index). The host reference is sampleToken() in sampler.h; a backend selects without
// sorting the vocabulary (the CPU backend ranks by a histogram of the probabilities' bits and sorts one
// bucket).
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

// One token to draw: which logits rows it comes from and how they are guided.
struct SampleRow {
    int64_t cond = 0;    // logits row of the conditional branch
    int64_t uncond = -1; // logits row of the unconditional branch; -1: no guidance
    float cfg = 1.0f;    // guidance weight for this row (per row and per step, so schedules work)
    uint64_t stream = 0; // Philox stream (the image index)
    uint64_t index = 0;  // Philox index (the position)
    int32_t forced = -1; // >= 0: take this token (replay, branching); statistics are still computed
};

struct SampleParams {
    uint64_t seed = 0;
    float temperature = 1.0f; // 0 = greedy
    int top_k = 0;            // 0 = off
    float top_p = 1.0f;       // 1 = off
    float min_p = 0.0f;       // 0 = off
    int report_k = 5;         // alternatives reported per token
    bool guidance_kl = true;  // KL(guided ‖ conditional) per guided row (one more pass over the vocabulary)
};

// Results, one entry per SampleRow (structure of arrays, reused from step to step without reallocating
// once sized). top_ids/top_probs hold report_k entries per row (-1 / 0 past the vocabulary).
struct SampleResult {
    int report_k = 0;
    std::vector<int32_t> token;
    std::vector<float> probability; // p(token) under the tempered, guided distribution (before filtering)
    std::vector<float> entropy;     // nats, same distribution
    std::vector<int32_t> rank;      // 0 = most likely
    std::vector<float> guidance_kl; // KL(guided ‖ conditional) in nats; 0 without guidance
    std::vector<int32_t> top_ids;
    std::vector<float> top_probs;

    void resize(size_t rows, int k);
    size_t bytes() const; // what a backend copies back to the host for it
};

} // namespace tessera
