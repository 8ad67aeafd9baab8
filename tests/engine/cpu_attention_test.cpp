// Attention over bf16 KV caches: the same bits as an f32 cache holding the same (bf16-rounded) values,
// and a cache half the size.
#include <gtest/gtest.h>

#include <random>

#include "tessera/engine/engine.h"

namespace tessera {
namespace {

std::vector<float> randomValues(size_t n, unsigned seed, bool round_bf16) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = round_bf16 ? bf16ToF32(f32ToBf16(d(rng))) : d(rng);
    return v;
}

TEST(CpuAttention, Bf16CacheEqualsAnF32CacheOfTheRoundedValues) {
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    Backend& b = **be;
    const int64_t batch = 2, t = 5, hkv = 2, hq = 4, hd = 24, tmax = 8;
    const std::vector<float> k = randomValues(batch * t * hkv * hd, 1, false), v = randomValues(batch * t * hkv * hd, 2, false);
    const std::vector<float> kr = randomValues(batch * t * hkv * hd, 1, true), vr = randomValues(batch * t * hkv * hd, 2, true);
    const std::vector<float> q = randomValues(batch * t * hq * hd, 3, false);
    Tensor qt = b.fromF32(q, {batch, t, hq, hd});
    // bf16 cache written from the unrounded keys (kvWrite rounds them) ...
    Tensor kc16 = b.alloc(DType::BF16, {batch, hkv, tmax, hd}), vc16 = b.alloc(DType::BF16, {batch, hkv, tmax, hd});
    b.kvWrite(kc16, vc16, b.fromF32(k, {batch, t, hkv, hd}), b.fromF32(v, {batch, t, hkv, hd}), 0);
    // ... against an f32 cache holding the rounded values.
    Tensor kc32 = b.alloc(DType::F32, {batch, hkv, tmax, hd}), vc32 = b.alloc(DType::F32, {batch, hkv, tmax, hd});
    b.kvWrite(kc32, vc32, b.fromF32(kr, {batch, t, hkv, hd}), b.fromF32(vr, {batch, t, hkv, hd}), 0);
    const float scale = 0.2f;
    EXPECT_EQ(b.readF32(b.attention(qt, kc16, vc16, t, {}, scale)), b.readF32(b.attention(qt, kc32, vc32, t, {}, scale)));
    EXPECT_EQ(kc16.bytes() * 2, kc32.bytes());
    // And the rounding matters: the unrounded f32 cache gives different outputs.
    Tensor kc = b.alloc(DType::F32, {batch, hkv, tmax, hd}), vc = b.alloc(DType::F32, {batch, hkv, tmax, hd});
    b.kvWrite(kc, vc, b.fromF32(k, {batch, t, hkv, hd}), b.fromF32(v, {batch, t, hkv, hd}), 0);
    EXPECT_NE(b.readF32(b.attention(qt, kc, vc, t, {}, scale)), b.readF32(b.attention(qt, kc16, vc16, t, {}, scale)));
}

TEST(CpuAttention, KvCacheDtypeIsABackendSetting) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    EXPECT_EQ((*be)->kvCacheDtype(), DType::F32);
    (*be)->setKvCacheDtype(DType::BF16);
    EXPECT_EQ((*be)->kvCacheDtype(), DType::BF16);
    EXPECT_THROW((*be)->setKvCacheDtype(DType::I64), Error);
    auto ckpt = Checkpoint::open(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny");
    auto lm = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(lm.ok());
    KvCache cache = (*lm)->newCache(1, 16);
    EXPECT_EQ(cache.keys(0).dtype(), DType::BF16);
}

} // namespace
} // namespace tessera
