// Speculative Jacobi decoding through the Janus pipeline (janus_tiny), the Token-Shuffle pipeline (a
// tiny random checkpoint, s = 2) and the generation loop's checks: greedy SJD is Jacobi decoding and must
// give plain greedy decoding's tokens (which exercises the window forward and the KV-cache crop of the
// real model), events report the step that made each cell final, forced tokens and cancel behave as in
// plain decoding, and orders or models without windows refuse.
#include "engine/token_shuffle_test_util.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/token_shuffle.h"

#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <unistd.h>

namespace tessera {

namespace {

const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

struct Fixture {
    std::unique_ptr<Backend> be;
    std::unique_ptr<JanusPipeline> pipeline;
};

Fixture load() {
    Fixture f;
    auto be = createBackend("cpu", 1);
    EXPECT_TRUE(be.ok()) << be.error();
    f.be = std::move(*be);
    auto p = JanusPipeline::load(kModel, *f.be);
    EXPECT_TRUE(p.ok()) << p.error();
    f.pipeline = std::move(*p);
    return f;
}

JanusRequest request(uint64_t seed, int images, DecodeSettings decode = {}) {
    JanusRequest r;
    r.prompt = "a red cube";
    r.seed = seed;
    r.images = images;
    r.previews = false;
    r.sampler.cfg = 2.0f;
    r.decode = decode;
    return r;
}

DecodeSettings sjd(int window, SjdInit init = SjdInit::Random) {
    DecodeSettings d;
    d.strategy = DecodeStrategy::Sjd;
    d.window = window;
    d.init = init;
    return d;
}

// Either pipeline's generate() with the events collected.
template <class Pipeline, class Request>
auto generate(Pipeline& p, const Request& req, std::vector<TokenSampled>* tokens = nullptr,
              const std::atomic<bool>* cancel = nullptr, std::function<void(const Event&)> extra = {}) {
    std::atomic<bool> never{false};
    JobContext ctx(
        3,
        [&](const Event& e) {
            if (extra) extra(e);
            if (auto* t = std::get_if<TokenSampled>(&e); t && tokens) tokens->push_back(*t);
        },
        cancel ? cancel : &never);
    return p.generate(req, ctx);
}

} // namespace

TEST(SjdPipeline, GreedyGivesThePlainTokensForEveryWindow) {
    Fixture f = load();
    ASSERT_TRUE(f.pipeline);
    for (uint64_t seed : {1u, 2u}) {
        JanusRequest plain = request(seed, 3);
        plain.sampler.temperature = 0;
        std::vector<TokenSampled> plain_events;
        auto want = generate(*f.pipeline, plain, &plain_events);
        ASSERT_TRUE(want.ok()) << want.error();
        for (int window : {1, 3, 7, 15, 40})
            for (SjdInit init : {SjdInit::Random, SjdInit::Spatial}) {
                JanusRequest req = plain;
                req.decode = sjd(window, init);
                std::vector<TokenSampled> events;
                auto got = generate(*f.pipeline, req, &events);
                ASSERT_TRUE(got.ok()) << got.error();
                EXPECT_EQ(got->tokens, want->tokens) << "window " << window << ", " << sjdInitName(init);
                EXPECT_LE(got->decode_steps, want->decode_steps);
                // The statistics of a cell are those plain decoding reports for it.
                std::map<std::pair<int, int>, TokenSampled> by_cell;
                for (const auto& e : plain_events) by_cell[{e.image, e.position}] = e;
                ASSERT_EQ(events.size(), plain_events.size());
                for (const auto& e : events) {
                    const TokenSampled& w = by_cell.at({e.image, e.position});
                    EXPECT_NEAR(e.probability, w.probability, 1e-4);
                    EXPECT_NEAR(e.entropy, w.entropy, 1e-3);
                    EXPECT_NEAR(e.guidance_kl, w.guidance_kl, 1e-3);
                    EXPECT_EQ(e.rank, 0);
                    EXPECT_EQ(e.top_ids, w.top_ids);
                }
            }
    }
}

TEST(SjdPipeline, EventsReportTheStepThatMadeEachCellFinal) {
    Fixture f = load();
    ASSERT_TRUE(f.pipeline);
    std::vector<TokenSampled> events;
    int timings = 0;
    auto r = generate(*f.pipeline, request(9, 2, sjd(5)), &events, nullptr, [&](const Event& e) {
        if (std::get_if<StepTiming>(&e)) ++timings;
    });
    ASSERT_TRUE(r.ok()) << r.error();
    const int cells = r->grid_h * r->grid_w;
    ASSERT_EQ(static_cast<int>(events.size()), 2 * cells);
    std::set<std::pair<int, int>> seen;
    std::set<int> steps;
    int64_t accepted = 0;
    std::vector<int> last_step(2, -1), next_cell(2, 0);
    for (const auto& e : events) {
        EXPECT_TRUE(seen.insert({e.image, e.position}).second) << "cell reported twice";
        // Raster: each image's cells become final in order, in non-decreasing steps.
        EXPECT_EQ(e.position, next_cell[static_cast<size_t>(e.image)]++);
        EXPECT_GE(e.step, last_step[static_cast<size_t>(e.image)]);
        last_step[static_cast<size_t>(e.image)] = e.step;
        EXPECT_EQ(e.token, r->tokens[static_cast<size_t>(e.image)][static_cast<size_t>(e.position)]);
        steps.insert(e.step);
        accepted += e.accepted_draft ? 1 : 0;
    }
    EXPECT_EQ(accepted, r->drafts_accepted);
    EXPECT_EQ(static_cast<int64_t>(steps.size()), r->decode_steps);
    EXPECT_EQ(*steps.rbegin(), r->decode_steps - 1);
    EXPECT_EQ(timings, r->decode_steps);
    // A step commits at most window + 1 cells per image.
    std::map<std::pair<int, int>, int> per_step;
    for (const auto& e : events) ++per_step[{e.image, e.step}];
    for (const auto& [key, n] : per_step) EXPECT_LE(n, 6);
}

TEST(SjdPipeline, SameSeedSameTokensAndForcedTokensAreKept) {
    Fixture f = load();
    ASSERT_TRUE(f.pipeline);
    auto a = generate(*f.pipeline, request(4, 2, sjd(4)));
    auto b = generate(*f.pipeline, request(4, 2, sjd(4)));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->tokens, b->tokens);
    JanusRequest forced = request(5, 2, sjd(4));
    forced.forced = {{a->tokens[0].begin(), a->tokens[0].begin() + 7}, {}};
    auto c = generate(*f.pipeline, forced);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_TRUE(std::equal(forced.forced[0].begin(), forced.forced[0].end(), c->tokens[0].begin()));
    // A whole forced grid is reproduced exactly, whatever the seed.
    forced.forced = a->tokens;
    auto d = generate(*f.pipeline, forced);
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->tokens, a->tokens);
}

TEST(SjdPipeline, CancelStopsBetweenStepsWithAConsistentPrefix) {
    Fixture f = load();
    ASSERT_TRUE(f.pipeline);
    std::atomic<bool> cancel{false};
    int steps = 0;
    auto r = generate(*f.pipeline, request(6, 1, sjd(2)), nullptr, &cancel, [&](const Event& e) {
        if (std::get_if<StepTiming>(&e) && ++steps == 2) cancel = true;
    });
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->decode_steps, 2);
    EXPECT_GT(r->tokens[0].size(), 0u);
    EXPECT_LT(r->tokens[0].size(), static_cast<size_t>(r->grid_h * r->grid_w));
    for (int32_t t : r->tokens[0]) EXPECT_GE(t, 0);
}

TEST(SjdPipeline, RefusesOrdersAndModelsWithoutWindowsAndBadWindows) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    struct OneStep final : StepModel {
        Backend& be;
        explicit OneStep(Backend& b) : be(b) {}
        Tensor stepLogits(const std::vector<int64_t>& positions, const DecodeOrder&) override {
            return be.fromF32(std::vector<float>(positions.size() * 4, 0.0f),
                              {1, static_cast<int64_t>(positions.size()), 4});
        }
    } model(**be);
    std::atomic<bool> never{false};
    JobContext ctx(
        1, [](const Event&) {}, &never);
    GenerationSettings gs;
    gs.decode = sjd(4);
    {
        FrameMaskOrder order(1, 1, 2, 2, FrameMaskSettings{});
        auto r = GenerationLoop(**be, order, model, gs, ctx).run();
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().find("raster or window"), std::string::npos) << r.error();
    }
    {
        WindowOrder order(1, 4, 4, 2);
        auto r = GenerationLoop(**be, order, model, gs, ctx).run();
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().find("one step at a time"), std::string::npos) << r.error();
    }
    {
        RasterOrder order(1, 2, 2);
        auto r = GenerationLoop(**be, order, model, gs, ctx).run();
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().find("one step at a time"), std::string::npos) << r.error();
    }
    Fixture f = load();
    ASSERT_TRUE(f.pipeline);
    for (int bad : {0, kMaxSjdWindow + 1}) {
        auto r = generate(*f.pipeline, request(1, 1, sjd(bad)));
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().find("window"), std::string::npos) << r.error();
    }
}

// ---- Token-Shuffle windows ----------------------------------------------------------------------------

namespace {

class TokenShuffleSjd : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::filesystem::temp_directory_path() / ("tessera_sjd_ts_" + std::to_string(::getpid()));
        const bench::TokenShuffleShape s = test::tinyTokenShuffleShape(64, 8); // 16 windows
        Status st = bench::writeRandomTokenShuffleCheckpoint(s, dir_.string(), kModel, 11);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
    static std::filesystem::path dir_;

    static TokenShuffleRequest tsRequest(uint64_t seed, int images, DecodeSettings decode = {}) {
        TokenShuffleRequest r;
        r.prompt = "a red cube";
        r.seed = seed;
        r.images = images;
        r.previews = false;
        r.sampler.cfg = 2.0f;
        r.decode = decode;
        return r;
    }
};
std::filesystem::path TokenShuffleSjd::dir_;

} // namespace

TEST_F(TokenShuffleSjd, GreedyGivesThePlainTokensForEveryWindow) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    TokenShuffleRequest plain = tsRequest(3, 2);
    plain.sampler.temperature = 0;
    std::vector<TokenSampled> plain_events;
    auto want = generate(**p, plain, &plain_events);
    ASSERT_TRUE(want.ok()) << want.error();
    EXPECT_EQ(want->steps, 16);
    for (int window : {1, 2, 5, 20})
        for (SjdInit init : {SjdInit::Random, SjdInit::Spatial}) {
            TokenShuffleRequest req = plain;
            req.decode = sjd(window, init);
            std::vector<TokenSampled> events;
            auto got = generate(**p, req, &events);
            ASSERT_TRUE(got.ok()) << got.error();
            EXPECT_EQ(got->grids, want->grids) << "window " << window << ", " << sjdInitName(init);
            EXPECT_EQ(got->tokens, want->tokens) << "window " << window << ", " << sjdInitName(init);
            EXPECT_LT(got->steps, want->steps) << "greedy drafts are refined to the fixed point";
            std::map<std::pair<int, int>, TokenSampled> by_cell;
            for (const auto& e : plain_events) by_cell[{e.image, e.position}] = e;
            ASSERT_EQ(events.size(), plain_events.size());
            for (const auto& e : events) {
                const TokenSampled& w = by_cell.at({e.image, e.position});
                EXPECT_NEAR(e.probability, w.probability, 1e-4);
                EXPECT_NEAR(e.entropy, w.entropy, 1e-3);
                EXPECT_EQ(e.top_ids, w.top_ids);
            }
        }
}

TEST_F(TokenShuffleSjd, WindowsBecomeFinalWholeAndForcedTokensAreKept) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    std::vector<TokenSampled> events;
    auto a = generate(**p, tsRequest(5, 2, sjd(4)), &events);
    ASSERT_TRUE(a.ok()) << a.error();
    // Every cell once; the four cells of a window in the same step; steps per image non-decreasing.
    WindowOrder order(1, 8, 8, 2);
    std::map<std::pair<int, int64_t>, std::set<int>> steps_of_window;
    std::set<std::pair<int, int>> seen;
    int64_t accepted = 0;
    for (const auto& e : events) {
        EXPECT_TRUE(seen.insert({e.image, e.position}).second);
        steps_of_window[{e.image, order.windowOf(e.position)}].insert(e.step);
        EXPECT_EQ(e.token, a->grids[static_cast<size_t>(e.image)][static_cast<size_t>(e.position)]);
        accepted += e.accepted_draft ? 1 : 0;
    }
    EXPECT_EQ(seen.size(), 2u * 64u);
    for (const auto& [key, steps] : steps_of_window) EXPECT_EQ(steps.size(), 1u) << "window " << key.second;
    EXPECT_EQ(accepted, a->drafts_accepted);
    auto b = generate(**p, tsRequest(5, 2, sjd(4)));
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->tokens, b->tokens);
    // Forced tokens (decode order, window by window) are kept; a whole forced grid is reproduced.
    TokenShuffleRequest forced = tsRequest(6, 2, sjd(4));
    forced.forced = {{a->tokens[0].begin(), a->tokens[0].begin() + 10}, {}};
    auto c = generate(**p, forced);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_TRUE(std::equal(forced.forced[0].begin(), forced.forced[0].end(), c->tokens[0].begin()));
    forced.forced = a->tokens;
    auto d = generate(**p, forced);
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->tokens, a->tokens);
}

TEST_F(TokenShuffleSjd, LanternUsesTheVqCodebookAndAZeroBoundIsExactSjd) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = TokenShufflePipeline::load(dir_.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    auto nb = (*p)->latentNeighbours(8);
    ASSERT_TRUE(nb.ok()) << nb.error();
    ASSERT_EQ((*nb)->ids.size(), 64u * 8u);
    for (int64_t code = 0; code < 64; ++code)
        for (int j = 0; j < 8; ++j) {
            const int32_t other = (*nb)->ids[static_cast<size_t>(code * 8 + j)];
            EXPECT_NE(other, code);
            EXPECT_TRUE(other >= 0 && other < 64);
        }
    EXPECT_FALSE((*p)->latentNeighbours(64).ok()); // k must leave at least one other code
    DecodeSettings exact = sjd(4), zero = sjd(4), relaxed = sjd(4);
    zero.lantern_k = relaxed.lantern_k = 8;
    relaxed.lantern_delta = 0.5f;
    auto a = generate(**p, tsRequest(12, 2, exact));
    auto b = generate(**p, tsRequest(12, 2, zero));
    auto c = generate(**p, tsRequest(12, 2, relaxed));
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(a->tokens, b->tokens);
    EXPECT_EQ(a->drafts_accepted, b->drafts_accepted);
    ASSERT_EQ(c->tokens.size(), 2u);
    EXPECT_EQ(c->tokens[0].size(), 64u); // the relaxed run completes (its distribution is not plain)
}

} // namespace tessera
