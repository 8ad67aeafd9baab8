// EAR's trained projections on the tiny Llama: training touches only the first N layers' q/k/v/o,
// the file uses the official names and round-trips bit for bit, and the inference model with the file
// as an overlay computes what the trained training graph computes.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/train_ear.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <unistd.h>

namespace tessera::train {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/train_tiny";

std::vector<float> inferenceLogits(CausalLM& lm, Backend& be, const std::vector<int64_t>& ids) {
    Tensor t = be.upload(ids.data(), DType::I64, {1, static_cast<int64_t>(ids.size())});
    KvCache cache = lm.newCache(1, static_cast<int64_t>(ids.size()));
    Tensor logits = lm.logits(lm.forward(lm.embed(t), cache));
    std::vector<float> out(static_cast<size_t>(logits.numel()));
    be.read(logits, out.data());
    return out;
}

TEST(TrainEar, OnlyTheFirstLayersProjectionsTrainAndTheFileAppliesAsAnOverlay) {
    auto loaded = LlamaTrainModel::load(kDir);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    LlamaTrainModel m = std::move(*loaded);
    std::vector<std::vector<float>> before;
    for (const auto& p : m.parameters()) before.push_back(p.value);
    const LmLayout layout;
    EXPECT_EQ(earSelectTrainable(m.parameters(), layout, 1), 4);

    TrainerOptions o;
    o.adam = AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.0, false};
    o.checkpoint_every = 0;
    const std::vector<int64_t> ids = {1, 5, 9, 13, 17, 21, 25, 29};
    Trainer t(m.parameters(), o,
              [&](Tape<float>& tape, int64_t, int) { return m.nextTokenLoss(tape, ids, ids, 1, 8); });
    ASSERT_TRUE(t.run(3).ok());
    EXPECT_LT(t.losses().back(), t.losses().front());
    const std::set<std::string> trained = {
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight"};
    for (size_t i = 0; i < m.parameters().size(); ++i) {
        const auto& p = m.parameters()[i];
        if (trained.count(p.name))
            EXPECT_NE(p.value, before[i]) << p.name;
        else
            EXPECT_EQ(p.value, before[i]) << p.name;
    }

    const fs::path file =
        fs::temp_directory_path() / ("tessera_ear_" + std::to_string(::getpid()) + ".safetensors");
    ASSERT_TRUE(saveEarWeights(file.string(), m.parameters(), layout, 1).ok());
    auto sf = SafetensorsFile::open(file.string());
    ASSERT_TRUE(sf.ok()) << sf.error();
    std::set<std::string> names;
    for (const auto& info : (*sf)->header().tensors) names.insert(info.name);
    EXPECT_EQ(names, (std::set<std::string>{
                         "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight",
                         "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight"}));
    for (const auto& info : (*sf)->header().tensors) {
        const Parameter<float>* p = m.find("model." + info.name);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(info.end - info.begin, p->value.size() * sizeof(float));
        EXPECT_EQ(std::memcmp((*sf)->data(info), p->value.data(), p->value.size() * sizeof(float)), 0)
            << info.name;
    }

    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto ckpt = Checkpoint::open(kDir);
    ASSERT_TRUE(ckpt.ok());
    auto base = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(base.ok()) << base.error();
    const auto original = inferenceLogits(**base, **be, ids);
    auto overlay = loadEarOverlay(file.string(), layout, **be);
    ASSERT_TRUE(overlay.ok()) << overlay.error();
    auto erased = (*base)->withOverlay(*overlay);
    ASSERT_TRUE(erased.ok()) << erased.error();
    const auto with_delta = inferenceLogits(**erased, **be, ids);
    Tape<float> tape;
    const auto& trained_logits = tape.value(m.logits(tape, m.hidden(tape, ids, 1, 8)));
    ASSERT_EQ(with_delta.size(), trained_logits.size());
    double moved = 0;
    for (size_t i = 0; i < with_delta.size(); ++i) {
        EXPECT_NEAR(with_delta[i], trained_logits[i], 1e-4) << i;
        moved = std::max(moved, std::fabs(static_cast<double>(with_delta[i]) - original[i]));
    }
    EXPECT_GT(moved, 1e-2) << "the overlay changed nothing";
    // The base model is untouched by its overlaid view.
    EXPECT_EQ(inferenceLogits(**base, **be, ids), original);
    fs::remove(file);
}

TEST(TrainEar, FilesWithOtherTensorsAreRefused) {
    const fs::path file =
        fs::temp_directory_path() / ("tessera_ear_bad_" + std::to_string(::getpid()) + ".safetensors");
    std::vector<float> v(4, 1.0f);
    ASSERT_TRUE(writeSafetensorsF32(file.string(), {{"layers.0.mlp.up_proj.weight", {2, 2}, &v}}).ok());
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto overlay = loadEarOverlay(file.string(), LmLayout{}, **be);
    ASSERT_FALSE(overlay.ok());
    EXPECT_NE(overlay.error().find("layers.0.mlp.up_proj.weight"), std::string::npos) << overlay.error();
    fs::remove(file);
}

// Thresholded Loss Masking by hand: window 3, threshold 0.5; a window whose summed loss is at most the
// threshold is skipped (the sums here are exact in binary).
TEST(TrainEar, ThresholdedLossMaskingSkipsExactlyTheWindowsAtOrUnderTheThreshold) {
    WindowedAccumulation wga(3, 0.5);
    const std::vector<double> losses = {0.125, 0.125, 0.25, 0.25, 0.25, 0.125, 0, 0, 0, 1, 0, 0, 0.75, 0.75};
    std::vector<WindowedAccumulation::Decision> got;
    for (double l : losses)
        if (auto d = wga.add(l)) got.push_back(*d);
    ASSERT_EQ(got.size(), 4u); // the last two steps do not close a window
    const std::vector<double> sums = {0.5, 0.625, 0.0, 1.0};
    const std::vector<bool> update = {false, true, false, true};
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].window, static_cast<int64_t>(i));
        EXPECT_EQ(got[i].loss_sum, sums[i]) << i;
        EXPECT_EQ(got[i].update, update[i]) << i;
    }
}

TEST(TrainEar, TargetByHand) {
    EXPECT_EQ(earTarget({1, 2}, {3, 5}, {1, 1}, 1.0f), (std::vector<float>{-1, -2}));
    EXPECT_EQ(earTarget({1, 2}, {3, 5}, {1, 1}, 0.5f), (std::vector<float>{0, 0}));
    EXPECT_THROW(earTarget({1}, {1, 2}, {1, 2}, 1.0f), Error);
}

struct EarRun {
    std::vector<WindowedAccumulation::Decision> windows;
};

// EAR's objective on the tiny Llama with teacher-forced prompts (no sampling): the trainable first
// layer's projections are pulled towards the frozen model's ESD target for the "unsafe" prompts.
EarRun runEar(LlamaTrainModel& m, LlamaTrainModel& frozen, int steps, int window, double threshold) {
    const std::vector<std::vector<int64_t>> unsafe = {
        {4, 8, 15, 16, 23, 1}, {4, 8, 15, 2, 3, 1}, {4, 8, 9, 16, 23, 5}};
    const std::vector<std::vector<int64_t>> neutral = {
        {4, 8, 30, 16, 23, 1}, {4, 8, 30, 2, 3, 1}, {4, 8, 30, 16, 23, 5}};
    const std::vector<std::vector<int64_t>> target = {
        {4, 8, 11, 16, 23, 1}, {4, 8, 11, 2, 3, 1}, {4, 8, 11, 16, 23, 5}};
    EXPECT_EQ(earSelectTrainable(m.parameters(), LmLayout{}, 1), 4);
    Adam adam(AdamOptions{1e-2, 0.9, 0.999, 1e-8, 0.0, false});
    WindowedAccumulation wga(window, threshold);
    EarRun run;
    for (auto& p : m.parameters()) p.zeroGrad();
    for (int t = 0; t < steps; ++t) {
        const size_t k = static_cast<size_t>(t) % unsafe.size();
        Tape<float> ft;
        auto h = [&](const std::vector<int64_t>& ids) { return ft.value(frozen.hidden(ft, ids, 1, 6)); };
        std::vector<float> goal = earTarget(h(target[k]), h(unsafe[k]), h(neutral[k]), 1.0f);
        Tape<float> tape;
        Var hu = m.hidden(tape, unsafe[k], 1, 6);
        Var loss = tape.mse(hu, tape.constant(std::move(goal), tape.shape(hu)));
        tape.backward(loss);
        if (auto d = wga.add(tape.scalar(loss))) {
            if (d->update) adam.update(m.parameters());
            for (auto& p : m.parameters()) p.zeroGrad();
            run.windows.push_back(*d);
        }
    }
    return run;
}

TEST(TrainEar, ObjectiveLowersTheLossAndTouchesOnlyTheChosenLayers) {
    auto m = LlamaTrainModel::load(kDir);
    auto frozen = LlamaTrainModel::load(kDir);
    ASSERT_TRUE(m.ok() && frozen.ok());
    std::vector<std::vector<float>> before;
    for (const auto& p : m->parameters()) before.push_back(p.value);
    const EarRun run = runEar(*m, *frozen, 36, 3, 0.0);
    ASSERT_EQ(run.windows.size(), 12u);
    for (const auto& w : run.windows) EXPECT_TRUE(w.update);
    std::printf("window loss sums: first %.6g last %.6g\n", run.windows.front().loss_sum,
                run.windows.back().loss_sum);
    EXPECT_LT(run.windows.back().loss_sum, 0.5 * run.windows.front().loss_sum);
    for (size_t i = 0; i < m->parameters().size(); ++i) {
        const auto& p = m->parameters()[i];
        const bool chosen = p.name.rfind("model.layers.0.self_attn.", 0) == 0;
        if (chosen)
            EXPECT_NE(p.value, before[i]) << p.name;
        else
            EXPECT_EQ(p.value, before[i]) << p.name;
    }
}

TEST(TrainEar, WindowsUnderTheThresholdChangeNothing) {
    auto m = LlamaTrainModel::load(kDir);
    auto frozen = LlamaTrainModel::load(kDir);
    ASSERT_TRUE(m.ok() && frozen.ok());
    std::vector<std::vector<float>> before;
    for (const auto& p : m->parameters()) before.push_back(p.value);
    const EarRun run = runEar(*m, *frozen, 9, 3, 1e9);
    ASSERT_EQ(run.windows.size(), 3u);
    for (const auto& w : run.windows) {
        EXPECT_FALSE(w.update);
        EXPECT_GT(w.loss_sum, 0.0);
    }
    for (size_t i = 0; i < m->parameters().size(); ++i) EXPECT_EQ(m->parameters()[i].value, before[i]);
}

// Janus-Pro's LM sits under "model.language_model." (its head tied to the embedding by the top-level
// tie_word_embeddings): the training graph loads it there, computes the inference LM's hidden states
// and logits, and EAR weights written from it carry the official names and apply to that LM.
TEST(TrainEar, JanusLanguageModelLayout) {
    const std::string janus = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";
    const LmLayout layout{"model.language_model.", "lm_head.weight"};
    auto m = LlamaTrainModel::load(janus, layout);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(m->find("lm_head.weight"), nullptr);
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto ckpt = Checkpoint::open(janus);
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    auto lm = loadCausalLM(*ckpt, **be, layout);
    ASSERT_TRUE(lm.ok()) << lm.error();
    const std::vector<int64_t> ids = {1, 17, 42, 299, 5, 250};
    auto engineHidden = [&](CausalLM& model) {
        Tensor t = (*be)->upload(ids.data(), DType::I64, {1, 6});
        KvCache cache = model.newCache(1, 6);
        Tensor h = model.forward(model.embed(t), cache);
        std::vector<float> out(static_cast<size_t>(h.numel()));
        (*be)->read(h, out.data());
        return out;
    };
    Tape<float> tape;
    const auto mine = tape.value(m->hidden(tape, ids, 1, 6));
    const auto engine = engineHidden(**lm);
    ASSERT_EQ(mine.size(), engine.size());
    for (size_t i = 0; i < mine.size(); ++i) EXPECT_NEAR(mine[i], engine[i], 1e-4) << i;
    {
        Tape<float> t2;
        const auto lg = t2.value(m->logits(t2, m->hidden(t2, ids, 1, 6)));
        Tensor t = (*be)->upload(ids.data(), DType::I64, {1, 6});
        KvCache cache = (*lm)->newCache(1, 6);
        Tensor el = (*lm)->logits((*lm)->forward((*lm)->embed(t), cache));
        std::vector<float> ev(static_cast<size_t>(el.numel()));
        (*be)->read(el, ev.data());
        ASSERT_EQ(lg.size(), ev.size());
        for (size_t i = 0; i < lg.size(); ++i) EXPECT_NEAR(lg[i], ev[i], 1e-4) << i;
    }
    // Perturb the first layer's projections as training would, save, and apply to the inference LM.
    EXPECT_EQ(earSelectTrainable(m->parameters(), layout, 1), 4);
    for (auto& p : m->parameters())
        if (p.trainable)
            for (size_t i = 0; i < p.value.size(); ++i) p.value[i] += 0.01f * static_cast<float>((i % 7) - 3);
    const fs::path file =
        fs::temp_directory_path() / ("tessera_ear_janus_" + std::to_string(::getpid()) + ".safetensors");
    ASSERT_TRUE(saveEarWeights(file.string(), m->parameters(), layout, 1).ok());
    auto sf = SafetensorsFile::open(file.string());
    ASSERT_TRUE(sf.ok());
    EXPECT_NE((*sf)->find("layers.0.self_attn.v_proj.weight"), nullptr);
    auto overlay = loadEarOverlay(file.string(), layout, **be);
    ASSERT_TRUE(overlay.ok()) << overlay.error();
    auto erased = (*lm)->withOverlay(*overlay);
    ASSERT_TRUE(erased.ok()) << erased.error();
    Tape<float> t3;
    const auto trained = t3.value(m->hidden(t3, ids, 1, 6));
    const auto with_delta = engineHidden(**erased);
    double moved = 0;
    for (size_t i = 0; i < trained.size(); ++i) {
        EXPECT_NEAR(with_delta[i], trained[i], 1e-4) << i;
        moved = std::max(moved, std::fabs(static_cast<double>(with_delta[i]) - engine[i]));
    }
    EXPECT_GT(moved, 1e-3);
    fs::remove(file);
}

} // namespace
} // namespace tessera::train
