#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "tessera/engine/janus.h"
#include "tessera/engine/sampler.h"

namespace tessera {

TEST(Philox, MatchesThePublishedKnownAnswer) {
    // Philox4x32-10 known-answer vectors from the Random123 distribution (kat_vectors).
    const uint32_t zero[4] = {0, 0, 0, 0};
    uint32_t out[4];
    Philox::generate(0, zero, out);
    EXPECT_EQ(out[0], 0x6627e8d5u);
    EXPECT_EQ(out[1], 0xe169c58du);
    EXPECT_EQ(out[2], 0xbc57ac4cu);
    EXPECT_EQ(out[3], 0x9b00dbd8u);
    const uint32_t ones[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    Philox::generate(0xffffffffffffffffull, ones, out);
    EXPECT_EQ(out[0], 0x408f276du);
    EXPECT_EQ(out[1], 0x41c83b0eu);
    EXPECT_EQ(out[2], 0xa20bc7c6u);
    EXPECT_EQ(out[3], 0x6d5451fdu);
    const uint32_t pi[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    Philox::generate(0x299f31d0a4093822ull, pi, out);
    EXPECT_EQ(out[0], 0xd16cfe09u);
    EXPECT_EQ(out[1], 0x94fdccebu);
    EXPECT_EQ(out[2], 0x5001e420u);
    EXPECT_EQ(out[3], 0x24126ea1u);
}

TEST(Philox, UniformIsInRangeAndRoughlyUniform) {
    double sum = 0;
    for (uint64_t i = 0; i < 20000; ++i) {
        double u = Philox::uniform(42, 1, i);
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        sum += u;
    }
    EXPECT_NEAR(sum / 20000, 0.5, 0.01);
    EXPECT_NE(Philox::uniform(42, 0, 7), Philox::uniform(42, 1, 7)); // streams differ
}

TEST(Sampler, CfgCombineFollowsTheFormula) {
    const float c[3] = {1, 2, 3}, u[3] = {0, 2, 5};
    float out[3];
    cfgCombine(c, u, 5.0f, 3, out);
    EXPECT_FLOAT_EQ(out[0], 5);
    EXPECT_FLOAT_EQ(out[1], 2);
    EXPECT_FLOAT_EQ(out[2], -5);
}

TEST(Sampler, GreedyTopKTopPAndMinP) {
    const float logits[4] = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
    SamplerSettings s;
    s.temperature = 0;
    EXPECT_EQ(sampleToken(logits, 4, s, 0.99, 2).token, 3);
    s.temperature = 1;
    s.top_k = 2; // only {3, 2}: u below 0.4/0.7 picks 3, beyond it 2
    EXPECT_EQ(sampleToken(logits, 4, s, 0.55, 2).token, 3);
    EXPECT_EQ(sampleToken(logits, 4, s, 0.6, 2).token, 2);
    EXPECT_EQ(sampleToken(logits, 4, s, 0.99, 2).token, 2);
    s.top_k = 0;
    s.top_p = 0.65f; // 0.4 + 0.3 reaches 0.65: {3, 2}
    EXPECT_EQ(sampleToken(logits, 4, s, 0.99, 2).token, 2);
    s.top_p = 1;
    s.min_p = 0.6f; // keep p >= 0.24: {3, 2}
    EXPECT_EQ(sampleToken(logits, 4, s, 0.99, 2).token, 2);
    s.min_p = 0;
    auto c = sampleToken(logits, 4, s, 0.05, 3);
    EXPECT_EQ(c.token, 3);
    EXPECT_EQ(c.rank, 0);
    EXPECT_NEAR(c.probability, 0.4f, 1e-6);
    EXPECT_NEAR(c.entropy, -(0.1 * std::log(0.1) + 0.2 * std::log(0.2) + 0.3 * std::log(0.3) + 0.4 * std::log(0.4)), 1e-5);
    EXPECT_EQ(c.top_ids, (std::vector<int32_t>{3, 2, 1}));
}

TEST(Sampler, EmpiricalFrequenciesFollowTheDistribution) {
    const float logits[3] = {0.0f, std::log(2.0f), std::log(7.0f)}; // probs 0.1, 0.2, 0.7
    SamplerSettings s;
    std::map<int, int> counts;
    for (uint64_t i = 0; i < 20000; ++i) ++counts[sampleToken(logits, 3, s, Philox::uniform(7, 0, i), 0).token];
    EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.01);
    EXPECT_NEAR(counts[1] / 20000.0, 0.2, 0.015);
    EXPECT_NEAR(counts[2] / 20000.0, 0.7, 0.015);
}

TEST(Sampler, KlDivergenceOfKnownDistributions) {
    std::vector<float> p = {0.5f, 0.5f}, q = {0.25f, 0.75f};
    EXPECT_NEAR(klDivergence(p, q), 0.5 * std::log(2.0) + 0.5 * std::log(0.5 / 0.75), 1e-6);
    EXPECT_NEAR(klDivergence(p, p), 0.0, 1e-9);
}

} // namespace tessera
