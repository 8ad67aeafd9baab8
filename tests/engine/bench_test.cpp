// The benchmark plumbing: presets, random checkpoints, bandwidth and the decode loop (no timings).
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

namespace {

fs::path scratch(const std::string& name) {
    return fs::temp_directory_path() / ("tessera-bench-test-" + std::to_string(::getpid()) + "-" + name);
}

} // namespace

// Parameter counts worked out by hand from the shapes (Llama: 4·D² attention + 3·D·F MLP + 2·D norms
// per layer, V·D embedding, D final norm, V·D head unless tied).
TEST(Bench, PresetParameterCounts) {
    auto c100 = presetConfig("llama-100m");
    ASSERT_TRUE(c100.ok()) << c100.error();
    auto t100 = checkpointTensors(*c100);
    ASSERT_TRUE(t100.ok()) << t100.error();
    EXPECT_EQ(parameterCount(*t100), 12 * (4 * 768 * 768 + 3 * 768 * 2048 + 2 * 768) + 32000 * 768 + 768);
    EXPECT_EQ(parameterCount(*t100), 109529856);

    auto janus = presetConfig("janus-pro-1b");
    ASSERT_TRUE(janus.ok());
    auto tj = checkpointTensors(*janus);
    ASSERT_TRUE(tj.ok()) << tj.error();
    const int64_t d = 2048, f = 5632, v = 102400;
    EXPECT_EQ(parameterCount(*tj), 24 * (4 * d * d + 3 * d * f + 2 * d) + 2 * v * d + d);

    EXPECT_FALSE(presetConfig("no-such-model").ok());
}

TEST(Bench, QwenConfigAddsAttentionBiases) {
    std::ifstream in(std::string(TESSERA_TEST_DATA_DIR) + "/reference/qwen2_tiny/config.json");
    ASSERT_TRUE(in.good());
    auto t = checkpointTensors(nlohmann::json::parse(in));
    ASSERT_TRUE(t.ok()) << t.error();
    int biases = 0;
    for (const auto& s : *t) biases += s.name.find("_proj.bias") != std::string::npos;
    EXPECT_GT(biases, 0);
}

TEST(Bench, RejectsUnsupportedFamily) {
    EXPECT_FALSE(checkpointTensors(nlohmann::json{{"model_type", "bert"}, {"hidden_size", 8}}).ok());
}

// The written checkpoint goes through the real loader and holds exactly the preset's parameters.
TEST(Bench, RandomCheckpointLoadsWithThePresetShape) {
    auto cfg = presetConfig("llama-tiny");
    ASSERT_TRUE(cfg.ok());
    const fs::path dir = scratch("load");
    ASSERT_TRUE(writeRandomCheckpoint(*cfg, dir.string(), 7).ok());
    {
        auto ckpt = Checkpoint::open(dir.string());
        ASSERT_TRUE(ckpt.ok()) << ckpt.error();
        auto be = createBackend("cpu", 1);
        ASSERT_TRUE(be.ok());
        auto lm = loadCausalLM(*ckpt, **be);
        ASSERT_TRUE(lm.ok()) << lm.error();
        auto specs = checkpointTensors(*cfg);
        ASSERT_TRUE(specs.ok());
        EXPECT_EQ((*lm)->weightBytes(), static_cast<size_t>(parameterCount(*specs)) * 4);
        EXPECT_EQ((*lm)->config().hidden, (*cfg)["hidden_size"].get<int64_t>());
        EXPECT_EQ((*lm)->config().vocab, (*cfg)["vocab_size"].get<int64_t>());
        // Random weights, norms of one: logits are finite and not all equal.
        KvCache cache = (*lm)->newCache(1, 4);
        auto logits = (*be)->readF32(
            (*lm)->logits((*lm)->forward((*lm)->embed((*be)->fromI64({3, 4}, {1, 2})), cache)));
        ASSERT_FALSE(logits.empty());
        bool varied = false;
        for (float x : logits) {
            ASSERT_TRUE(std::isfinite(x));
            varied = varied || x != logits[0];
        }
        EXPECT_TRUE(varied);
    }
    fs::remove_all(dir);
}

TEST(Bench, SameSeedSameFile) {
    auto cfg = presetConfig("llama-tiny");
    ASSERT_TRUE(cfg.ok());
    const fs::path a = scratch("seed-a"), b = scratch("seed-b");
    ASSERT_TRUE(writeRandomCheckpoint(*cfg, a.string(), 3).ok());
    ASSERT_TRUE(writeRandomCheckpoint(*cfg, b.string(), 3).ok());
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p / "model.safetensors", std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    EXPECT_EQ(slurp(a), slurp(b));
    fs::remove_all(a);
    fs::remove_all(b);
}

TEST(Bench, BandwidthIsPositive) {
    auto bw = measureReadBandwidth(size_t(16) << 20, 2, 2);
    ASSERT_TRUE(bw.ok()) << bw.error();
    EXPECT_GT(bw->gb_per_s, 0.0);
    EXPECT_EQ(bw->threads, 2);
    EXPECT_EQ(bw->bytes, size_t(16) << 20);
}

TEST(Bench, DecodeRunsAndCleansUp) {
    DecodeBenchOptions o;
    o.preset = "llama-tiny";
    o.batch = 2;
    o.steps = 3;
    o.prompt_len = 4;
    o.threads = 2;
    o.bandwidth_bytes = size_t(8) << 20;
    const fs::path base = scratch("decode");
    fs::create_directories(base);
    o.scratch_dir = base.string();
    auto r = runDecodeBench(o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->batch, 2);
    EXPECT_EQ(r->steps, 3);
    EXPECT_EQ(r->threads, 2);
    EXPECT_EQ(r->family, "llama");
    // llama-tiny has an untied embedding: it is gathered, not streamed.
    EXPECT_EQ(r->weight_bytes - r->streamed_bytes, size_t(512 * 128 * 4));
    EXPECT_GT(r->ms_per_step, 0.0);
    EXPECT_GT(r->bandwidth_gbs, 0.0);
    EXPECT_NEAR(r->fraction_of_floor, r->floor_ms_per_step / r->ms_per_step, 1e-9);
    auto j = r->toJson();
    EXPECT_EQ(j["bench"], "decode");
    EXPECT_EQ(j.begin().key(), "bench");
    EXPECT_TRUE(fs::is_empty(base)) << "scratch checkpoint left behind";
    fs::remove_all(base);

    o.preset = "nope";
    EXPECT_FALSE(runDecodeBench(o).ok());
}

} // namespace tessera::bench
