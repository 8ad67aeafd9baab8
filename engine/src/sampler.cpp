// Sampling and the Philox counter-based RNG.
#include "tessera/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tessera/engine/janus.h"
#include "util/softmax_exact.h"

namespace tessera {

void Philox::generate(uint64_t key, const uint32_t counter[4], uint32_t out[4]) {
    constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = static_cast<uint64_t>(kM0) * c0, p1 = static_cast<uint64_t>(kM1) * c2;
        const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
        const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += kW0;
        k1 += kW1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

double Philox::uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    const uint32_t counter[4] = {static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                 static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
    uint32_t out[4];
    generate(seed, counter, out);
    // 53 random bits -> [0, 1).
    const uint64_t bits = (static_cast<uint64_t>(out[0]) << 21) ^ (static_cast<uint64_t>(out[1]) >> 11);
    return static_cast<double>(bits & ((uint64_t(1) << 53) - 1)) / static_cast<double>(uint64_t(1) << 53);
}

void cfgCombine(const float* cond, const float* uncond, float weight, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = uncond[i] + weight * (cond[i] - uncond[i]);
}

void temperedSoftmax(const float* logits, int64_t n, float temperature, std::vector<float>& probs) {
    // The engine's own exp and summation order (softmax_exact.h), so this reference and every
    // backend's sampler agree to the bit.
    const float t = temperature > 0 ? temperature : 1.0f;
    probs.resize(static_cast<size_t>(n));
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, logits[i] / t);
    softmax::LaneSum sum;
    for (int64_t i = 0; i < n; ++i) {
        probs[static_cast<size_t>(i)] = softmax::samplingExp(logits[i] / t - mx);
        sum.add(i, probs[static_cast<size_t>(i)]);
    }
    const float inv = softmax::reciprocal(sum.total());
    for (auto& p : probs) p = p * inv;
}

double klDivergence(const std::vector<float>& p, const std::vector<float>& q) {
    double kl = 0;
    for (size_t i = 0; i < p.size(); ++i)
        if (p[i] > 0) kl += p[i] * (std::log(static_cast<double>(p[i])) - std::log(std::max(static_cast<double>(q[i]), 1e-30)));
    return std::max(0.0, kl);
}

TokenChoice sampleToken(const float* logits, int64_t n, const SamplerSettings& s, double u, int report_k) {
    std::vector<float> probs;
    temperedSoftmax(logits, n, s.temperature, probs);
    // Candidates sorted by probability (ties by id, so the order is fully determined).
    std::vector<int32_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return probs[static_cast<size_t>(a)] != probs[static_cast<size_t>(b)] ? probs[static_cast<size_t>(a)] > probs[static_cast<size_t>(b)] : a < b;
    });
    TokenChoice c;
    double entropy = 0;
    for (float p : probs)
        if (p > 0) entropy -= p * std::log(static_cast<double>(p));
    c.entropy = static_cast<float>(entropy);
    for (int i = 0; i < std::min<int64_t>(report_k, n); ++i) {
        c.top_ids.push_back(order[static_cast<size_t>(i)]);
        c.top_probs.push_back(probs[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    }

    size_t keep = static_cast<size_t>(n);
    if (s.temperature <= 0) keep = 1;
    if (s.top_k > 0) keep = std::min(keep, static_cast<size_t>(s.top_k));
    if (s.min_p > 0) {
        const float floor = s.min_p * probs[static_cast<size_t>(order[0])];
        size_t k = 0;
        while (k < keep && probs[static_cast<size_t>(order[k])] >= floor) ++k;
        keep = std::max<size_t>(1, k);
    }
    if (s.top_p < 1.0f) {
        double cum = 0;
        size_t k = 0;
        while (k < keep) {
            cum += probs[static_cast<size_t>(order[k])];
            ++k;
            if (cum >= s.top_p) break;
        }
        keep = std::max<size_t>(1, k);
    }
    double total = 0;
    for (size_t i = 0; i < keep; ++i) total += probs[static_cast<size_t>(order[i])];
    const double target = u * total;
    double cum = 0;
    size_t pick = keep - 1;
    for (size_t i = 0; i < keep; ++i) {
        cum += probs[static_cast<size_t>(order[i])];
        if (target < cum) {
            pick = i;
            break;
        }
    }
    c.token = order[pick];
    c.rank = static_cast<int>(pick);
    c.probability = probs[static_cast<size_t>(c.token)];
    return c;
}

} // namespace tessera
