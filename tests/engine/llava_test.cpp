// LLaVA (IG-LLM's base) against the reference set, and a prompt whose placeholders do not match.
#include <gtest/gtest.h>

#include "models/llava_model.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

namespace tessera {

const std::string kLlava = std::string(TESSERA_TEST_DATA_DIR) + "/reference/llava_tiny";

TEST(Llava, ReferenceLogitsMatch) {
    auto be = createBackend("cpu", 2);
    auto report = verifyReferenceSet(kLlava, **be);
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->kind, "llava");
    ASSERT_EQ(report->checks.size(), 1u);
    EXPECT_TRUE(report->checks[0].passed) << report->checks[0].max_abs_diff;
}

TEST(Llava, PlaceholderCountMismatchIsAnError) {
    auto be = createBackend("cpu", 1);
    auto ckpt = Checkpoint::open(kLlava);
    ASSERT_TRUE(ckpt.ok());
    auto m = LlavaModel::load(*ckpt, **be);
    ASSERT_TRUE(m.ok()) << m.error();
    Tensor pixels = (*be)->zeros(DType::F32, {1, 3, 32, 32});
    Tensor ids = (*be)->fromI64({1, 299, 299, 5}, {1, 4}); // 2 placeholders, the image gives 16 features
    EXPECT_THROW((*m)->inputEmbeds(ids, pixels), Error);
    Tensor wrong_size = (*be)->zeros(DType::F32, {1, 3, 48, 48});
    EXPECT_THROW((*m)->imageFeatures(wrong_size), Error);
}

} // namespace tessera
