// The EAR training loop on the janus_tiny checkpoint (2 decoder layers, a 4×4 image grid): the rollout
// feeds the trained copy what the frozen unsafe branch sees, training lowers the loss against the
// untrained model on the same rollouts, only the chosen projections move, TLM skips exactly the windows
// at or under τ, the delta round-trips bit for bit and generation with it differs from the original
// only through those weights, and a resumed run continues the uninterrupted one's loss curve.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/train_ear.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <numeric>
#include <unistd.h>

namespace tessera::train {
namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

std::string tempPath(const std::string& name) {
    return (fs::temp_directory_path() / ("tessera_ear_loop_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

const std::vector<EarPair> kPairs = {{"a red church", "a red building", "a red cinema"},
                                     {"church at night", "building at night", "theater at night"}};

std::unique_ptr<EarTrainer> trainer(Backend& be, EarOptions o, std::vector<EarPair> pairs = kPairs) {
    auto t = EarTrainer::load(kModel, std::move(pairs), o, be);
    EXPECT_TRUE(t.ok()) << t.error();
    return t.ok() ? std::move(*t) : nullptr;
}

EarOptions tinyOptions(EarMode mode = EarMode::Corrected) {
    EarOptions o;
    o.layers = 1;
    o.window = 4;
    o.threshold = 0.0;
    o.lr = 1e-2;
    o.mode = mode;
    o.seed = 11;
    o.iterations = 2;
    return o;
}

std::vector<std::vector<float>> values(EarTrainer& t) {
    std::vector<std::vector<float>> out;
    for (const auto& p : t.parameters()) out.push_back(p.value);
    return out;
}

double sum(const std::vector<float>& v, size_t begin, size_t end) {
    double s = 0;
    for (size_t i = begin; i < end; ++i) s += v[i];
    return s;
}

class EarLoop : public ::testing::TestWithParam<EarMode> {};

// With η = 0, the safe target equal to the unsafe prompt and greedy sampling (so both branches pick the
// same tokens), the target is the frozen model's own hidden states on the unsafe branch; the untrained
// copy fed the same inputs must reproduce them (engine forward vs training graph, float rounding only).
// With another target the loss is not zero.
TEST_P(EarLoop, TheTrainedCopySeesWhatTheUnsafeBranchSees) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions(GetParam());
    o.eta = 0.0f;
    o.temperature = 0.0f;
    o.iterations = 1;
    o.threshold = 1e9; // no update: every step is measured on the untrained copy
    auto same = trainer(**be, o, {{"a red church", "a red building", "a red church"}});
    ASSERT_TRUE(same);
    ASSERT_TRUE(same->run().ok());
    ASSERT_EQ(same->losses().size(), 16u);
    EXPECT_EQ(same->lastRollout()[0], same->lastRollout()[2]);
    for (float l : same->losses()) EXPECT_LT(l, 1e-9);
    std::printf("largest loss with the same prompt: %.3g\n",
                *std::max_element(same->losses().begin(), same->losses().end()));
    auto other = trainer(**be, o, {{"a red church", "a red building", "a red cinema"}});
    ASSERT_TRUE(other->run().ok());
    // Step 0 sees different prompts; later steps different tokens (unless sampled alike).
    EXPECT_GT(other->losses()[0], 1e-4);
}

// The frozen branches do not depend on the trained weights, so a run with every window skipped
// measures the untrained copy on exactly the rollouts the training run sees.
TEST_P(EarLoop, TrainingLowersTheLossAgainstTheUntrainedModelOnTheSameRollouts) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions(GetParam());
    o.iterations = 8;
    auto trained = trainer(**be, o);
    o.threshold = 1e9;
    auto baseline = trainer(**be, o);
    ASSERT_TRUE(trained && baseline);
    const auto before = values(*trained);
    ASSERT_TRUE(trained->run().ok());
    ASSERT_TRUE(baseline->run().ok());
    ASSERT_EQ(trained->losses().size(), 8u * 16u);
    ASSERT_EQ(trained->lastRollout(), baseline->lastRollout());
    // The first window is measured before any update: identical.
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(trained->losses()[i], baseline->losses()[i]);
    const size_t n = trained->losses().size();
    const double late_trained = sum(trained->losses(), n - 32, n),
                 late_base = sum(baseline->losses(), n - 32, n);
    std::printf("%s: last two iterations' loss, trained %.6g vs untrained %.6g\n", earModeName(GetParam()),
                late_trained, late_base);
    EXPECT_LT(late_trained, 0.5 * late_base);
    // Only layer 0's q/k/v/o moved.
    const auto after = values(*trained);
    for (size_t i = 0; i < after.size(); ++i) {
        const std::string& name = trained->parameters()[i].name;
        const bool chosen = name.rfind("model.language_model.layers.0.self_attn.", 0) == 0;
        if (chosen)
            EXPECT_NE(after[i], before[i]) << name;
        else
            EXPECT_EQ(after[i], before[i]) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, EarLoop, ::testing::Values(EarMode::Faithful, EarMode::Corrected),
                         [](const auto& info) { return std::string(earModeName(info.param)); });

// τ between the windows' losses: each window's decision is its summed step losses (added up here from
// the loss curve) against τ, and the weights change at exactly the update windows.
TEST(EarLoopTlm, SkipsExactlyTheWindowsAtOrUnderTheThreshold) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions();
    o.iterations = 3;
    o.window = 3; // 16 steps: windows of 3, 3, 3, 3, 3 and a last one of 1
    o.threshold = 1e9;
    auto probe = trainer(**be, o);
    ASSERT_TRUE(probe->run().ok());
    std::vector<double> sums;
    for (const auto& w : probe->windows()) sums.push_back(w.loss_sum);
    std::vector<double> sorted = sums;
    std::sort(sorted.begin(), sorted.end());
    o.threshold = sorted[sorted.size() / 2];
    auto t = trainer(**be, o);
    std::vector<float> weights = t->parameters()[0].value;
    size_t layer0_q = 0;
    for (size_t i = 0; i < t->parameters().size(); ++i)
        if (t->parameters()[i].name == "model.language_model.layers.0.self_attn.q_proj.weight") layer0_q = i;
    weights = t->parameters()[layer0_q].value;
    int updates = 0, skips = 0;
    ASSERT_TRUE(t->run(nullptr, [&](const EarStep& s) {
                     if (!s.window) return;
                     const auto& now = t->parameters()[layer0_q].value;
                     EXPECT_EQ(now != weights, s.window->update) << "window " << s.window->window;
                     weights = now;
                     (s.window->update ? updates : skips)++;
                 }).ok());
    ASSERT_EQ(t->windows().size(), 3u * 6u);
    size_t step = 0;
    for (size_t w = 0; w < t->windows().size(); ++w) {
        const size_t len = (w % 6 == 5) ? 1 : 3;
        double s = 0;
        for (size_t i = 0; i < len; ++i) s += t->losses()[step++];
        EXPECT_NEAR(t->windows()[w].loss_sum, s, 1e-6 * std::max(1.0, s));
        EXPECT_EQ(t->windows()[w].update, s > o.threshold)
            << "window " << w << " sum " << s << " tau " << o.threshold;
    }
    EXPECT_GT(updates, 0);
    EXPECT_GT(skips, 0);
}

TEST(EarLoopDelta, TouchesOnlyTheChosenProjectionsAndRoundTripsBitForBit) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions();
    o.layers = 9; // clamped to the model's 2, with a note
    o.iterations = 1;
    auto t = trainer(**be, o);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->options().layers, 2);
    EXPECT_NE(t->note().find("2 decoder layers"), std::string::npos) << t->note();
    ASSERT_TRUE(t->run().ok());
    const std::string path = tempPath("delta.safetensors");
    ASSERT_TRUE(t->saveDelta(path).ok());
    auto f = SafetensorsFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error();
    ASSERT_EQ((*f)->header().tensors.size(), 8u);
    for (const auto& info : (*f)->header().tensors) {
        const Parameter<float>* p = nullptr;
        for (const auto& q : t->parameters())
            if (q.name == "model.language_model." + info.name) p = &q;
        ASSERT_NE(p, nullptr) << info.name;
        EXPECT_TRUE(p->trainable) << info.name;
        ASSERT_EQ(info.dtype, DType::F32);
        ASSERT_EQ(info.end - info.begin, p->value.size() * sizeof(float));
        EXPECT_EQ(std::memcmp((*f)->data(info), p->value.data(), p->value.size() * sizeof(float)), 0)
            << info.name;
    }
    fs::remove(path);
}

// The same request through the original pipeline, the pipeline with a delta holding the original
// weights, and the pipeline with a trained delta.
TEST(EarLoopDelta, GenerationDiffersFromTheOriginalOnlyThroughTheDelta) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions();
    o.iterations = 0;
    auto untouched = trainer(**be, o);
    o.iterations = 6;
    auto trained = trainer(**be, o);
    ASSERT_TRUE(untouched && trained);
    ASSERT_TRUE(trained->run().ok());
    const std::string same_path = tempPath("same.safetensors"),
                      trained_path = tempPath("trained.safetensors");
    ASSERT_TRUE(untouched->saveDelta(same_path).ok());
    ASSERT_TRUE(trained->saveDelta(trained_path).ok());

    auto generate = [&](const std::string& delta) -> std::vector<std::vector<int32_t>> {
        auto p = JanusPipeline::load(kModel, **be);
        EXPECT_TRUE(p.ok()) << p.error();
        if (!delta.empty()) {
            auto ov = loadEarOverlay(delta, (*p)->lmLayout(), **be);
            EXPECT_TRUE(ov.ok()) << ov.error();
            EXPECT_TRUE((*p)->applyOverlay(*ov).ok());
        }
        std::atomic<bool> never{false};
        JobContext ctx(1, {}, &never);
        std::vector<std::vector<int32_t>> out;
        for (uint64_t seed : {1, 2, 3}) {
            JanusRequest r;
            r.prompt = "a red church";
            r.seed = seed;
            r.previews = false;
            auto res = (*p)->generate(r, ctx);
            EXPECT_TRUE(res.ok()) << res.error();
            out.push_back(res->tokens[0]);
        }
        return out;
    };
    const auto original = generate(""), same = generate(same_path), erased = generate(trained_path);
    EXPECT_EQ(same, original);
    EXPECT_NE(erased, original);
    fs::remove(same_path);
    fs::remove(trained_path);
}

// Stop after 1 of 3 iterations (cancel from inside a scheduler job), resume in a fresh trainer, and
// the loss curve and the delta equal an uninterrupted run's bit for bit.
TEST(EarLoopResume, ACancelledJobResumesTheUninterruptedCurve) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EarOptions o = tinyOptions();
    o.iterations = 3;
    auto whole = trainer(**be, o);
    ASSERT_TRUE(whole->run().ok());

    o.checkpoint_path = tempPath("ckpt.safetensors");
    fs::remove(o.checkpoint_path);
    std::shared_ptr<EarTrainer> first = trainer(**be, o);
    Scheduler sched(1);
    std::atomic<int> progress{0}, updates{0};
    std::atomic<JobState> final_state{JobState::Queued};
    sched.setSink([&](const Event& e) {
        if (auto* p = std::get_if<TrainingProgress>(&e)) {
            ++progress;
            updates += p->window_closed && p->updated;
        }
        if (auto* s = std::get_if<JobStateChanged>(&e)) final_state = s->state;
    });
    std::atomic<int64_t> job{0};
    sched.pause();
    job = sched.submit({"erase", "tiny", 0, false, 0}, earJob(first, [&](const EarStep& s) {
                           if (s.step == 20) sched.cancel(job); // in the second iteration
                       }));
    sched.resume();
    sched.waitIdle();
    EXPECT_EQ(final_state.load(), JobState::Cancelled);
    EXPECT_EQ(progress.load(), 20);
    EXPECT_GT(updates.load(), 0);
    EXPECT_EQ(first->iterationsDone(), 1);
    EXPECT_EQ(first->losses().size(), 16u); // the second iteration's 4 steps were rolled back

    auto second = trainer(**be, o);
    auto resumed = second->resume();
    ASSERT_TRUE(resumed.ok()) << resumed.error();
    EXPECT_TRUE(*resumed);
    ASSERT_TRUE(second->run().ok());
    EXPECT_EQ(second->losses(), whole->losses());
    ASSERT_EQ(second->windows().size(), whole->windows().size());
    for (size_t w = 0; w < whole->windows().size(); ++w)
        EXPECT_EQ(second->windows()[w].update, whole->windows()[w].update);
    for (size_t i = 0; i < whole->parameters().size(); ++i)
        EXPECT_EQ(second->parameters()[i].value, whole->parameters()[i].value) << whole->parameters()[i].name;

    // Another setting on the same checkpoint is refused with the reason.
    EarOptions other = o;
    other.window = 5;
    auto wrong = trainer(**be, other);
    auto refused = wrong->resume();
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("window=4"), std::string::npos) << refused.error();
    fs::remove(o.checkpoint_path);
}

TEST(EarLoopErrors, BadInputComesBackAsAnError) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EXPECT_FALSE(EarTrainer::load(kModel, {}, tinyOptions(), **be).ok());
    auto empty = EarTrainer::load(kModel, {{"a church", "", "a cinema"}}, tinyOptions(), **be);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().find("pair 0"), std::string::npos) << empty.error();
    EarOptions o = tinyOptions();
    o.window = 0;
    EXPECT_FALSE(EarTrainer::load(kModel, kPairs, o, **be).ok());
    const std::string long_prompt(600, 'x');
    auto too_long = EarTrainer::load(kModel, {{long_prompt, "b", "c"}}, tinyOptions(), **be);
    ASSERT_FALSE(too_long.ok());
    EXPECT_NE(too_long.error().find("context"), std::string::npos) << too_long.error();
    EXPECT_FALSE(EarTrainer::load("/nonexistent/model", kPairs, tinyOptions(), **be).ok());
}

} // namespace
} // namespace tessera::train
