// EAR's trained projections on the tiny Llama: training touches only the first N layers' q/k/v/o,
// the file uses the official names and round-trips bit for bit, and the inference model with the file
// as an overlay computes what the trained training graph computes.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/train_ear.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
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
    Trainer t(m.parameters(), o, [&](Tape<float>& tape, int64_t, int) { return m.nextTokenLoss(tape, ids, ids, 1, 8); });
    ASSERT_TRUE(t.run(3).ok());
    EXPECT_LT(t.losses().back(), t.losses().front());
    const std::set<std::string> trained = {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                                           "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight"};
    for (size_t i = 0; i < m.parameters().size(); ++i) {
        const auto& p = m.parameters()[i];
        if (trained.count(p.name)) EXPECT_NE(p.value, before[i]) << p.name;
        else EXPECT_EQ(p.value, before[i]) << p.name;
    }

    const fs::path file = fs::temp_directory_path() / ("tessera_ear_" + std::to_string(::getpid()) + ".safetensors");
    ASSERT_TRUE(saveEarWeights(file.string(), m.parameters(), layout, 1).ok());
    auto sf = SafetensorsFile::open(file.string());
    ASSERT_TRUE(sf.ok()) << sf.error();
    std::set<std::string> names;
    for (const auto& info : (*sf)->header().tensors) names.insert(info.name);
    EXPECT_EQ(names, (std::set<std::string>{"layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight",
                                             "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight"}));
    for (const auto& info : (*sf)->header().tensors) {
        const Parameter<float>* p = m.find("model." + info.name);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(info.end - info.begin, p->value.size() * sizeof(float));
        EXPECT_EQ(std::memcmp((*sf)->data(info), p->value.data(), p->value.size() * sizeof(float)), 0) << info.name;
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
    const fs::path file = fs::temp_directory_path() / ("tessera_ear_bad_" + std::to_string(::getpid()) + ".safetensors");
    std::vector<float> v(4, 1.0f);
    ASSERT_TRUE(writeSafetensorsF32(file.string(), {{"layers.0.mlp.up_proj.weight", {2, 2}, &v}}).ok());
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto overlay = loadEarOverlay(file.string(), LmLayout{}, **be);
    ASSERT_FALSE(overlay.ok());
    EXPECT_NE(overlay.error().find("layers.0.mlp.up_proj.weight"), std::string::npos) << overlay.error();
    fs::remove(file);
}

} // namespace
} // namespace tessera::train
