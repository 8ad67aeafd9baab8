#include <gtest/gtest.h>

#include <cmath>

#include "tessera/engine/engine.h"

namespace tessera {

TEST(Tensor, Bf16RoundTripIsExactForRepresentableValues) {
    for (float v : {0.0f, 1.0f, -2.5f, 3.140625f, 1.5f}) EXPECT_EQ(bf16ToF32(f32ToBf16(v)), v);
    // Rounds to nearest even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
    EXPECT_EQ(bf16ToF32(f32ToBf16(1.0f + 1.0f / 256)), 1.0f);
}

TEST(Tensor, F16RoundTripAndSubnormals) {
    for (float v : {0.0f, 1.0f, -65504.0f, 0.5f, 6.103515625e-05f, 5.960464477539063e-08f})
        EXPECT_EQ(f16ToF32(f32ToF16(v)), v) << v;
    EXPECT_TRUE(std::isinf(f16ToF32(f32ToF16(1e6f))));
}

TEST(Tensor, ReshapeAndRowsShareMemory) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    Tensor t = (*be)->fromF32({1, 2, 3, 4, 5, 6}, {3, 2});
    Tensor r = t.rows(1, 3);
    EXPECT_EQ(r.shape(), (Shape{2, 2}));
    EXPECT_EQ((*be)->readF32(r), (std::vector<float>{3, 4, 5, 6}));
    EXPECT_EQ(t.reshape({-1}).shape(), (Shape{6}));
}

} // namespace tessera
