// Janus-Pro generation end to end on the janus_tiny reference checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "models/janus_model.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/tokenizer.h"

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

// ---- guidance, recomputed by hand ------------------------------------------------------------------
//
// The official Janus-Pro generation script, written out step by step with the model's parts and none of
// the pipeline's or sampler's code: the conditional row is the templated prompt; the unconditional row is
// the same with every token but the first and last replaced by the pad token; each row runs through the
// LM on its own (batch 1, its own cache); guided logits are u + w (c - u); greedy takes their argmax.

namespace {

enum class Guidance { kOfficial, kRowsSwapped, kConditionalPadded, kWeightIgnored };

struct HandStep {
    int32_t token = -1;
    std::vector<double> probs; // softmax of the guided logits
};

std::vector<HandStep> greedyByHand(const std::string& prompt, float weight, Guidance variant) {
    std::vector<HandStep> out;
    auto be = createBackend("cpu", 1);
    EXPECT_TRUE(be.ok());
    if (!be) return out;
    auto ckpt = Checkpoint::open(kModel);
    auto tok = Tokenizer::load(kModel);
    EXPECT_TRUE(ckpt.ok() && tok.ok());
    if (!ckpt || !tok) return out;
    auto model = JanusModel::load(*ckpt, **be);
    EXPECT_TRUE(model.ok()) << model.error();
    if (!model) return out;
    Backend& b = **be;
    JanusModel& m = **model;
    CausalLM& lm = m.lm();
    const int32_t pad = tok->padId();
    EXPECT_GE(pad, 0);

    const std::vector<int32_t> ids =
        tok->encode("<|User|>: " + prompt + "\n\n<|Assistant|>:<begin_of_image>", SpecialTokens::kTransformers);
    const int64_t len = static_cast<int64_t>(ids.size());
    std::vector<int64_t> cond(ids.begin(), ids.end()), uncond = cond;
    for (int64_t i = 1; i + 1 < len; ++i) uncond[static_cast<size_t>(i)] = pad;
    if (variant == Guidance::kConditionalPadded) cond = uncond;
    if (variant == Guidance::kRowsSwapped) std::swap(cond, uncond);
    const float w = variant == Guidance::kWeightIgnored ? 1.0f : weight;

    const int64_t cells = m.config().grid * m.config().grid, vocab = m.config().codebook_size;
    KvCache cache_c = lm.newCache(1, len + cells), cache_u = lm.newCache(1, len + cells);
    Tensor hc = lm.forward(lm.embed(b.fromI64(cond, {1, len})), cache_c);
    Tensor hu = lm.forward(lm.embed(b.fromI64(uncond, {1, len})), cache_u);
    hc = b.slice(hc, 1, len - 1, len);
    hu = b.slice(hu, 1, len - 1, len);
    for (int64_t step = 0; step < cells; ++step) {
        const std::vector<float> c = b.readF32(m.genHead(hc)), u = b.readF32(m.genHead(hu));
        HandStep s;
        std::vector<double> guided(static_cast<size_t>(vocab));
        double best = -1e300, max = -1e300;
        for (int64_t v = 0; v < vocab; ++v) {
            const size_t i = static_cast<size_t>(v);
            guided[i] = static_cast<double>(u[i]) + static_cast<double>(w) * (static_cast<double>(c[i]) - u[i]);
            if (guided[i] > best) {
                best = guided[i];
                s.token = static_cast<int32_t>(v);
            }
            max = std::max(max, guided[i]);
        }
        double sum = 0;
        for (double g : guided) sum += std::exp(g - max);
        for (double g : guided) s.probs.push_back(std::exp(g - max) / sum);
        out.push_back(std::move(s));
        if (step + 1 == cells) break;
        const Tensor next = b.fromI64({out.back().token}, {1, 1});
        hc = lm.forward(m.imageTokenEmbeds(next), cache_c);
        hu = lm.forward(m.imageTokenEmbeds(next), cache_u);
    }
    return out;
}

std::vector<int32_t> tokensOf(const std::vector<HandStep>& steps) {
    std::vector<int32_t> t;
    for (const auto& s : steps) t.push_back(s.token);
    return t;
}

} // namespace

// Greedy generation is the argmax of the guided logits, and every reported probability is the one the
// guided distribution gives, for two guidance weights and two images per batch (rows interleaved).
TEST(JanusPipeline, GreedyTokensAreTheArgmaxOfGuidanceRecomputedByHand) {
    for (float weight : {5.0f, 2.0f}) {
        const std::vector<HandStep> hand = greedyByHand("a red cube", weight, Guidance::kOfficial);
        ASSERT_FALSE(hand.empty());
        JanusRequest r = request(5, 2);
        r.sampler.temperature = 0;
        r.sampler.cfg = weight;
        Collected ev;
        auto res = run(r, 2, &ev);
        ASSERT_TRUE(res.ok()) << res.error();
        for (const auto& image : res->tokens) EXPECT_EQ(image, tokensOf(hand)) << "cfg " << weight;
        ASSERT_EQ(ev.tokens.size(), 2 * hand.size());
        for (const auto& t : ev.tokens) {
            const HandStep& h = hand[static_cast<size_t>(t.position)];
            EXPECT_NEAR(t.probability, h.probs[static_cast<size_t>(h.token)], 1e-4) << "cfg " << weight;
            for (size_t k = 0; k < t.top_ids.size(); ++k)
                EXPECT_NEAR(t.top_probs[k], h.probs[static_cast<size_t>(t.top_ids[k])], 1e-4);
        }
    }
}

// The comparison above has the power to see the classic guidance mistakes: each gives other tokens.
TEST(JanusPipeline, GuidanceMistakesChangeTheRecomputedTokens) {
    const auto official = tokensOf(greedyByHand("a red cube", 5.0f, Guidance::kOfficial));
    ASSERT_FALSE(official.empty());
    EXPECT_NE(tokensOf(greedyByHand("a red cube", 5.0f, Guidance::kRowsSwapped)), official);
    EXPECT_NE(tokensOf(greedyByHand("a red cube", 5.0f, Guidance::kConditionalPadded)), official);
    EXPECT_NE(tokensOf(greedyByHand("a red cube", 5.0f, Guidance::kWeightIgnored)), official);
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
