// Every backend op against a naive reference written here, on every available backend.
// (Value-parameterised: a CUDA backend joins the harness by appearing in availableBackends().)
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tessera/engine/engine.h"

namespace tessera {

namespace {

std::vector<float> randomVec(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

void expectNear(const std::vector<float>& got, const std::vector<float>& want, float tol) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "at " << i;
}

} // namespace

class Ops : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        auto b = createBackend(GetParam(), 2);
        ASSERT_TRUE(b.ok()) << b.error();
        be = std::move(*b);
    }
    std::unique_ptr<Backend> be;
};

TEST_P(Ops, MatmulWithBiasAndGemv) {
    for (int64_t m : {1, 3}) {
        const int64_t k = 37, n = 19;
        auto x = randomVec(static_cast<size_t>(m * k), 1), w = randomVec(static_cast<size_t>(n * k), 2), b = randomVec(static_cast<size_t>(n), 3);
        std::vector<float> want(static_cast<size_t>(m * n));
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double s = b[static_cast<size_t>(j)];
                for (int64_t t = 0; t < k; ++t) s += static_cast<double>(x[static_cast<size_t>(i * k + t)]) * w[static_cast<size_t>(j * k + t)];
                want[static_cast<size_t>(i * n + j)] = static_cast<float>(s);
            }
        Tensor bias = be->fromF32(b, {n});
        expectNear(be->readF32(be->matmul(be->fromF32(x, {m, k}), be->fromF32(w, {n, k}), &bias)), want, 1e-4f);
    }
}

TEST_P(Ops, Bf16WeightsAreWidenedExactly) {
    std::vector<uint16_t> raw = {f32ToBf16(1.5f), f32ToBf16(-2.0f), f32ToBf16(0.25f), f32ToBf16(3.0f)};
    Tensor w = be->upload(raw.data(), DType::BF16, {2, 2});
    Tensor x = be->fromF32({1, 1}, {1, 2});
    expectNear(be->readF32(be->matmul(x, w)), {-0.5f, 3.25f}, 0);
}

TEST_P(Ops, NormsIncludingPerHeadAffineAndGroupNorm) {
    const int64_t rows = 3, heads = 2, d = 4;
    auto x = randomVec(static_cast<size_t>(rows * heads * d), 4, 3.0f), w = randomVec(static_cast<size_t>(heads * d), 5), b = randomVec(static_cast<size_t>(heads * d), 6);
    std::vector<float> ln(x.size()), rms(x.size());
    for (int64_t r = 0; r < rows * heads; ++r) {
        double mean = 0, var = 0, ss = 0;
        for (int64_t i = 0; i < d; ++i) mean += x[static_cast<size_t>(r * d + i)];
        mean /= d;
        for (int64_t i = 0; i < d; ++i) {
            double v = x[static_cast<size_t>(r * d + i)];
            var += (v - mean) * (v - mean);
            ss += v * v;
        }
        var /= d;
        for (int64_t i = 0; i < d; ++i) {
            size_t a = static_cast<size_t>((r % heads) * d + i), idx = static_cast<size_t>(r * d + i);
            ln[idx] = static_cast<float>((x[idx] - mean) / std::sqrt(var + 1e-5) * w[a] + b[a]);
            rms[idx] = static_cast<float>(x[idx] / std::sqrt(ss / d + 1e-6) * w[static_cast<size_t>(i)]);
        }
    }
    Tensor tx = be->fromF32(x, {rows, heads, d}), tw = be->fromF32(w, {heads, d}), tb = be->fromF32(b, {heads, d});
    expectNear(be->readF32(be->layerNorm(tx, &tw, &tb, 1e-5f)), ln, 1e-4f);
    expectNear(be->readF32(be->rmsNorm(tx, be->fromF32(std::vector<float>(w.begin(), w.begin() + d), {d}), 1e-6f)), rms, 1e-4f);

    // GroupNorm: 4 channels in 2 groups over a 2x2 image.
    auto g = randomVec(16, 7, 2.0f);
    std::vector<float> gw = {1, 2, 3, 4}, gb = {0, 1, 0, -1}, want(16);
    for (int grp = 0; grp < 2; ++grp) {
        double mean = 0, var = 0;
        for (int i = 0; i < 8; ++i) mean += g[static_cast<size_t>(grp * 8 + i)];
        mean /= 8;
        for (int i = 0; i < 8; ++i) var += (g[static_cast<size_t>(grp * 8 + i)] - mean) * (g[static_cast<size_t>(grp * 8 + i)] - mean);
        var /= 8;
        for (int i = 0; i < 8; ++i) {
            int c = grp * 2 + i / 4;
            want[static_cast<size_t>(grp * 8 + i)] = static_cast<float>((g[static_cast<size_t>(grp * 8 + i)] - mean) / std::sqrt(var + 1e-6) * gw[static_cast<size_t>(c)] + gb[static_cast<size_t>(c)]);
        }
    }
    expectNear(be->readF32(be->groupNorm(be->fromF32(g, {1, 4, 2, 2}), 2, be->fromF32(gw, {4}), be->fromF32(gb, {4}), 1e-6f)), want, 1e-4f);
}

TEST_P(Ops, Conv2dStridedAndPadded) {
    const int64_t cin = 2, cout = 3, h = 5, w = 4, k = 3;
    auto x = randomVec(static_cast<size_t>(cin * h * w), 8), wt = randomVec(static_cast<size_t>(cout * cin * k * k), 9), b = randomVec(3, 10);
    for (int stride : {1, 2}) {
        const int pad = 1;
        const int64_t ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        std::vector<float> want(static_cast<size_t>(cout * ho * wo));
        for (int64_t co = 0; co < cout; ++co)
            for (int64_t oy = 0; oy < ho; ++oy)
                for (int64_t ox = 0; ox < wo; ++ox) {
                    double s = b[static_cast<size_t>(co)];
                    for (int64_t ci = 0; ci < cin; ++ci)
                        for (int64_t ky = 0; ky < k; ++ky)
                            for (int64_t kx = 0; kx < k; ++kx) {
                                int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += static_cast<double>(x[static_cast<size_t>((ci * h + iy) * w + ix)]) * wt[static_cast<size_t>(((co * cin + ci) * k + ky) * k + kx)];
                            }
                    want[static_cast<size_t>((co * ho + oy) * wo + ox)] = static_cast<float>(s);
                }
        Tensor tb = be->fromF32(b, {cout});
        expectNear(be->readF32(be->conv2d(be->fromF32(x, {1, cin, h, w}), be->fromF32(wt, {cout, cin, k, k}), &tb, stride, pad)), want, 1e-4f);
    }
}

TEST_P(Ops, RopeRotatesHalves) {
    // One head of dim 4 at angle pi/2 on the first pair, 0 on the second.
    Tensor x = be->fromF32({1, 2, 3, 4}, {1, 1, 1, 4});
    const float c = std::cos(1.5707963f), s = std::sin(1.5707963f);
    Tensor cs = be->fromF32({c, 1, c, 1}, {1, 1, 4}), sn = be->fromF32({s, 0, s, 0}, {1, 1, 4});
    // rotate_half: [-x2, -x3, x0, x1]; out = x*cos + rot*sin
    expectNear(be->readF32(be->rope(x, cs, sn)), {1 * c - 3 * s, 2, 3 * c + 1 * s, 4}, 1e-6f);
}

TEST_P(Ops, AttentionCausalExplicitMaskAndGqa) {
    const int64_t t = 4, hq = 2, hkv = 1, hd = 3;
    auto q = randomVec(static_cast<size_t>(t * hq * hd), 11), k = randomVec(static_cast<size_t>(t * hkv * hd), 12), v = randomVec(static_cast<size_t>(t * hkv * hd), 13);
    Tensor kc = be->zeros(DType::F32, {1, hkv, 8, hd}), vc = be->zeros(DType::F32, {1, hkv, 8, hd});
    be->kvWrite(kc, vc, be->fromF32(k, {1, t, hkv, hd}), be->fromF32(v, {1, t, hkv, hd}), 0);
    // Explicit mask: query i sees keys j with (i + j) even — not expressible as causal.
    std::vector<uint8_t> allowed(static_cast<size_t>(t * t));
    for (int64_t i = 0; i < t; ++i)
        for (int64_t j = 0; j < t; ++j) allowed[static_cast<size_t>(i * t + j)] = (i + j) % 2 == 0;
    for (int kind = 0; kind < 2; ++kind) {
        std::vector<float> want(q.size());
        for (int64_t i = 0; i < t; ++i)
            for (int64_t h = 0; h < hq; ++h) {
                std::vector<double> sc;
                std::vector<int64_t> keys;
                for (int64_t j = 0; j < t; ++j) {
                    bool ok = kind == 0 ? j <= i : allowed[static_cast<size_t>(i * t + j)] != 0;
                    if (!ok) continue;
                    double d = 0;
                    for (int64_t e = 0; e < hd; ++e) d += q[static_cast<size_t>((i * hq + h) * hd + e)] * k[static_cast<size_t>(j * hd + e)];
                    sc.push_back(d * 0.5);
                    keys.push_back(j);
                }
                double mx = *std::max_element(sc.begin(), sc.end()), sum = 0;
                for (auto& s : sc) sum += (s = std::exp(s - mx));
                for (int64_t e = 0; e < hd; ++e) {
                    double o = 0;
                    for (size_t n = 0; n < keys.size(); ++n) o += sc[n] / sum * v[static_cast<size_t>(keys[n] * hd + e)];
                    want[static_cast<size_t>((i * hq + h) * hd + e)] = static_cast<float>(o);
                }
            }
        AttentionMask mask;
        if (kind == 1) {
            mask.kind = AttentionMask::Kind::Explicit;
            mask.allowed = be->upload(allowed.data(), DType::U8, {t, t});
        }
        expectNear(be->readF32(be->attention(be->fromF32(q, {1, t, hq, hd}), kc, vc, t, mask, 0.5f)), want, 1e-5f);
    }
}

TEST_P(Ops, LayoutOps) {
    Tensor a = be->fromF32({1, 2, 3, 4, 5, 6}, {2, 3});
    expectNear(be->readF32(be->slice(a, 1, 1, 3)), {2, 3, 5, 6}, 0);
    expectNear(be->readF32(be->concat(a, be->fromF32({7, 8}, {2, 1}), 1)), {1, 2, 3, 7, 4, 5, 6, 8}, 0);
    expectNear(be->readF32(be->transposeLast2(a)), {1, 4, 2, 5, 3, 6}, 0);
    expectNear(be->readF32(be->gatherRows(a, {1, 1, 0})), {4, 5, 6, 4, 5, 6, 1, 2, 3}, 0);
    expectNear(be->readF32(be->softmax(be->fromF32({0, std::log(3.0f)}, {1, 2}))), {0.25f, 0.75f}, 1e-6f);
    expectNear(be->readF32(be->upsampleNearest2x(be->fromF32({1, 2}, {1, 1, 1, 2}))), {1, 1, 2, 2, 1, 1, 2, 2}, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Ops, ::testing::ValuesIn(availableBackends()));

TEST(KvCache, CropThenRecomputeGivesTheSameLogitsAsAFreshRun) {
    auto be = createBackend("cpu", 2);
    auto ckpt = Checkpoint::open(std::string(TESSERA_TEST_DATA_DIR) + "/reference/chameleon_tiny");
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    auto m = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(m.ok()) << m.error();
    Tensor ids = (*be)->fromI64({1, 17, 42, 99, 5, 8}, {1, 6});
    KvCache branched = (*m)->newCache(1, 16);
    (*m)->forward((*m)->embed(ids), branched);
    (*m)->forward((*m)->embed((*be)->fromI64({200, 201}, {1, 2})), branched); // a branch we abandon
    branched.crop(6);
    auto after_crop = (*be)->readF32((*m)->logits((*m)->forward((*m)->embed((*be)->fromI64({7}, {1, 1})), branched)));
    KvCache fresh = (*m)->newCache(1, 16);
    (*m)->forward((*m)->embed(ids), fresh);
    auto straight = (*be)->readF32((*m)->logits((*m)->forward((*m)->embed((*be)->fromI64({7}, {1, 1})), fresh)));
    EXPECT_EQ(after_crop, straight);
}

TEST(KvCache, OverflowIsAnErrorNotACrash) {
    auto be = createBackend("cpu", 1);
    auto ckpt = Checkpoint::open(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny");
    auto m = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(m.ok());
    KvCache c = (*m)->newCache(1, 4);
    EXPECT_THROW((*m)->forward((*m)->embed((*be)->fromI64({1, 2, 3, 4, 5}, {1, 5})), c), Error);
}

} // namespace tessera
