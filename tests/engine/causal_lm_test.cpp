// Model families against the reference sets produced by the reference implementation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

namespace tessera {

class CausalLmReference : public ::testing::TestWithParam<std::string> {};

TEST_P(CausalLmReference, PrefillStepsAndGreedyMatch) {
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto report = verifyReferenceSet(std::string(TESSERA_TEST_DATA_DIR) + "/reference/" + GetParam(), **be);
    ASSERT_TRUE(report.ok()) << report.error();
    ASSERT_GE(report->checks.size(), 3u); // prefill, steps, greedy (+ the embeddings path where the set has it)
    EXPECT_EQ(report->checks[0].name, "prefill_logits");
    for (const auto& c : report->checks) EXPECT_TRUE(c.passed) << c.name << " max|d| " << c.max_abs_diff << " " << c.detail;
}

INSTANTIATE_TEST_SUITE_P(Families, CausalLmReference, ::testing::Values("llama_tiny", "qwen2_tiny", "chameleon_tiny", "gpt2_tiny"));

TEST(CausalLm, Gpt2SetChecksTheEmbeddingsPath) {
    auto be = createBackend("cpu", 2);
    auto report = verifyReferenceSet(std::string(TESSERA_TEST_DATA_DIR) + "/reference/gpt2_tiny", **be);
    ASSERT_TRUE(report.ok()) << report.error();
    ASSERT_EQ(report->checks.size(), 4u);
    EXPECT_EQ(report->checks[3].name, "embeds_last_hidden");
    EXPECT_TRUE(report->checks[3].passed) << report->checks[3].max_abs_diff;
}

TEST(CausalLm, SameLogitsWhateverTheThreadCount) {
    const std::string dir = std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny";
    std::vector<float> first;
    for (int threads : {1, 2}) {
        auto be = createBackend("cpu", threads);
        auto ckpt = Checkpoint::open(dir);
        ASSERT_TRUE(ckpt.ok()) << ckpt.error();
        auto m = loadCausalLM(*ckpt, **be);
        ASSERT_TRUE(m.ok()) << m.error();
        KvCache cache = (*m)->newCache(2, 16);
        Tensor ids = (*be)->fromI64({1, 5, 9, 20, 1, 7, 3, 2}, {2, 4});
        auto logits = (*be)->readF32((*m)->logits((*m)->forward((*m)->embed(ids), cache)));
        if (first.empty()) first = logits;
        else EXPECT_EQ(first, logits);
    }
}

} // namespace tessera

namespace tessera {

// A config with wrongly typed or absurd values is a Status, never an exception escaping the loader.
TEST(CausalLm, MalformedConfigValuesAreErrorsNotCrashes) {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llama_tiny";
    const fs::path dir = fs::temp_directory_path() / "tessera_bad_config";
    auto be = createBackend("cpu", 1);
    for (const std::string& patch : {std::string("\"attention_bias\": 1,"), std::string("\"num_hidden_layers\": 1000000000,")}) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        fs::copy_file(src / "model.safetensors", dir / "model.safetensors");
        std::ifstream in(src / "config.json");
        std::string text((std::istreambuf_iterator<char>(in)), {});
        const std::string key = patch.substr(0, patch.find(':'));
        // Drop the original key, then put the patched one first.
        auto pos = text.find(key);
        if (pos != std::string::npos) text.erase(pos, text.find_first_of(",}", pos) + 1 - pos);
        text.insert(text.find('{') + 1, patch);
        std::ofstream(dir / "config.json") << text;
        auto ckpt = Checkpoint::open(dir.string());
        ASSERT_TRUE(ckpt.ok()) << ckpt.error();
        auto m = loadCausalLM(*ckpt, **be);
        EXPECT_FALSE(m.ok()) << patch;
    }
    fs::remove_all(dir);
}

} // namespace tessera
