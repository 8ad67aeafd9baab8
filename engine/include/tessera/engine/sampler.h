// Token sampling: classifier-free guidance, temperature, top-k, top-p, min-p, and a counter-based RNG
// (Philox-4x32-10) so a seed gives the same tokens whatever the thread count or batch order.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

struct SamplerSettings;

// Philox-4x32-10: four 32-bit outputs per (key, counter); stateless, so any token's random number
// is a pure function of (seed, stream, index).
struct Philox {
    static void generate(uint64_t key, const uint32_t counter[4], uint32_t out[4]);
    // A uniform float in [0, 1) for (seed, stream, index): stream = image index, index = position.
    static double uniform(uint64_t seed, uint64_t stream, uint64_t index);
};

struct TokenChoice {
    int32_t token = 0;
    float probability = 0; // under the tempered, guided distribution (before top-k/p filtering)
    float entropy = 0;     // nats, same distribution
    int rank = 0;
    std::vector<int32_t> top_ids;
    std::vector<float> top_probs;
};

// l = u + w (c - u), elementwise.
void cfgCombine(const float* cond, const float* uncond, float weight, int64_t n, float* out);
// softmax(logits / temperature) into probs (temperature <= 0: treated as 1 for the distribution).
void temperedSoftmax(const float* logits, int64_t n, float temperature, std::vector<float>& probs);
// KL(p || q) in nats; terms where p is 0 contribute nothing.
double klDivergence(const std::vector<float>& p, const std::vector<float>& q);

// Picks a token from `logits` with settings (temperature 0 = greedy), using uniform u in [0, 1).
// Reports `report_k` alternatives.
TokenChoice sampleToken(const float* logits, int64_t n, const SamplerSettings& settings, double u, int report_k);

} // namespace tessera
