// The generation loop with a scripted model: CFG rows, per-step weights, forced tokens, events,
// cancel, and a window order — expected tokens worked out from the script, not from the loop.
#include <gtest/gtest.h>

#include <atomic>

#include "tessera/engine/engine.h"
#include "tessera/engine/generation.h"

namespace tessera {
namespace {

// Logits for every (sequence, branch, position): the conditional branch prefers code
// (position·3 + seq) % V by 2.0 and code (position + 1) % V by 1.0; the unconditional branch prefers the
// latter by 3.0. Guidance with w > 1.5 therefore picks the former, w = 1 the conditional argmax (also the
// former), and swapping the branches picks neither.
class ScriptedModel final : public StepModel {
public:
    ScriptedModel(Backend& be, int64_t vocab, int branches) : be_(be), vocab_(vocab), branches_(branches) {}
    Tensor stepLogits(const std::vector<int64_t>& positions, const DecodeOrder& order) override {
        ++calls;
        const int64_t seqs = order.sequences(), np = static_cast<int64_t>(positions.size());
        std::vector<float> v(static_cast<size_t>(seqs * branches_ * np * vocab_), 0.0f);
        for (int64_t q = 0; q < seqs; ++q)
            for (int b = 0; b < branches_; ++b)
                for (int64_t i = 0; i < np; ++i) {
                    float* row = &v[static_cast<size_t>(((q * branches_ + b) * np + i) * vocab_)];
                    const int64_t p = positions[static_cast<size_t>(i)];
                    if (b == 0) {
                        row[(p * 3 + q) % vocab_] = 2.0f;
                        row[(p + 1) % vocab_] += 1.0f;
                    } else {
                        row[(p + 1) % vocab_] = 3.0f;
                    }
                }
        return be_.fromF32(v, {seqs * branches_, np, vocab_});
    }
    int calls = 0;

private:
    Backend& be_;
    int64_t vocab_;
    int branches_;
};

std::unique_ptr<Backend> cpu() {
    auto be = createBackend("cpu", 2);
    EXPECT_TRUE(be.ok());
    return std::move(*be);
}

GenerationSettings greedyCfg(float w) {
    GenerationSettings gs;
    gs.sampling.temperature = 0;
    gs.cfg = w;
    gs.branches = 2;
    gs.cond_branch = 0;
    gs.uncond_branch = 1;
    return gs;
}

TEST(GenerationLoop, RasterWithGuidanceCommitsTheScriptedCodesAndEmitsOneEventPerToken) {
    auto be = cpu();
    const int64_t vocab = 50;
    ScriptedModel model(*be, vocab, 2);
    RasterOrder order(2, 3, 3);
    std::vector<TokenSampled> events;
    int timings = 0;
    JobContext ctx(1, [&](const Event& e) {
        if (auto* t = std::get_if<TokenSampled>(&e)) events.push_back(*t);
        if (std::holds_alternative<StepTiming>(e)) ++timings;
    }, nullptr);
    GenerationLoop loop(*be, order, model, greedyCfg(3.0f), ctx);
    auto out = loop.run();
    ASSERT_TRUE(out.ok()) << out.error();
    EXPECT_EQ(out->steps, 9);
    EXPECT_EQ(timings, 9);
    ASSERT_EQ(events.size(), 18u);
    for (int64_t q = 0; q < 2; ++q)
        for (int64_t p = 0; p < 9; ++p) EXPECT_EQ(order.grid(q)[static_cast<size_t>(p)], (p * 3 + q) % vocab);
    EXPECT_EQ(events[0].image, 0);
    EXPECT_EQ(events[1].image, 1);
    EXPECT_EQ(events[2].position, 1);
    EXPECT_GT(events[0].guidance_kl, 0.0f);
}

TEST(GenerationLoop, SwappedBranchesPickTheUnconditionalFavourite) {
    auto be = cpu();
    ScriptedModel model(*be, 50, 2);
    RasterOrder order(1, 2, 2);
    JobContext ctx(1, nullptr, nullptr);
    GenerationSettings gs = greedyCfg(3.0f);
    std::swap(gs.cond_branch, gs.uncond_branch);
    ASSERT_TRUE(GenerationLoop(*be, order, model, gs, ctx).run().ok());
    // g = c + 3(u − c): code p+1 → 1 + 3·2 = 7 beats code 3p → 2 − 6 = −4.
    for (int64_t p = 1; p < 4; ++p) EXPECT_EQ(order.grid(0)[static_cast<size_t>(p)], p + 1);
}

TEST(GenerationLoop, ForcedTokensAreTakenAndTheRestSampled) {
    auto be = cpu();
    ScriptedModel model(*be, 50, 2);
    RasterOrder order(2, 2, 2);
    JobContext ctx(1, nullptr, nullptr);
    GenerationSettings gs = greedyCfg(3.0f);
    gs.forced = {{41, 42}};
    ASSERT_TRUE(GenerationLoop(*be, order, model, gs, ctx).run().ok());
    EXPECT_EQ(order.grid(0), (std::vector<int32_t>{41, 42, 6, 9}));
    EXPECT_EQ(order.grid(1), (std::vector<int32_t>{1, 4, 7, 10}));
}

TEST(GenerationLoop, CancelStopsBetweenSteps) {
    auto be = cpu();
    ScriptedModel model(*be, 50, 2);
    RasterOrder order(1, 4, 4);
    std::atomic<bool> cancel{false};
    JobContext ctx(1, nullptr, &cancel);
    GenerationLoop loop(*be, order, model, greedyCfg(2.0f), ctx);
    auto out = loop.run([&](int64_t step) {
        if (step == 3) cancel = true;
        return Status();
    });
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->cancelled);
    EXPECT_EQ(out->steps, 3);
    EXPECT_EQ(order.known(0), 3);
    EXPECT_EQ(model.calls, 3);
}

TEST(GenerationLoop, WindowOrderSamplesAWholeWindowPerStep) {
    auto be = cpu();
    ScriptedModel model(*be, 64, 2);
    WindowOrder order(1, 4, 4, 2);
    JobContext ctx(1, nullptr, nullptr);
    auto out = GenerationLoop(*be, order, model, greedyCfg(3.0f), ctx).run();
    ASSERT_TRUE(out.ok()) << out.error();
    EXPECT_EQ(out->steps, 4);
    for (int64_t p = 0; p < 16; ++p) EXPECT_EQ(order.grid(0)[static_cast<size_t>(p)], p * 3 % 64);
}

TEST(GenerationLoop, CapturedGuidedLogitsFollowTheFormula) {
    auto be = cpu();
    ScriptedModel model(*be, 10, 2);
    RasterOrder order(1, 1, 2);
    JobContext ctx(1, nullptr, nullptr);
    GenerationSettings gs = greedyCfg(2.5f);
    gs.capture_guided_steps = 1;
    auto out = GenerationLoop(*be, order, model, gs, ctx).run();
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->guided_logits.size(), 1u);
    // Position 0: c = {2, 1, 0…}, u = {0, 3, 0…}: g = u + 2.5(c − u) = {5, −2, 0…}.
    EXPECT_FLOAT_EQ(out->guided_logits[0][0], 5.0f);
    EXPECT_FLOAT_EQ(out->guided_logits[0][1], -2.0f);
    EXPECT_FLOAT_EQ(out->guided_logits[0][2], 0.0f);
}

TEST(GenerationLoop, ModelsReturningTheWrongShapeAreAnError) {
    auto be = cpu();
    ScriptedModel model(*be, 10, 1); // one branch, but the settings ask for two
    RasterOrder order(1, 1, 2);
    JobContext ctx(1, nullptr, nullptr);
    EXPECT_FALSE(GenerationLoop(*be, order, model, greedyCfg(2.0f), ctx).run().ok());
}

TEST(CfgSchedule, WeightsAtHandPickedSteps) {
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::Constant, 5, 3, 10), 5);
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::Linear, 5, 5, 10), 3);
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::HalfLinear, 5, 0, 100), 1);
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::HalfLinear, 5, 25, 100), 3);
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::HalfLinear, 5, 70, 100), 5);
    EXPECT_FLOAT_EQ(cfgWeightAt(CfgSchedule::Cosine, 5, 50, 100), 3);
    EXPECT_EQ(cfgScheduleFromName("half-linear"), CfgSchedule::HalfLinear);
    EXPECT_FALSE(cfgScheduleFromName("quadratic").has_value());
}

} // namespace
} // namespace tessera
