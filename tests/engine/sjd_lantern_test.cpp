// LANTERN-style relaxed acceptance on top of speculative Jacobi decoding: opt-in and lossy. With a zero
// total-variation bound it is exact SJD token for token; with a bound it accepts at least as many drafts;
// with a bound of 1 over every neighbour it accepts everything, and the distribution test of
// sjd_distribution_test.cpp (same statistic) rejects it, which is what "lossy" means.
#include "tessera/engine/engine.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/janus.h"

#include <atomic>
#include <cmath>
#include <gtest/gtest.h>
#include <set>

namespace tessera {

namespace {

const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

JanusRequest request(uint64_t seed, int lantern_k, float delta) {
    JanusRequest r;
    r.prompt = "a red cube";
    r.seed = seed;
    r.images = 4;
    r.previews = false;
    r.sampler.cfg = 2.0f;
    r.decode.strategy = DecodeStrategy::Sjd;
    r.decode.window = 6;
    r.decode.lantern_k = lantern_k;
    r.decode.lantern_delta = delta;
    return r;
}

Expected<JanusResult> generate(JanusPipeline& p, const JanusRequest& req) {
    std::atomic<bool> never{false};
    JobContext ctx(
        1, [](const Event&) {}, &never);
    return p.generate(req, ctx);
}

// Two-sample chi-square statistic over one cell's counts (all bins; the toy vocabulary is small and
// every bin is well filled at these sample sizes).
double chiSquare(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    double na = 0, nb = 0, stat = 0;
    for (size_t i = 0; i < a.size(); ++i) na += static_cast<double>(a[i]), nb += static_cast<double>(b[i]);
    for (size_t i = 0; i < a.size(); ++i) {
        const double t = static_cast<double>(a[i] + b[i]);
        if (t == 0) continue;
        const double ea = t * na / (na + nb), eb = t * nb / (na + nb);
        stat += (static_cast<double>(a[i]) - ea) * (static_cast<double>(a[i]) - ea) / ea +
                (static_cast<double>(b[i]) - eb) * (static_cast<double>(b[i]) - eb) / eb;
    }
    return stat;
}

// A model of independent cells with a fixed, skewed distribution over 8 tokens.
class SkewedModel final : public StepModel {
public:
    explicit SkewedModel(Backend& be) : be_(be) {}
    Tensor stepLogits(const std::vector<int64_t>&, const DecodeOrder&) override { return logits(1); }
    bool supportsWindows() const override { return true; }
    Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts,
                        const DecodeOrder&) override {
        if (held_ != std::max<int64_t>(0, first - 1)) throw Error("skewed model: state out of step");
        held_ = first + static_cast<int64_t>(drafts[0].size());
        return logits(static_cast<int64_t>(drafts[0].size()) + 1);
    }
    void cropTo(int64_t cells) override { held_ = cells; }

private:
    Tensor logits(int64_t n) {
        std::vector<float> v;
        for (int64_t i = 0; i < n; ++i)
            for (int t = 0; t < 8; ++t) v.push_back(static_cast<float>(std::log(1.0 + t * t)));
        return be_.fromF32(v, {1, n, 8});
    }
    Backend& be_;
    int64_t held_ = 0;
};

std::vector<std::vector<int64_t>> runSkewed(Backend& be, const DecodeSettings& decode,
                                            std::shared_ptr<const LatentNeighbours> nb, int64_t seeds,
                                            int64_t* accepted = nullptr) {
    std::vector<std::vector<int64_t>> counts(4, std::vector<int64_t>(8, 0));
    std::atomic<bool> never{false};
    for (int64_t seed = 0; seed < seeds; ++seed) {
        SkewedModel model(be);
        RasterOrder order(1, 2, 2);
        GenerationSettings gs;
        gs.sampling.seed = static_cast<uint64_t>(seed) + 100;
        gs.decode = decode;
        gs.latent_neighbours = nb;
        JobContext ctx(
            1, [](const Event&) {}, &never);
        auto r = GenerationLoop(be, order, model, gs, ctx).run();
        EXPECT_TRUE(r.ok()) << r.error();
        if (!r.ok()) break;
        if (accepted) *accepted += r->drafts_accepted;
        for (int c = 0; c < 4; ++c)
            ++counts[static_cast<size_t>(c)][static_cast<size_t>(order.grid(0)[static_cast<size_t>(c)])];
    }
    return counts;
}

} // namespace

TEST(SjdLantern, ZeroBoundIsExactSjd) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = JanusPipeline::load(kModel, **be);
    ASSERT_TRUE(p.ok()) << p.error();
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        auto exact = generate(**p, request(seed, 0, 0));
        auto zero = generate(**p, request(seed, 8, 0.0f));
        ASSERT_TRUE(exact.ok() && zero.ok());
        EXPECT_EQ(zero->tokens, exact->tokens) << "seed " << seed;
        EXPECT_EQ(zero->drafts_accepted, exact->drafts_accepted);
    }
}

TEST(SjdLantern, ABoundAcceptsMoreDrafts) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    // Neighbours of token t: t − 1 and t + 1 (cyclically).
    auto nb = std::make_shared<LatentNeighbours>();
    nb->k = 2;
    for (int c = 0; c < 8; ++c) {
        nb->ids.push_back((c + 7) % 8);
        nb->ids.push_back((c + 1) % 8);
    }
    DecodeSettings exact;
    exact.strategy = DecodeStrategy::Sjd;
    exact.window = 3;
    DecodeSettings relaxed = exact;
    relaxed.lantern_k = 2;
    relaxed.lantern_delta = 0.6f;
    int64_t exact_accepted = 0, relaxed_accepted = 0;
    runSkewed(**be, exact, nullptr, 500, &exact_accepted);
    runSkewed(**be, relaxed, nb, 500, &relaxed_accepted);
    EXPECT_GT(relaxed_accepted, exact_accepted + 50);
    std::printf("skewed model, 500 seeds: drafts accepted %lld (exact) vs %lld (k 2, delta 0.6)\n",
                static_cast<long long>(exact_accepted), static_cast<long long>(relaxed_accepted));
}

TEST(SjdLantern, NeighbourTableExcludesTheCodeItselfAndIsCached) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = JanusPipeline::load(kModel, **be);
    ASSERT_TRUE(p.ok()) << p.error();
    auto nb = (*p)->latentNeighbours(5);
    ASSERT_TRUE(nb.ok()) << nb.error();
    const int64_t codes = (*p)->info().codebook;
    ASSERT_EQ(static_cast<int64_t>((*nb)->ids.size()), codes * (*nb)->k);
    for (int64_t c = 0; c < codes; ++c) {
        std::set<int32_t> seen;
        for (int j = 0; j < (*nb)->k; ++j) {
            const int32_t y = (*nb)->ids[static_cast<size_t>(c * (*nb)->k + j)];
            EXPECT_NE(y, c);
            EXPECT_TRUE(y >= 0 && y < codes);
            EXPECT_TRUE(seen.insert(y).second);
        }
    }
    auto again = (*p)->latentNeighbours(3);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->get(), nb->get()); // a wider table already computed serves a narrower request
    EXPECT_FALSE((*p)->latentNeighbours(static_cast<int>(codes)).ok());
}

TEST(SjdLantern, IsLossyAndTheDistributionStatisticSeesIt) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    // Every token's neighbours are all the others: with delta 1 every draft is accepted.
    auto nb = std::make_shared<LatentNeighbours>();
    nb->k = 7;
    for (int c = 0; c < 8; ++c)
        for (int j = 1; j < 8; ++j) nb->ids.push_back((c + j) % 8);
    DecodeSettings plain;
    DecodeSettings lossy;
    lossy.strategy = DecodeStrategy::Sjd;
    lossy.window = 3;
    lossy.lantern_k = 7;
    lossy.lantern_delta = 1.0f;
    const auto a = runSkewed(**be, plain, nullptr, 2000);
    const auto b = runSkewed(**be, lossy, nb, 2000);
    // Cell 0 is drawn from p in both; later cells take LANTERN's uniform random drafts. 7 degrees of
    // freedom: 24.32 is the 0.001 critical value.
    EXPECT_LT(chiSquare(a[0], b[0]), 24.32);
    EXPECT_GT(chiSquare(a[2], b[2]), 24.32);
    // Exact SJD on the same model passes at the same level.
    DecodeSettings exact = lossy;
    exact.lantern_k = 0;
    const auto c = runSkewed(**be, exact, nullptr, 2000);
    for (int cell = 0; cell < 4; ++cell)
        EXPECT_LT(chiSquare(a[static_cast<size_t>(cell)], c[static_cast<size_t>(cell)]), 24.32) << cell;
}

TEST(SjdLantern, RefusesWithoutNeighboursOrOutOfRange) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    std::atomic<bool> never{false};
    JobContext ctx(
        1, [](const Event&) {}, &never);
    SkewedModel model(**be);
    RasterOrder order(1, 2, 2);
    GenerationSettings gs;
    gs.decode.strategy = DecodeStrategy::Sjd;
    gs.decode.lantern_k = 3;
    gs.decode.lantern_delta = 0.1f;
    auto r = GenerationLoop(**be, order, model, gs, ctx).run();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("neighbours"), std::string::npos) << r.error();
    gs.decode.lantern_delta = 1.5f;
    auto r2 = GenerationLoop(**be, order, model, gs, ctx).run();
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().find("delta"), std::string::npos) << r2.error();
}

} // namespace tessera
