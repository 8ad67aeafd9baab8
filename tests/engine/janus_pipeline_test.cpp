// Janus-Pro generation end to end on the janus_tiny reference checkpoint.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"

namespace tessera {

namespace {

const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

struct Collected {
    std::vector<TokenSampled> tokens;
    std::vector<PreviewReady> previews;
    int timings = 0;
};

Expected<JanusResult> run(const JanusRequest& req, int threads, Collected* events = nullptr,
                          const std::atomic<bool>* cancel = nullptr, std::function<void(const Event&)> extra = {}) {
    auto be = createBackend("cpu", threads);
    if (!be) return be.status();
    auto p = JanusPipeline::load(kModel, **be);
    if (!p) return p.status();
    std::atomic<bool> never{false};
    JobContext ctx(7, [&](const Event& e) {
        if (extra) extra(e);
        if (!events) return;
        if (auto* t = std::get_if<TokenSampled>(&e)) events->tokens.push_back(*t);
        if (auto* pr = std::get_if<PreviewReady>(&e)) events->previews.push_back(*pr);
        if (std::get_if<StepTiming>(&e)) ++events->timings;
    }, cancel ? cancel : &never);
    return (*p)->generate(req, ctx);
}

JanusRequest request(uint64_t seed, int images = 1) {
    JanusRequest r;
    r.prompt = "a red cube";
    r.seed = seed;
    r.images = images;
    r.preview_every = 4;
    return r;
}

} // namespace

TEST(JanusPipeline, GeneratesAFullGridWithEventsForEveryToken) {
    Collected ev;
    auto r = run(request(1, 2), 2, &ev);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->tokens.size(), 2u);
    const size_t cells = static_cast<size_t>(r->grid_h * r->grid_w);
    EXPECT_GT(cells, 0u);
    for (const auto& t : r->tokens) EXPECT_EQ(t.size(), cells);
    EXPECT_EQ(ev.tokens.size(), 2 * cells);
    EXPECT_EQ(ev.timings, static_cast<int>(cells));
    for (const auto& t : ev.tokens) {
        EXPECT_EQ(t.job_id, 7);
        EXPECT_GT(t.probability, 0.0f);
        EXPECT_LE(t.probability, 1.0f);
        EXPECT_GE(t.entropy, 0.0f);
        EXPECT_GE(t.guidance_kl, 0.0f);
        ASSERT_EQ(t.top_ids.size(), 5u);
        EXPECT_GE(t.top_probs[0], t.top_probs[4]);
        EXPECT_EQ(r->tokens[static_cast<size_t>(t.image)][static_cast<size_t>(t.position)], t.token);
    }
    ASSERT_EQ(r->images.size(), 2u);
    EXPECT_EQ(r->images[0].rgb.size(), static_cast<size_t>(r->images[0].width * r->images[0].height * 3));
    // Previews every 4 tokens (but not after the last one) plus one final image per image.
    int finals = 0;
    for (const auto& p : ev.previews) finals += p.final;
    EXPECT_EQ(finals, 2);
    EXPECT_GT(ev.previews.size(), 2u);
    EXPECT_EQ(ev.previews.back().rgb->size(), r->images[1].rgb.size());
}

TEST(JanusPipeline, SameSeedSameTokensWhateverTheThreadCount) {
    auto a = run(request(42, 2), 1);
    auto b = run(request(42, 2), 2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->tokens, b->tokens);
    EXPECT_EQ(a->images[0].rgb, b->images[0].rgb);
    auto c = run(request(43, 2), 2);
    ASSERT_TRUE(c.ok());
    EXPECT_NE(a->tokens, c->tokens); // 2 x 16 tokens from a 64-code book: a collision would be astronomically unlikely
}

TEST(JanusPipeline, GreedyIsArgmaxOfTheGuidedDistribution) {
    JanusRequest r = request(5);
    r.sampler.temperature = 0;
    Collected ev;
    auto res = run(r, 2, &ev);
    ASSERT_TRUE(res.ok());
    for (const auto& t : ev.tokens) {
        EXPECT_EQ(t.rank, 0);
        EXPECT_EQ(t.token, t.top_ids[0]);
    }
}

TEST(JanusPipeline, ForcedTokensAreKeptAndTheRestResampled) {
    auto base = run(request(9), 2);
    ASSERT_TRUE(base.ok());
    JanusRequest r = request(10);
    r.forced = {std::vector<int32_t>(base->tokens[0].begin(), base->tokens[0].begin() + 6)};
    auto child = run(r, 2);
    ASSERT_TRUE(child.ok());
    EXPECT_TRUE(std::equal(r.forced[0].begin(), r.forced[0].end(), child->tokens[0].begin()));
    EXPECT_EQ(child->tokens[0].size(), base->tokens[0].size());
}

TEST(JanusPipeline, CancelStopsWithinOneStepAndKeepsThePartialResult) {
    std::atomic<bool> cancel{false};
    int seen_after_cancel = 0;
    auto r = run(request(3), 2, nullptr, &cancel, [&](const Event& e) {
        if (auto* t = std::get_if<TokenSampled>(&e)) {
            if (cancel) ++seen_after_cancel;
            if (t->position == 4) cancel = true;
        }
    });
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->tokens[0].size(), 5u);
    EXPECT_EQ(seen_after_cancel, 0);
    ASSERT_EQ(r->images.size(), 1u); // the partial image, unsampled cells grey
    EXPECT_EQ(r->images[0].rgb.back(), 128);
}

TEST(JanusPipeline, ClearErrorsForBadInput) {
    JanusRequest r = request(1);
    r.prompt = std::string(2000, 'x');
    auto too_long = run(r, 1);
    ASSERT_FALSE(too_long.ok());
    EXPECT_NE(too_long.error().find("context"), std::string::npos) << too_long.error();

    auto be = createBackend("cpu", 1);
    auto not_janus = JanusPipeline::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny", **be);
    ASSERT_FALSE(not_janus.ok());
    EXPECT_NE(not_janus.error().find("not a Janus checkpoint"), std::string::npos) << not_janus.error();
    auto missing = JanusPipeline::load("/nonexistent/model", **be);
    EXPECT_FALSE(missing.ok());

    JanusRequest bad = request(1);
    bad.sampler.top_p = 0;
    EXPECT_FALSE(run(bad, 1).ok());
}

} // namespace tessera
