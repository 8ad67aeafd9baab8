// Decode orders: coverage, causality and the MaskGIT schedule (values worked out by hand below).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "tessera/engine/decode_order.h"
#include "tessera/engine/status.h"

namespace tessera {
namespace {

// Drives an order to the end with fixed tokens (cell id) and log-probabilities (−cell/100: lower cells
// more confident) and checks, before every step, that the cells already known are exactly those each
// predicted position may depend on (raster, window) or never beyond its frame (frames).
void checkCausality(DecodeOrder& order, bool exact) {
    std::vector<int> commits(static_cast<size_t>(order.cells()), 0);
    while (!order.done()) {
        const std::vector<int64_t> pos = order.next();
        ASSERT_FALSE(pos.empty());
        for (int64_t p : pos)
            for (int64_t other = 0; other < order.cells(); ++other) {
                const bool known = order.grid(0)[static_cast<size_t>(other)] >= 0;
                if (known) {
                    EXPECT_TRUE(order.mayDependOn(p, other) || other == p) << p << " sees " << other;
                }
                if (exact && order.mayDependOn(p, other)) {
                    EXPECT_TRUE(known) << p << " misses " << other;
                }
            }
        std::vector<int32_t> tokens(pos.size());
        std::vector<float> lp(pos.size());
        for (size_t i = 0; i < pos.size(); ++i) {
            tokens[i] = static_cast<int32_t>(pos[i]);
            lp[i] = -static_cast<float>(pos[i]) / 100.0f;
        }
        std::vector<int32_t> before = order.grid(0);
        order.commit(0, pos, tokens.data(), lp.data());
        for (size_t c = 0; c < before.size(); ++c)
            if (before[c] < 0 && order.grid(0)[c] >= 0) ++commits[c];
        order.advance();
    }
    for (int64_t c = 0; c < order.cells(); ++c) {
        EXPECT_EQ(commits[static_cast<size_t>(c)], 1) << "cell " << c;
        EXPECT_EQ(order.grid(0)[static_cast<size_t>(c)], c);
    }
    EXPECT_TRUE(order.next().empty());
}

TEST(DecodeOrder, RasterPredictsOneCellFromAllEarlierOnes) {
    RasterOrder order(1, 3, 5);
    EXPECT_EQ(order.totalSteps(), 15);
    EXPECT_EQ(order.next(), std::vector<int64_t>{0});
    checkCausality(order, true);
}

TEST(DecodeOrder, WindowsAreRowMajorAndSlotsRowMajorInside) {
    WindowOrder order(1, 4, 6, 2);
    EXPECT_EQ(order.totalSteps(), 6);
    EXPECT_EQ(order.next(), (std::vector<int64_t>{0, 1, 6, 7}));
    EXPECT_EQ(order.windowCells(4), (std::vector<int64_t>{14, 15, 20, 21}));
    EXPECT_EQ(order.windowOf(21), 4);
    checkCausality(order, true);
}

TEST(DecodeOrder, WindowOfOneIsRaster) {
    WindowOrder w(1, 3, 3, 1);
    RasterOrder r(1, 3, 3);
    while (!r.done()) {
        EXPECT_EQ(w.next(), r.next());
        w.advance();
        r.advance();
    }
}

TEST(DecodeOrder, WindowMustDivideTheGrid) {
    EXPECT_THROW(WindowOrder(1, 4, 6, 4), tessera::Error);
}

TEST(DecodeOrder, CosineScheduleKeepsTheHandComputedCountsMasked) {
    // n = 16, S = 4: floor(16·cos(π/8)) = floor(14.78) = 14, floor(16·cos(π/4)) = floor(11.31) = 11,
    // floor(16·cos(3π/8)) = floor(6.12) = 6, and the last step accepts everything.
    EXPECT_EQ(FrameMaskOrder::maskedAfter(16, 16, 0, 4), 14);
    EXPECT_EQ(FrameMaskOrder::maskedAfter(16, 14, 1, 4), 11);
    EXPECT_EQ(FrameMaskOrder::maskedAfter(16, 11, 2, 4), 6);
    EXPECT_EQ(FrameMaskOrder::maskedAfter(16, 6, 3, 4), 0);
    // Clamped to [1, unknown − 1]: never all kept masked, never none before the last step.
    EXPECT_EQ(FrameMaskOrder::maskedAfter(16, 5, 0, 4), 4);
    EXPECT_EQ(FrameMaskOrder::maskedAfter(100, 3, 48, 50), 2); // floor(100·cos(0.98·π/2)) = 3 → 2
    EXPECT_EQ(FrameMaskOrder::maskedAfter(10, 3, 48, 50), 1);  // floor(0.31) = 0 → 1
}

TEST(DecodeOrder, FramesCompleteInOrderAndTheMostConfidentAreKept) {
    FrameMaskSettings fs;
    fs.steps = 4;
    fs.gumbel_temperature = 0; // confidence alone decides
    FrameMaskOrder order(1, 2, 4, 4, fs);
    EXPECT_EQ(order.totalSteps(), 8);
    // Step 0 of frame 0: 16 predicted, 14 stay masked, so the two most confident (cells 0 and 1) commit.
    std::vector<int64_t> pos = order.next();
    ASSERT_EQ(pos.size(), 16u);
    std::vector<int32_t> tokens(16);
    std::vector<float> lp(16);
    for (int i = 0; i < 16; ++i) {
        tokens[static_cast<size_t>(i)] = 100 + i;
        lp[static_cast<size_t>(i)] = -static_cast<float>(i);
    }
    EXPECT_EQ(order.commit(0, pos, tokens.data(), lp.data()), 2);
    EXPECT_EQ(order.grid(0)[0], 100);
    EXPECT_EQ(order.grid(0)[1], 101);
    EXPECT_EQ(order.grid(0)[2], -1);
    order.advance();
    FrameMaskOrder again(1, 2, 4, 4, fs);
    checkCausality(again, false);
}

TEST(DecodeOrder, GumbelTemperatureDecaysAndIsNeverResetByDefault) {
    FrameMaskSettings fs;
    fs.steps = 4;
    fs.gumbel_temperature = 2.0;
    FrameMaskOrder ref(1, 2, 2, 2, fs);
    for (int s = 0; s < 4; ++s) ref.advance();
    EXPECT_EQ(ref.gumbelTemperature(), 0.0); // the factor (1 − 4/4) zeroes it for good
    fs.reset_temperature_per_frame = true;
    FrameMaskOrder reset(1, 2, 2, 2, fs);
    reset.advance();
    EXPECT_DOUBLE_EQ(reset.gumbelTemperature(), 2.0 * 0.75);
    for (int s = 1; s < 4; ++s) reset.advance();
    EXPECT_EQ(reset.gumbelTemperature(), 2.0);
}

} // namespace
} // namespace tessera
