// The whole training graph of a tiny Llama against PyTorch (tests/data/reference/train_tiny, made by
// tools/reference/make_train_tiny.py with transformers' LlamaForCausalLM and torch.optim.AdamW).
//
// The weights come in through the engine's checkpoint loader (LlamaTrainModel::load), the graph is
// built on the tape, and the loss, every parameter's gradient, and the loss and weights over three
// AdamW steps are compared with the reference.
//
// Tolerances (f32 on both sides; the two differ only in summation order and in exp/sqrt/cos rounding,
// a few ulp per op, growing through two layers): loss within 1e-5 relative; gradients within
// 1e-6 + 1e-4·max|grad of that tensor| per element (observed 9e-7 of it); weights after 3 AdamW steps within
// 1e-5 absolute (lr 1e-2: a gradient whose sign flipped would move a weight by ~1e-2; observed 2.4e-7).
// Observed errors are printed.
#include "tessera/engine/engine.h"
#include "tessera/engine/train.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

namespace tessera::train {
namespace {

const std::string kDir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/train_tiny";

struct Expected32 {
    std::shared_ptr<SafetensorsFile> file;
    std::vector<float> f32(const std::string& name) const {
        const TensorInfo* info = file->find(name);
        EXPECT_NE(info, nullptr) << name;
        if (!info || info->dtype != DType::F32) return {};
        std::vector<float> out(static_cast<size_t>(shapeNumel(info->shape)));
        std::memcpy(out.data(), file->data(*info), out.size() * sizeof(float));
        return out;
    }
    std::vector<int64_t> i64(const std::string& name) const {
        const TensorInfo* info = file->find(name);
        EXPECT_NE(info, nullptr) << name;
        if (!info || info->dtype != DType::I64) return {};
        std::vector<int64_t> out(static_cast<size_t>(shapeNumel(info->shape)));
        std::memcpy(out.data(), file->data(*info), out.size() * sizeof(int64_t));
        return out;
    }
};

// Every parameter of `m` equals the reference's `<prefix><name>` within 1e-5; prints the largest error.
void expectWeightsMatch(LlamaTrainModel& m, const Expected32& ref, const std::string& prefix,
                        const char* after) {
    double worst = 0;
    for (const auto& p : m.parameters()) {
        const auto w = ref.f32(prefix + p.name);
        ASSERT_EQ(w.size(), p.value.size()) << p.name;
        for (size_t i = 0; i < w.size(); ++i) {
            EXPECT_NEAR(p.value[i], w[i], 1e-5) << p.name << "[" << i << "]";
            worst = std::max(worst, std::fabs(static_cast<double>(p.value[i]) - w[i]));
        }
    }
    std::printf("largest weight error after %s: %.3g\n", after, worst);
}

class TrainTiny : public ::testing::Test {
protected:
    void SetUp() override {
        auto f = SafetensorsFile::open(kDir + "/expected.safetensors");
        ASSERT_TRUE(f.ok()) << f.error();
        ref_.file = *f;
        ids_ = ref_.i64("input_ids");
        labels_ = ref_.i64("labels");
        ASSERT_EQ(ids_.size(), 16u);
        auto m = LlamaTrainModel::load(kDir);
        ASSERT_TRUE(m.ok()) << m.error();
        model_ = std::make_unique<LlamaTrainModel>(std::move(*m));
    }
    float lossAndGrad() {
        for (auto& p : model_->parameters()) p.zeroGrad();
        Tape<float> tape;
        Var loss = model_->nextTokenLoss(tape, ids_, labels_, 2, 8);
        tape.backward(loss);
        return tape.scalar(loss);
    }
    Expected32 ref_;
    std::vector<int64_t> ids_, labels_;
    std::unique_ptr<LlamaTrainModel> model_;
};

TEST_F(TrainTiny, LossAndEveryGradientMatchPyTorch) {
    ASSERT_EQ(model_->config().kv_heads * 2, model_->config().heads); // the set exercises GQA
    const float loss = lossAndGrad();
    const float ref_loss = ref_.f32("loss").at(0);
    EXPECT_NEAR(loss, ref_loss, 1e-5 * std::fabs(ref_loss));
    std::printf("loss %.7f reference %.7f\n", loss, ref_loss);
    ASSERT_EQ(model_->parameters().size(), 2u + 9u * 2u + 1u); // embed, norm, 2 layers × 9, head
    double worst_rel = 0;
    for (const auto& p : model_->parameters()) {
        const auto g = ref_.f32("grad." + p.name);
        ASSERT_EQ(g.size(), p.grad.size()) << p.name;
        float scale = 0;
        for (float v : g) scale = std::max(scale, std::fabs(v));
        ASSERT_GT(scale, 0.0f) << p.name << ": the reference gradient is zero, the check would be empty";
        for (size_t i = 0; i < g.size(); ++i) {
            EXPECT_NEAR(p.grad[i], g[i], 1e-6 + 1e-4 * scale) << p.name << "[" << i << "]";
            worst_rel = std::max(worst_rel, std::fabs(static_cast<double>(p.grad[i]) - g[i]) / scale);
        }
    }
    std::printf("largest gradient error relative to its tensor's largest gradient: %.3g\n", worst_rel);
}

TEST_F(TrainTiny, ThreeAdamWStepsMatchPyTorch) {
    Adam opt(AdamOptions{1e-2, 0.9, 0.95, 1e-8, 0.1, true});
    const auto ref_losses = ref_.f32("adamw.losses");
    ASSERT_EQ(ref_losses.size(), 3u);
    for (int step = 0; step < 3; ++step) {
        const float loss = lossAndGrad();
        EXPECT_NEAR(loss, ref_losses[step], 1e-5 * std::fabs(ref_losses[step])) << "step " << step;
        std::printf("step %d loss %.7f reference %.7f\n", step, loss, ref_losses[step]);
        opt.update(model_->parameters());
    }
    expectWeightsMatch(*model_, ref_, "adamw.", "3 AdamW steps");
}

// The Trainer's warmup + cosine schedule and global-norm clipping against transformers'
// get_cosine_with_min_lr_schedule_with_warmup and torch.nn.utils.clip_grad_norm_ (schedule.safetensors,
// made by tools/reference/make_train_schedule.py): the rate and the pre-clip norm of each step, the
// losses, and the weights after 6 AdamW steps.
TEST_F(TrainTiny, ScheduledAndClippedStepsMatchPyTorch) {
    auto f = SafetensorsFile::open(kDir + "/schedule.safetensors");
    ASSERT_TRUE(f.ok()) << f.error();
    Expected32 ref{*f};
    TrainerOptions o;
    o.adam = AdamOptions{1e-2, 0.9, 0.95, 1e-8, 0.1, true};
    o.checkpoint_every = 0;
    o.warmup_steps = 2;
    o.cosine = true;
    o.min_lr_ratio = 0.1;
    o.clip_norm = 0.5;
    std::vector<StepRecord> steps;
    Trainer trainer(model_->parameters(), o, [this](Tape<float>& t, int64_t, int) {
        return model_->nextTokenLoss(t, ids_, labels_, 2, 8);
    });
    ASSERT_TRUE(trainer.run(6, nullptr, [&](const StepRecord& r) { steps.push_back(r); }).ok());
    const auto lr = ref.f32("schedule.lr"), norm = ref.f32("schedule.grad_norm");
    const auto losses = ref.f32("schedule.losses");
    ASSERT_EQ(steps.size(), 6u);
    ASSERT_EQ(lr.size(), 6u);
    ASSERT_EQ(norm.size(), 6u);
    ASSERT_EQ(losses.size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_NEAR(steps[i].lr, lr[i], 1e-7 * 1e-2) << "step " << i; // lr stored as f32
        EXPECT_NEAR(steps[i].grad_norm, norm[i], 1e-5 * norm[i]) << "step " << i;
        EXPECT_GT(norm[i], o.clip_norm) << "every step of the set is clipped, step " << i;
        EXPECT_NEAR(steps[i].loss, losses[i], 1e-5 * std::fabs(losses[i])) << "step " << i;
        std::printf("step %zu lr %.6g/%.6g norm %.6g/%.6g loss %.7f/%.7f\n", i, steps[i].lr, lr[i],
                    steps[i].grad_norm, norm[i], steps[i].loss, losses[i]);
    }
    expectWeightsMatch(*model_, ref, "schedule.", "6 scheduled, clipped AdamW steps");
}

// The training graph is the model the engine runs: its logits equal the inference path's
// (models/transformer.cpp through loadCausalLM) on the same checkpoint.
TEST_F(TrainTiny, TrainingGraphMatchesTheInferenceModel) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    auto ckpt = Checkpoint::open(kDir);
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    auto lm = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(lm.ok()) << lm.error();
    Tensor ids = (*be)->upload(ids_.data(), DType::I64, {2, 8});
    KvCache cache = (*lm)->newCache(2, 8);
    Tensor logits = (*lm)->logits((*lm)->forward((*lm)->embed(ids), cache));
    std::vector<float> engine(static_cast<size_t>(logits.numel()));
    (*be)->read(logits, engine.data());
    Tape<float> tape;
    Var lg = model_->logits(tape, model_->hidden(tape, ids_, 2, 8));
    const auto& mine = tape.value(lg);
    ASSERT_EQ(mine.size(), engine.size());
    for (size_t i = 0; i < mine.size(); ++i) EXPECT_NEAR(mine[i], engine[i], 1e-4) << i;
}

TEST(TrainTinyLoad, OtherFamiliesAreRefused) {
    auto m = LlamaTrainModel::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/qwen2_tiny");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("qwen2"), std::string::npos) << m.error();
}

TEST(TrainTinyLoad, MissingFolderIsAClearError) {
    auto m = LlamaTrainModel::load(kDir + "/does-not-exist");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("does-not-exist"), std::string::npos) << m.error();
}

} // namespace
} // namespace tessera::train
