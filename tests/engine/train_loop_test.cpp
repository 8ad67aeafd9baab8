// The training loop on the tiny Llama of tests/data/reference/train_tiny: resume after a stop continues
// bit for bit, gradient accumulation equals the whole batch, freezing keeps weights, the scheduler job
// reports steps and honours cancel, and bad checkpoints are clear errors.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <unistd.h>

namespace tessera::train {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/train_tiny";

std::unique_ptr<LlamaTrainModel> loadModel() {
    auto m = LlamaTrainModel::load(kDir);
    EXPECT_TRUE(m.ok()) << m.error();
    return m.ok() ? std::make_unique<LlamaTrainModel>(std::move(*m)) : nullptr;
}

// Data that depends only on (step, micro): a row of 8 token ids per micro-batch.
LossFn lossFor(LlamaTrainModel& m) {
    return [&m](Tape<float>& t, int64_t step, int micro) {
        std::vector<int64_t> ids(8);
        for (int i = 0; i < 8; ++i) ids[i] = (step * 7 + micro * 5 + i * 3) % 32;
        return m.nextTokenLoss(t, ids, ids, 1, 8);
    };
}

fs::path tempDir() {
    return fs::temp_directory_path() / ("tessera_train_loop_" + std::to_string(::getpid()));
}

std::string tempPath(const std::string& name) {
    fs::create_directories(tempDir());
    return (tempDir() / name).string();
}

class RemoveTempDir : public ::testing::Environment {
public:
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(tempDir(), ec);
    }
};
const auto* const kRemoveTempDir = ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

TrainerOptions options(const std::string& ckpt) {
    TrainerOptions o;
    o.adam = AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.01, true};
    o.accumulate = 2;
    o.checkpoint_path = ckpt;
    o.checkpoint_every = 1;
    return o;
}

TEST(TrainLoop, ResumedRunContinuesBitForBit) {
    const int64_t kSteps = 6, kStopAt = 3;
    // Uninterrupted.
    auto a = loadModel();
    ASSERT_TRUE(a);
    Trainer ta(a->parameters(), options(tempPath("a.safetensors")), lossFor(*a));
    ASSERT_TRUE(ta.run(kSteps).ok());
    ASSERT_EQ(ta.losses().size(), static_cast<size_t>(kSteps));
    EXPECT_LT(ta.losses().back(), ta.losses().front()); // it trains
    // Stopped after kStopAt steps; the trainer and model are then thrown away, as a killed process's.
    const std::string ck = tempPath("b.safetensors");
    fs::remove(ck);
    {
        auto b = loadModel();
        Trainer tb(b->parameters(), options(ck), lossFor(*b));
        ASSERT_TRUE(tb.run(kStopAt).ok());
    }
    // A fresh model from the base checkpoint and a fresh trainer resume from the file.
    auto c = loadModel();
    Trainer tc(c->parameters(), options(ck), lossFor(*c));
    auto resumed = tc.resume();
    ASSERT_TRUE(resumed.ok()) << resumed.error();
    ASSERT_TRUE(*resumed);
    EXPECT_EQ(tc.step(), kStopAt);
    ASSERT_TRUE(tc.run(kSteps).ok());
    ASSERT_EQ(tc.losses().size(), ta.losses().size());
    EXPECT_EQ(std::memcmp(tc.losses().data(), ta.losses().data(), ta.losses().size() * sizeof(float)), 0)
        << "loss curves differ";
    for (size_t i = 0; i < ta.losses().size(); ++i)
        std::printf("step %zu loss %.9g resumed %.9g\n", i + 1, ta.losses()[i], tc.losses()[i]);
    for (size_t i = 0; i < a->parameters().size(); ++i)
        EXPECT_EQ(a->parameters()[i].value, c->parameters()[i].value) << a->parameters()[i].name;
}

// With the same number of counted targets in each row and attention confined to a row, the mean loss
// over two one-row micro-batches is the whole batch's mean, so the accumulated gradient is the whole
// batch's gradient (up to the order of f32 sums).
TEST(TrainLoop, AccumulationEqualsTheWholeBatch) {
    const std::vector<int64_t> ids = {3, 9, 1, 30, 12, 7, 7, 2, 18, 4, 25, 0, 11, 6, 29, 14};
    auto whole = loadModel();
    auto acc = loadModel();
    TrainerOptions o;
    o.adam = AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0.0, false};
    o.checkpoint_every = 0;
    Trainer tw(whole->parameters(), o,
               [&](Tape<float>& t, int64_t, int) { return whole->nextTokenLoss(t, ids, ids, 2, 8); });
    o.accumulate = 2;
    Trainer ta(acc->parameters(), o, [&](Tape<float>& t, int64_t, int micro) {
        std::vector<int64_t> row(ids.begin() + micro * 8, ids.begin() + micro * 8 + 8);
        return acc->nextTokenLoss(t, row, row, 1, 8);
    });
    ASSERT_TRUE(tw.run(1).ok());
    ASSERT_TRUE(ta.run(1).ok());
    EXPECT_NEAR(tw.losses()[0], ta.losses()[0], 1e-6);
    double worst = 0, largest = 0;
    for (size_t i = 0; i < whole->parameters().size(); ++i) {
        const auto& gw = whole->parameters()[i].grad;
        const auto& ga = acc->parameters()[i].grad;
        for (size_t j = 0; j < gw.size(); ++j) {
            worst = std::max(worst, std::fabs(static_cast<double>(gw[j]) - ga[j]));
            largest = std::max(largest, std::fabs(static_cast<double>(gw[j])));
        }
    }
    EXPECT_GT(largest, 1e-2);
    EXPECT_LT(worst, 1e-6 * std::max(1.0, largest));
}

TEST(TrainLoop, FrozenTensorsKeepTheirWeightsAndState) {
    auto m = loadModel();
    std::vector<std::vector<float>> before;
    for (const auto& p : m->parameters()) before.push_back(p.value);
    TrainerOptions o = options(tempPath("frozen.safetensors"));
    o.freeze = {"model.layers.*.mlp.*", "model.embed_tokens.weight"};
    Trainer t(m->parameters(), o, lossFor(*m));
    ASSERT_TRUE(t.run(2).ok());
    int frozen = 0, moved = 0;
    for (size_t i = 0; i < m->parameters().size(); ++i) {
        const auto& p = m->parameters()[i];
        const bool should_freeze =
            globMatch("model.layers.*.mlp.*", p.name) || p.name == "model.embed_tokens.weight";
        EXPECT_EQ(p.trainable, !should_freeze) << p.name;
        if (should_freeze) {
            ++frozen;
            EXPECT_EQ(p.value, before[i]) << p.name;
            EXPECT_EQ(t.optimizer().state().count(p.name), 0u) << p.name;
        } else {
            moved += p.value != before[i];
        }
    }
    EXPECT_EQ(frozen, 2 * 3 + 1);
    EXPECT_EQ(moved, static_cast<int>(m->parameters().size()) - frozen);
    // Frozen tensors are not in the checkpoint.
    auto f = SafetensorsFile::open(o.checkpoint_path);
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->find("model.layers.0.mlp.up_proj.weight"), nullptr);
    EXPECT_NE((*f)->find("model.layers.0.self_attn.q_proj.weight"), nullptr);
}

TEST(TrainLoop, GlobMatching) {
    EXPECT_TRUE(globMatch("model.layers.*.mlp.*", "model.layers.12.mlp.down_proj.weight"));
    EXPECT_FALSE(globMatch("model.layers.*.mlp.*", "model.layers.1.self_attn.q_proj.weight"));
    EXPECT_TRUE(globMatch("*", ""));
    EXPECT_TRUE(globMatch("a*b*c", "axxbyyc"));
    EXPECT_FALSE(globMatch("a*b*c", "axxbyy"));
    EXPECT_TRUE(globMatch("lm_head.weight", "lm_head.weight"));
}

TEST(TrainLoop, SchedulerJobReportsStepsAndStopsOnCancel) {
    const std::string ck = tempPath("job.safetensors");
    fs::remove(ck);
    auto m = loadModel();
    auto trainer = std::make_shared<Trainer>(m->parameters(), options(ck), lossFor(*m));
    Scheduler sched(1);
    std::atomic<int> timings{0};
    std::atomic<JobState> final_state{JobState::Queued};
    sched.setSink([&](const Event& e) {
        if (std::holds_alternative<StepTiming>(e)) ++timings;
        if (auto* s = std::get_if<JobStateChanged>(&e)) final_state = s->state;
    });
    std::atomic<int64_t> job{0};
    std::vector<StepRecord> seen;
    // Cancels itself from the step callback after 2 steps of 50 (paused until its id is known).
    sched.pause();
    job = sched.submit({"train", "tiny", 0, false, 0}, trainingJob(trainer, 50, [&](const StepRecord& r) {
                           seen.push_back(r);
                           if (r.step == 2) sched.cancel(job);
                       }));
    sched.resume();
    sched.waitIdle();
    EXPECT_EQ(final_state.load(), JobState::Cancelled);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(timings.load(), 2);
    EXPECT_EQ(seen[1].total, 50);
    EXPECT_EQ(trainer->step(), 2);
    // The checkpoint holds those 2 steps; a second job resumes from it and finishes.
    auto m2 = loadModel();
    auto t2 = std::make_shared<Trainer>(m2->parameters(), options(ck), lossFor(*m2));
    sched.submit({"train", "tiny", 0, false, 0}, trainingJob(t2, 4));
    sched.waitIdle();
    EXPECT_EQ(final_state.load(), JobState::Finished);
    EXPECT_EQ(t2->step(), 4);
    ASSERT_EQ(t2->losses().size(), 4u);
    EXPECT_EQ(t2->losses()[0], seen[0].loss);
    EXPECT_EQ(t2->losses()[1], seen[1].loss);
}

TEST(TrainLoop, BadCheckpointsAreClearErrors) {
    auto m = loadModel();
    const std::string junk = tempPath("junk.safetensors");
    std::ofstream(junk) << "not a safetensors file";
    Trainer t(m->parameters(), options(junk), lossFor(*m));
    auto r = t.resume();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("junk.safetensors"), std::string::npos) << r.error();
    // A checkpoint of another model: the tiny model's base weights are no training checkpoint.
    Trainer t2(m->parameters(), options(kDir + "/model.safetensors"), lossFor(*m));
    auto r2 = t2.resume();
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().find("not a Tessera training checkpoint"), std::string::npos) << r2.error();
    // A loss function that throws fails the run with a message, not a crash.
    Trainer t3(m->parameters(), options(""), [](Tape<float>& tape, int64_t, int) {
        return tape.crossEntropy(tape.constant({0.f, 1.f}, {1, 2}), {5});
    });
    Status s = t3.run(1);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("outside vocabulary"), std::string::npos) << s.message();
    // A diverged loss stops the run before the step touches the weights.
    std::vector<float> w0 = m->parameters()[0].value;
    Trainer t4(m->parameters(), options(""), [&](Tape<float>& tape, int64_t, int) {
        Var x = tape.leaf(m->parameters()[0]);
        return tape.scale(tape.sum(x), std::numeric_limits<float>::quiet_NaN());
    });
    Status s4 = t4.run(1);
    ASSERT_FALSE(s4.ok());
    EXPECT_NE(s4.message().find("not finite"), std::string::npos) << s4.message();
    EXPECT_EQ(m->parameters()[0].value, w0);
    EXPECT_EQ(t4.step(), 0);
}

} // namespace
} // namespace tessera::train
