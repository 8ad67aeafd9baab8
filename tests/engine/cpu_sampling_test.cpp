// The sampling backend op against two independent references: the host sampler (a full sort of the
// vocabulary) for the token, and direct f64 formulas written here for the guided distribution, its
// argmax, entropy and KL.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/sampler.h"

namespace tessera {
namespace {

std::unique_ptr<Backend> cpu(int threads) {
    auto be = createBackend("cpu", threads);
    EXPECT_TRUE(be.ok()) << be.error();
    return std::move(*be);
}

enum class Shape_ { Peaked, Flat, Ties };

// rows × vocab logits: peaked (a few dominant codes), flat (nearly uniform), or many exact ties.
std::vector<float> makeLogits(int64_t rows, int64_t vocab, Shape_ shape, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, shape == Shape_::Flat ? 0.05f : 2.0f);
    std::vector<float> v(static_cast<size_t>(rows * vocab));
    for (auto& x : v) x = normal(rng);
    if (shape == Shape_::Ties)
        for (auto& x : v) x = std::round(x); // few distinct values: ranks decided by ids
    if (shape == Shape_::Peaked)
        for (int64_t r = 0; r < rows; ++r) v[static_cast<size_t>(r * vocab + (r * 37 + 5) % vocab)] += 8.0f;
    return v;
}

std::vector<double> guidedF64(const float* c, const float* u, float w, int64_t n) {
    std::vector<double> g(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) g[static_cast<size_t>(i)] = u ? double(u[i]) + double(w) * (double(c[i]) - double(u[i])) : c[i];
    return g;
}

std::vector<double> softmaxF64(const std::vector<double>& x, double t) {
    double mx = -INFINITY;
    for (double v : x) mx = std::max(mx, v / t);
    std::vector<double> p(x.size());
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) sum += p[i] = std::exp(x[i] / t - mx);
    for (auto& v : p) v /= sum;
    return p;
}

struct Case {
    float temperature, top_p, min_p;
    int top_k;
};

TEST(CpuSampling, SameTokensRanksAndAlternativesAsTheSortingHostSampler) {
    auto be = cpu(2);
    const Case cases[] = {{1.0f, 1.0f, 0.0f, 0}, {0.0f, 1.0f, 0.0f, 0}, {0.8f, 1.0f, 0.0f, 40},
                          {1.2f, 0.9f, 0.0f, 0}, {1.0f, 1.0f, 0.05f, 0}, {1.0f, 0.7f, 0.02f, 100}};
    const int64_t vocab = 4099, images = 6;
    int compared = 0;
    for (Shape_ shape : {Shape_::Peaked, Shape_::Flat, Shape_::Ties}) {
        const std::vector<float> host = makeLogits(2 * images, vocab, shape, 7u + static_cast<uint32_t>(shape));
        Tensor logits = be->fromF32(host, {2 * images, 1, vocab});
        for (const Case& c : cases) {
            SampleParams sp;
            sp.seed = 1234;
            sp.temperature = c.temperature;
            sp.top_k = c.top_k;
            sp.top_p = c.top_p;
            sp.min_p = c.min_p;
            sp.report_k = 5;
            std::vector<SampleRow> rows;
            for (int64_t im = 0; im < images; ++im) {
                SampleRow r;
                r.cond = 2 * im;
                r.uncond = 2 * im + 1;
                r.cfg = 4.5f;
                r.stream = static_cast<uint64_t>(im);
                r.index = static_cast<uint64_t>(11 * im + 3);
                rows.push_back(r);
            }
            SampleResult out;
            be->sample(logits, rows, sp, out);
            SamplerSettings ss;
            ss.temperature = c.temperature;
            ss.top_k = c.top_k;
            ss.top_p = c.top_p;
            ss.min_p = c.min_p;
            for (int64_t im = 0; im < images; ++im) {
                std::vector<float> guided(static_cast<size_t>(vocab));
                cfgCombine(&host[static_cast<size_t>(2 * im * vocab)], &host[static_cast<size_t>((2 * im + 1) * vocab)], 4.5f,
                           vocab, guided.data());
                const TokenChoice ref = sampleToken(guided.data(), vocab, ss, Philox::uniform(1234, static_cast<uint64_t>(im), static_cast<uint64_t>(11 * im + 3)), 5);
                const size_t i = static_cast<size_t>(im);
                ASSERT_EQ(out.token[i], ref.token) << "image " << im;
                EXPECT_EQ(out.rank[i], ref.rank);
                EXPECT_EQ(out.probability[i], ref.probability);
                for (int k = 0; k < 5; ++k) {
                    EXPECT_EQ(out.top_ids[i * 5 + static_cast<size_t>(k)], ref.top_ids[static_cast<size_t>(k)]);
                    EXPECT_EQ(out.top_probs[i * 5 + static_cast<size_t>(k)], ref.top_probs[static_cast<size_t>(k)]);
                }
                ++compared;
            }
        }
    }
    EXPECT_EQ(compared, 3 * 6 * 6);
}

TEST(CpuSampling, GreedyIsTheArgmaxOfTheGuidedLogitsComputedIndependently) {
    auto be = cpu(2);
    const int64_t vocab = 16384, images = 4;
    const std::vector<float> host = makeLogits(2 * images, vocab, Shape_::Flat, 99);
    Tensor logits = be->fromF32(host, {2 * images, 1, vocab});
    for (float w : {1.0f, 3.0f, 7.5f}) {
        std::vector<SampleRow> rows;
        for (int64_t im = 0; im < images; ++im) rows.push_back({2 * im, 2 * im + 1, w, static_cast<uint64_t>(im), 0, -1});
        SampleParams sp;
        sp.temperature = 0;
        SampleResult out;
        be->sample(logits, rows, sp, out);
        for (int64_t im = 0; im < images; ++im) {
            const auto g = guidedF64(&host[static_cast<size_t>(2 * im * vocab)], &host[static_cast<size_t>((2 * im + 1) * vocab)], w, vocab);
            const auto best = std::max_element(g.begin(), g.end()) - g.begin();
            EXPECT_EQ(out.token[static_cast<size_t>(im)], best) << "cfg " << w << " image " << im;
            EXPECT_EQ(out.rank[static_cast<size_t>(im)], 0);
        }
    }
}

TEST(CpuSampling, SwappedRowsOrAnIgnoredWeightChangeTheGreedyToken) {
    // The conditional and unconditional rows are built so that each wrong use picks a different code.
    auto be = cpu(1);
    const int64_t vocab = 8;
    std::vector<float> host(2 * vocab, 0.0f);
    host[1] = 2.0f;         // cond favours 1 ...
    host[2] = 1.9f;         // ... and 2, which uncond dislikes
    host[vocab + 1] = 2.0f; // uncond likes 1 as much: guidance cancels it
    host[vocab + 2] = -1.0f;
    host[vocab + 5] = 3.0f; // swapped rows would favour 5
    Tensor logits = be->fromF32(host, {2, 1, vocab});
    SampleParams sp;
    sp.temperature = 0;
    SampleResult out;
    be->sample(logits, {{0, 1, 3.0f, 0, 0, -1}}, sp, out);
    EXPECT_EQ(out.token[0], 2); // u + 3(c − u): code 2 → -1 + 3·2.9 = 7.7, code 1 → 2
    be->sample(logits, {{1, 0, 3.0f, 0, 0, -1}}, sp, out);
    EXPECT_EQ(out.token[0], 5); // rows swapped
    be->sample(logits, {{0, 1, 1.0f, 0, 0, -1}}, sp, out);
    EXPECT_EQ(out.token[0], 1); // weight 1 = conditional only
}

TEST(CpuSampling, EntropyAndGuidanceKlMatchF64Formulas) {
    auto be = cpu(2);
    const int64_t vocab = 65536;
    const std::vector<float> host = makeLogits(2, vocab, Shape_::Peaked, 5);
    Tensor logits = be->fromF32(host, {2, 1, vocab});
    SampleParams sp;
    sp.temperature = 0.9f;
    SampleResult out;
    be->sample(logits, {{0, 1, 5.0f, 0, 0, -1}}, sp, out);
    const auto p = softmaxF64(guidedF64(host.data(), host.data() + vocab, 5.0f, vocab), 0.9);
    const auto q = softmaxF64(guidedF64(host.data(), nullptr, 1.0f, vocab), 0.9);
    double h = 0, kl = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] > 0) h -= p[i] * std::log(p[i]);
        if (p[i] > 0) kl += p[i] * (std::log(p[i]) - std::log(q[i]));
    }
    EXPECT_NEAR(out.entropy[0], h, 1e-4 * std::max(1.0, h));
    EXPECT_NEAR(out.guidance_kl[0], kl, 1e-4 * std::max(1.0, kl));
    EXPECT_GT(kl, 0.01); // guidance moved the distribution: the check above is not 0 ≈ 0
}

TEST(CpuSampling, ForcedTokensKeepTheirRankAndProbability) {
    auto be = cpu(1);
    const int64_t vocab = 1000;
    const std::vector<float> host = makeLogits(1, vocab, Shape_::Ties, 3);
    Tensor logits = be->fromF32(host, {1, vocab});
    SampleParams sp;
    SampleResult out;
    be->sample(logits, {{0, -1, 1.0f, 0, 0, 417}}, sp, out);
    EXPECT_EQ(out.token[0], 417);
    const auto p = softmaxF64(guidedF64(host.data(), nullptr, 1.0f, vocab), 1.0);
    int rank = 0;
    for (int64_t i = 0; i < vocab; ++i)
        if (host[static_cast<size_t>(i)] > host[417] || (host[static_cast<size_t>(i)] == host[417] && i < 417)) ++rank;
    EXPECT_EQ(out.rank[0], rank);
    EXPECT_NEAR(out.probability[0], p[417], 1e-6);
}

TEST(CpuSampling, IdenticalOnOneAndTwoThreads) {
    auto one = cpu(1), two = cpu(2);
    const int64_t vocab = 16384, rows = 32;
    const std::vector<float> host = makeLogits(rows, vocab, Shape_::Flat, 11);
    std::vector<SampleRow> sr;
    for (int64_t r = 0; r < rows / 2; ++r) sr.push_back({2 * r, 2 * r + 1, 5.0f, static_cast<uint64_t>(r), 9, -1});
    SampleParams sp;
    sp.top_p = 0.95f;
    SampleResult a, b;
    one->sample(one->fromF32(host, {rows, 1, vocab}), sr, sp, a);
    two->sample(two->fromF32(host, {rows, 1, vocab}), sr, sp, b);
    EXPECT_EQ(a.token, b.token);
    EXPECT_EQ(a.entropy, b.entropy);
    EXPECT_EQ(a.guidance_kl, b.guidance_kl);
    EXPECT_EQ(a.top_ids, b.top_ids);
}

TEST(CpuSampling, NonFiniteLogitsAreAnErrorNotAToken) {
    auto be = cpu(1);
    std::vector<float> host(64, 0.5f);
    host[3] = std::nanf("");
    SampleParams sp;
    SampleResult out;
    EXPECT_THROW(be->sample(be->fromF32(host, {1, 64}), {{0, -1, 1.0f, 0, 0, -1}}, sp, out), Error);
    host[3] = INFINITY;
    EXPECT_THROW(be->sample(be->fromF32(host, {1, 64}), {{0, -1, 1.0f, 0, 0, -1}}, sp, out), Error);
}

TEST(CpuSampling, OnlyResultsCountAsHostReads) {
    auto be = cpu(1);
    const int64_t vocab = 16384;
    Tensor logits = be->fromF32(makeLogits(2, vocab, Shape_::Peaked, 1), {2, 1, vocab});
    const uint64_t before = be->hostReadBytes();
    SampleParams sp;
    SampleResult out;
    be->sample(logits, {{0, 1, 5.0f, 0, 0, -1}}, sp, out);
    const uint64_t read = be->hostReadBytes() - before;
    EXPECT_EQ(read, out.bytes());
    EXPECT_LT(read, 256u); // ids and statistics, not 2 × 16384 logits
}

} // namespace
} // namespace tessera
