// Lumos-1's sequence builder against hand-written expectations (the spec's vocabulary table).
#include <gtest/gtest.h>

#include "tessera/engine/lumos.h"

namespace tessera {

TEST(LumosSequence, PromptTextFollowsTheTemplate) {
    EXPECT_EQ(lumosPromptText("a cat", 448, 256, 12, 2),
              "Generate a video with a resolution of 448x256, consisting of 24 frames at 12 frames per second, "
              "according to the following prompt:\n a cat");
}

TEST(LumosSequence, PrefixIsBosTextSeparatorVideoStartDurationFps) {
    // [0] tok(q) [8710] [9004] [8804+dur] [8804+fps], written out by hand for dur 2, fps 12.
    const std::vector<int64_t> expected = {0, 5, 6, 8710, 9004, 8806, 8816};
    EXPECT_EQ(lumosPrefix({5, 6}, 2, 12), expected);
}

TEST(LumosSequence, FrameSegmentHasHeaderRowsNewlinesAndEnd) {
    // 64x32 pixels: grid tokens 8804+1 (height/32) then 8804+2 (width/32); latent 4 rows of 8.
    std::vector<int32_t> codes(32, -1);
    codes[0] = 0;
    codes[9] = 63;   // row 1, column 1
    codes[31] = 7;   // last cell
    const std::vector<int64_t> expected = {
        8197, 8805, 8806,
        65536, 9003, 9003, 9003, 9003, 9003, 9003, 9003, 8803,
        9003, 65599, 9003, 9003, 9003, 9003, 9003, 9003, 8803,
        9003, 9003, 9003, 9003, 9003, 9003, 9003, 9003, 8803,
        9003, 9003, 9003, 9003, 9003, 9003, 9003, 65543, 8803,
        8196};
    EXPECT_EQ(lumosFrameSegment(codes.data(), 4, 8, 32, 64), expected);
    // No codes: every cell MASK.
    const auto masked = lumosFrameSegment(nullptr, 1, 2, 32, 32);
    EXPECT_EQ(masked, (std::vector<int64_t>{8197, 8805, 8805, 9003, 9003, 8803, 8196}));
}

TEST(LumosSequence, HistoryMaskIsEvenlySpacedWithHalfToEvenRounding) {
    // L = 10, ratio 0.7: n = 7, k·10/7 = 0, 1.43, 2.86, 4.29, 5.71, 7.14, 8.57 → 0 1 3 4 6 7 9.
    EXPECT_EQ(lumosHistoryMask(10, 0.7), (std::vector<int64_t>{0, 1, 3, 4, 6, 7, 9}));
    // L = 5, ratio 0.5: n = round(2.5) = 2 (half to even); 0, 2.5 → 0, 2 (half to even).
    EXPECT_EQ(lumosHistoryMask(5, 0.5), (std::vector<int64_t>{0, 2}));
    // L = 36 (a 4x8 latent frame with newlines), ratio 0.7: n = round(25.2) = 25.
    EXPECT_EQ(lumosHistoryMask(36, 0.7).size(), 25u);
    // Ratio 1: every position.
    EXPECT_EQ(lumosHistoryMask(4, 1.0), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(LumosSequence, UnconditionalBranchStartsAtVideoStartWithItsOwnP0) {
    std::vector<int64_t> cond = lumosPrefix({5, 6, 7}, 1, 2);
    const auto frame = lumosFrameSegment(nullptr, 4, 8, 32, 64);
    cond.insert(cond.end(), frame.begin(), frame.end());
    auto b = lumosBranches(cond);
    ASSERT_TRUE(b.ok()) << b.error();
    // cond: 0 5 6 7 8710 | 9004 8805 8806 | 8197 8805 8806 | first code at 11.
    EXPECT_EQ(b->cond_p0, 11);
    EXPECT_EQ(b->uncond_offset, 5);
    EXPECT_EQ(b->uncond_p0, 6);
    EXPECT_EQ(b->uncond.front(), 9004);
    EXPECT_EQ(b->uncond.size(), cond.size() - 5);
    EXPECT_FALSE(lumosBranches({0, 5, 6}).ok());
}

TEST(LumosSequence, ShapeChecksSizesAndDefaults) {
    LumosRequest r;
    r.width = 448;
    r.height = 256;
    auto s = lumosShape(r);
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->lat_h, 32);
    EXPECT_EQ(s->lat_w, 56);
    EXPECT_EQ(s->latent_frames, 7); // 24 frames: ceil(23/4) + 1
    EXPECT_FLOAT_EQ(s->cfg, 15.0f);
    r.task = LumosTask::TextToImage;
    s = lumosShape(r);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->latent_frames, 1);
    EXPECT_FLOAT_EQ(s->cfg, 16.0f);
    r.width = 450;
    s = lumosShape(r);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("450x256"), std::string::npos);
    r = LumosRequest{};
    r.task = LumosTask::ImageToVideo;
    s = lumosShape(r);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("first frame"), std::string::npos);
}

} // namespace tessera
