// Model families against the reference sets produced by the reference implementation.
#include <gtest/gtest.h>

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
    ASSERT_EQ(report->checks.size(), 3u);
    for (const auto& c : report->checks) EXPECT_TRUE(c.passed) << c.name << " max|d| " << c.max_abs_diff << " " << c.detail;
}

INSTANTIATE_TEST_SUITE_P(Families, CausalLmReference, ::testing::Values("llama_tiny", "qwen2_tiny", "chameleon_tiny"));

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
