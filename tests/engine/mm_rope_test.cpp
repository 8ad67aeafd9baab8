// Lumos-1 MM-RoPE and frame-causal mask against the official functions' outputs (reference/mmrope).
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/engine/engine.h"
#include "tessera/engine/mm_rope.h"
#include "tessera/engine/verify.h"

namespace tessera {

TEST(MmRope, ReferenceSetMatches) {
    auto be = createBackend("cpu", 2);
    auto report = verifyReferenceSet(std::string(TESSERA_TEST_DATA_DIR) + "/reference/mmrope", **be);
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->kind, "mmrope");
    ASSERT_EQ(report->checks.size(), 10u);
    for (const auto& c : report->checks) EXPECT_TRUE(c.passed) << c.name << " " << c.max_abs_diff;
}

TEST(MmRope, FrameInProgressIsContentUpToTheEnd) {
    // text, frame start, grid h, grid w, two codes, newline, one code (frame still being generated)
    const std::vector<int64_t> ids = {0, 5, 8197, 8805, 8806, 70000, 70001, 8803, 70002};
    auto p = mmRopePositions(ids);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(p->content, (std::vector<uint8_t>{0, 0, 0, 0, 0, 1, 1, 1, 1}));
    EXPECT_EQ(p->w[5], 5);      // P0 + 8·0
    EXPECT_EQ(p->w[7], 5 + 16); // the newline column
    EXPECT_EQ(p->h[8], 5 + 8);  // second row
    const auto mask = frameCausalMask(ids);
    EXPECT_EQ(mask[2 * ids.size() + 8], 1); // the frame start sees the whole (partial) frame
    EXPECT_EQ(mask[1 * ids.size() + 2], 0); // text stays causal
}

TEST(MmRope, DrivesAChameleonForwardWithTheFrameMask) {
    auto be = createBackend("cpu", 2);
    auto ckpt = Checkpoint::open(std::string(TESSERA_TEST_DATA_DIR) + "/reference/chameleon_tiny");
    ASSERT_TRUE(ckpt.ok());
    auto m = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(m.ok()) << m.error();
    // chameleon_tiny's vocabulary is 400: use small ids with the same layout roles.
    LumosTokens tok{390, 391, 392};
    const std::vector<int64_t> ids = {1, 7, 390, 3, 3, 100, 101, 392, 102, 103, 392, 391};
    auto pos = mmRopePositions(ids, tok);
    ASSERT_TRUE(pos.ok());
    RopeTables rope = mmRopeTables(**be, *pos, (*m)->config().head_dim, (*m)->config().rope_theta);
    const auto allowed = frameCausalMask(ids, tok);
    AttentionMask mask;
    mask.kind = AttentionMask::Kind::Explicit;
    const int64_t n = static_cast<int64_t>(ids.size());
    mask.allowed = (*be)->upload(allowed.data(), DType::U8, {n, n});
    KvCache cache = (*m)->newCache(1, n);
    auto logits = (*be)->readF32((*m)->logits((*m)->forward((*m)->embed((*be)->fromI64(ids, {1, n})), cache, mask, &rope)));
    ASSERT_EQ(logits.size(), static_cast<size_t>(n * (*m)->config().vocab));
    for (float v : logits) ASSERT_TRUE(std::isfinite(v));
    // Bidirectional inside the frame: the first code's logits depend on a later code of the same frame.
    std::vector<int64_t> changed = ids;
    changed[9] = 104;
    KvCache cache2 = (*m)->newCache(1, n);
    auto logits2 = (*be)->readF32((*m)->logits((*m)->forward((*m)->embed((*be)->fromI64(changed, {1, n})), cache2, mask, &rope)));
    const int64_t v = (*m)->config().vocab;
    bool differs = false;
    for (int64_t k = 0; k < v; ++k) differs |= logits[static_cast<size_t>(5 * v + k)] != logits2[static_cast<size_t>(5 * v + k)];
    EXPECT_TRUE(differs);
    // ...while text before the frame does not see it.
    for (int64_t k = 0; k < v; ++k) ASSERT_EQ(logits[static_cast<size_t>(1 * v + k)], logits2[static_cast<size_t>(1 * v + k)]);
}

} // namespace tessera
