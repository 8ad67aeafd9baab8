// Every tape op's gradient against central finite differences, in double precision.
//
// Each case builds a scalar loss from parameters (inputs included), runs backward() once, then moves
// every element of every parameter by ±h and compares (L(+h) − L(−h)) / 2h with the recorded gradient.
// Ops with a vector output are reduced with a fixed random weighting, sum(y ⊙ R), so every output
// element's gradient matters.
//
// Tolerances: h = 1e-6. In double the central difference has truncation error ~h²·|L'''| (≲1e-11 for
// these O(1) functions) and rounding error ~ε·|L|/h ≈ 1e-10, so a gradient is accepted when
// |analytic − numeric| ≤ 1e-6 + 1e-6·|numeric|; a wrong gradient term is off by O(1e-2) or more.
#include "tessera/engine/train.h"

#include <cmath>
#include <functional>
#include <gtest/gtest.h>
#include <random>

namespace tessera::train {
namespace {

using TapeD = Tape<double>;
using ParamD = Parameter<double>;
using Build = std::function<Var(TapeD&, std::vector<ParamD>&)>;

constexpr double kStep = 1e-6;
constexpr double kAbsTol = 1e-6;
constexpr double kRelTol = 1e-6;

ParamD randomParam(const std::string& name, Shape shape, uint32_t seed, double scale = 1.0) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> dist(0.0, scale);
    ParamD p;
    p.name = name;
    p.shape = std::move(shape);
    p.value.resize(static_cast<size_t>(p.numel()));
    for (auto& v : p.value) v = dist(rng);
    p.zeroGrad();
    return p;
}

// sum(y ⊙ R) with R fixed by the seed.
Var weightedSum(TapeD& t, Var y, uint32_t seed = 99) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    std::vector<double> r(t.value(y).size());
    for (auto& v : r) v = dist(rng);
    return t.sum(t.mul(y, t.constant(std::move(r), t.shape(y))));
}

// Returns the number of gradient elements checked (so a case that checks nothing fails).
int64_t checkGradients(std::vector<ParamD> params, const Build& build, const std::string& what) {
    for (auto& p : params) p.zeroGrad();
    TapeD tape;
    Var loss = build(tape, params);
    tape.backward(loss);
    int64_t checked = 0;
    for (auto& p : params) {
        if (!p.trainable) continue;
        for (size_t i = 0; i < p.value.size(); ++i) {
            const double saved = p.value[i];
            p.value[i] = saved + kStep;
            TapeD tp;
            const double lp = tp.scalar(build(tp, params));
            p.value[i] = saved - kStep;
            TapeD tm;
            const double lm = tm.scalar(build(tm, params));
            p.value[i] = saved;
            const double numeric = (lp - lm) / (2 * kStep);
            EXPECT_NEAR(p.grad[i], numeric, kAbsTol + kRelTol * std::fabs(numeric))
                << what << ": d loss / d " << p.name << "[" << i << "]";
            ++checked;
        }
    }
    EXPECT_GT(checked, 0) << what;
    return checked;
}

TEST(TrainGrad, Embedding) {
    checkGradients(
        {randomParam("table", {7, 5}, 1)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.embedding(t.leaf(p[0]), {3, 0, 6, 3, 1}));
        },
        "embedding");
}

TEST(TrainGrad, LinearWithBias) {
    checkGradients(
        {randomParam("x", {2, 3, 4}, 2), randomParam("w", {5, 4}, 3), randomParam("b", {5}, 4)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.linear(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2])));
        },
        "linear");
}

TEST(TrainGrad, RmsNorm) {
    checkGradients(
        {randomParam("x", {3, 6}, 5), randomParam("w", {6}, 6)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.rmsNorm(t.leaf(p[0]), t.leaf(p[1]), 1e-5));
        },
        "rmsNorm");
}

TEST(TrainGrad, LayerNormWithAndWithoutAffine) {
    checkGradients(
        {randomParam("x", {3, 6}, 7), randomParam("w", {6}, 8), randomParam("b", {6}, 9)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.layerNorm(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2]), 1e-5));
        },
        "layerNorm affine");
    checkGradients(
        {randomParam("x", {2, 5}, 10)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.layerNorm(t.leaf(p[0]), Var{}, Var{}, 1e-5));
        },
        "layerNorm plain");
}

TEST(TrainGrad, Rope) {
    checkGradients(
        {randomParam("x", {2, 3, 2 * 4}, 11)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.rope(t.leaf(p[0]), 2, 4, {0, 1, 2, 5, 6, 7}, 10000.0));
        },
        "rope");
}

// Given tables (MM-RoPE's are not the 1D ones): random values, since the op is linear in x for any.
TEST(TrainGrad, RopeWithTables) {
    const ParamD c = randomParam("cos", {6, 4}, 51), s = randomParam("sin", {6, 4}, 52);
    checkGradients(
        {randomParam("x", {2, 3, 2 * 4}, 53)},
        [c, s](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.ropeTables(t.leaf(p[0]), 2, 4, c.value, s.value));
        },
        "ropeTables");
}

TEST(TrainGrad, LayerNormPerHead) {
    checkGradients(
        {randomParam("x", {2, 3, 3 * 4}, 54), randomParam("w", {3, 4}, 55), randomParam("b", {3, 4}, 56)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.layerNormPerHead(t.leaf(p[0]), 3, t.leaf(p[1]), t.leaf(p[2]), 1e-5));
        },
        "layerNormPerHead");
}

TEST(TrainGrad, CausalAttentionWithGqa) {
    // 4 query heads over 2 kv heads; 3 queries are the last of 5 positions (a cache of 2 before them).
    AttentionSpec spec{4, 2, 3, true, {}};
    checkGradients(
        {randomParam("q", {2, 3, 12}, 12), randomParam("k", {2, 5, 6}, 13), randomParam("v", {2, 5, 6}, 14)},
        [spec](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.attention(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2]), spec));
        },
        "attention causal gqa");
}

TEST(TrainGrad, MaskedAttention) {
    // Key padding: batch row 1 hides its first key; row 0 keeps everything.
    AttentionSpec spec{2, 1, 4, true, {1, 1, 1, 1, 0, 1, 1, 1}};
    checkGradients(
        {randomParam("q", {2, 4, 8}, 15), randomParam("k", {2, 4, 4}, 16), randomParam("v", {2, 4, 4}, 17)},
        [spec](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.attention(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2]), spec));
        },
        "attention masked");
}

TEST(TrainGrad, NonCausalAttention) {
    // Every query sees every key (a vision tower's encoder): 3 queries over 3 keys, 2 heads.
    AttentionSpec spec{2, 2, 3, false, {}};
    checkGradients(
        {randomParam("q", {2, 3, 6}, 31), randomParam("k", {2, 3, 6}, 32), randomParam("v", {2, 3, 6}, 33)},
        [spec](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.attention(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2]), spec));
        },
        "attention non-causal");
    // A zero query weighs every key alike, so each of its outputs is the mean of all values, the later
    // keys included (a causal first query would see only the first key).
    TapeD t;
    ParamD v = randomParam("v", {1, 3, 3}, 34);
    Var q = t.constant(std::vector<double>(9, 0.0), {1, 3, 3});
    Var k = t.constant(randomParam("k", {1, 3, 3}, 35).value, {1, 3, 3});
    Var y = t.attention(q, k, t.leaf(v), AttentionSpec{1, 1, 3, false, {}});
    for (size_t j = 0; j < 3; ++j)
        EXPECT_NEAR(t.value(y)[j], (v.value[j] + v.value[3 + j] + v.value[6 + j]) / 3.0, 1e-12);
}

TEST(TrainGrad, Activations) {
    const std::vector<ParamD> x = {randomParam("x", {4, 5}, 18, 2.0)};
    checkGradients(
        x, [](TapeD& t, std::vector<ParamD>& p) { return weightedSum(t, t.silu(t.leaf(p[0]))); }, "silu");
    checkGradients(
        x, [](TapeD& t, std::vector<ParamD>& p) { return weightedSum(t, t.gelu(t.leaf(p[0]), Gelu::Erf)); },
        "gelu erf");
    checkGradients(
        x, [](TapeD& t, std::vector<ParamD>& p) { return weightedSum(t, t.gelu(t.leaf(p[0]), Gelu::Tanh)); },
        "gelu tanh");
    checkGradients(
        x, [](TapeD& t, std::vector<ParamD>& p) { return weightedSum(t, t.tanh(t.leaf(p[0]))); }, "tanh");
    checkGradients(
        {randomParam("gate", {3, 4}, 19, 2.0), randomParam("up", {3, 4}, 20)},
        [](TapeD& t, std::vector<ParamD>& p) { return weightedSum(t, t.swiglu(t.leaf(p[0]), t.leaf(p[1]))); },
        "swiglu");
}

TEST(TrainGrad, ElementwiseAndReshape) {
    checkGradients(
        {randomParam("a", {2, 3}, 21), randomParam("b", {2, 3}, 22)},
        [](TapeD& t, std::vector<ParamD>& p) {
            Var a = t.leaf(p[0]), b = t.leaf(p[1]);
            Var y = t.add(t.mul(a, b), t.scale(t.sub(a, t.mul(b, b)), 0.5));
            return weightedSum(t, t.reshape(y, {3, 2}));
        },
        "add/sub/mul/scale/reshape");
}

TEST(TrainGrad, Concat) {
    // Along the middle axis (one input twice, so both copies' gradients must add), the first and the last.
    for (int64_t axis : {0, 1, 2})
        checkGradients(
            {randomParam("a", {2, 3, 4}, 41), randomParam("b", {2, 3, 4}, 42)},
            [axis](TapeD& t, std::vector<ParamD>& p) {
                Var a = t.leaf(p[0]), b = t.leaf(p[1]);
                return weightedSum(t, t.concat({a, t.scale(b, 2.0), a}, axis));
            },
            "concat axis " + std::to_string(axis));
    // Values by hand: [2, 1] and [2, 2] along axis 1 interleave per row.
    TapeD t;
    Var y = t.concat({t.constant({1, 2}, {2, 1}), t.constant({3, 4, 5, 6}, {2, 2})}, 1);
    EXPECT_EQ(t.shape(y), (Shape{2, 3}));
    EXPECT_EQ(t.value(y), (std::vector<double>{1, 3, 4, 2, 5, 6}));
    EXPECT_THROW(t.concat({t.constant({1, 2}, {2, 1}), t.constant({3, 4, 5}, {3, 1})}, 1), Error);
    EXPECT_THROW(t.concat({t.constant({1, 2}, {2, 1})}, 2), Error);
}

TEST(TrainGrad, CrossEntropyWithIgnoredRows) {
    checkGradients(
        {randomParam("logits", {4, 6}, 23, 2.0)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return t.crossEntropy(t.leaf(p[0]), {2, -100, 5, 0});
        },
        "crossEntropy");
}

TEST(TrainGrad, Mse) {
    checkGradients(
        {randomParam("a", {3, 4}, 24), randomParam("b", {3, 4}, 25)},
        [](TapeD& t, std::vector<ParamD>& p) { return t.mse(t.leaf(p[0]), t.leaf(p[1])); }, "mse");
}

TEST(TrainGrad, Conv2d) {
    for (auto [stride, pad] : {std::pair{1, 1}, std::pair{2, 0}, std::pair{2, 1}}) {
        checkGradients(
            {randomParam("x", {2, 3, 5, 5}, 26), randomParam("w", {4, 3, 3, 3}, 27),
             randomParam("b", {4}, 28)},
            [stride, pad](TapeD& t, std::vector<ParamD>& p) {
                return weightedSum(t, t.conv2d(t.leaf(p[0]), t.leaf(p[1]), t.leaf(p[2]), stride, pad));
            },
            "conv2d stride " + std::to_string(stride) + " pad " + std::to_string(pad));
    }
}

TEST(TrainGrad, GroupNorm) {
    checkGradients(
        {randomParam("x", {2, 4, 3, 3}, 29), randomParam("w", {4}, 30), randomParam("b", {4}, 31)},
        [](TapeD& t, std::vector<ParamD>& p) {
            return weightedSum(t, t.groupNorm(t.leaf(p[0]), 2, t.leaf(p[1]), t.leaf(p[2]), 1e-6));
        },
        "groupNorm");
}

TEST(TrainGrad, UpsampleAndChannelLayouts) {
    checkGradients(
        {randomParam("x", {2, 3, 2, 3}, 32)},
        [](TapeD& t, std::vector<ParamD>& p) {
            Var up = t.upsampleNearest2x(t.leaf(p[0]));
            Var rows = t.channelsLast(up);
            Var back = t.channelsFirst(t.scale(rows, 1.5), 2, 4, 6);
            return weightedSum(t, back);
        },
        "upsample / channelsLast / channelsFirst");
}

// The VQ-VAE losses: codebook term mse(codes, sg(z)) and commitment term β·mse(z, sg(codes)). With the
// assignment fixed (h far below the gap between distances), both are smooth. Finite differences see
// through stopGradient, so each term is checked against the parameter its gradient is meant for.
TEST(TrainGrad, VectorQuantizeLosses) {
    std::vector<ParamD> p = {randomParam("z", {5, 3}, 33), randomParam("codebook", {4, 3}, 34)};
    p[0].trainable = false;
    checkGradients(
        p,
        [](TapeD& t, std::vector<ParamD>& w) {
            Var z = t.leaf(w[0]);
            return t.mse(t.vectorQuantize(z, t.leaf(w[1])).codes, t.stopGradient(z));
        },
        "vq codebook term");
    p[0].trainable = true;
    p[1].trainable = false;
    checkGradients(
        p,
        [](TapeD& t, std::vector<ParamD>& w) {
            Var z = t.leaf(w[0]);
            return t.scale(t.mse(z, t.stopGradient(t.vectorQuantize(z, t.leaf(w[1])).codes)), 0.25);
        },
        "vq commitment term");
}

// The straight-through estimator is not a derivative (the quantiser's is zero almost everywhere), so
// it is checked against its definition: the gradient reaching z equals the gradient of the quantised
// output, here the weights R of sum(q ⊙ R); the codebook receives nothing through that output.
TEST(TrainGrad, VectorQuantizeStraightThrough) {
    ParamD z;
    z.name = "z";
    z.shape = {3, 2};
    z.value = {0.9, 0.1, -1.2, 2.1, 0.4, 0.6};
    ParamD cb;
    cb.name = "codebook";
    cb.shape = {3, 2};
    cb.value = {1.0, 0.0, 0.0, 2.0, 0.5, 0.5};
    z.zeroGrad();
    cb.zeroGrad();
    TapeD t;
    auto q = t.vectorQuantize(t.leaf(z), t.leaf(cb));
    // Nearest codes by hand: (0.9,0.1)->0, (-1.2,2.1)->1, (0.4,0.6)->2.
    EXPECT_EQ(q.indices, (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(t.value(q.straight_through), (std::vector<double>{1.0, 0.0, 0.0, 2.0, 0.5, 0.5}));
    const std::vector<double> r = {0.5, -1.0, 2.0, 0.25, -0.75, 3.0};
    t.backward(t.sum(t.mul(q.straight_through, t.constant(r, {3, 2}))));
    EXPECT_EQ(z.grad, r);
    EXPECT_EQ(cb.grad, std::vector<double>(6, 0.0));
}

// A whole Llama-shaped block, composed as the model families use the ops, in one check.
TEST(TrainGrad, LlamaShapedBlock) {
    const int64_t d = 8, hq = 2, hkv = 1, hd = 4, ff = 6, vocab = 9, b = 2, t_len = 3;
    std::vector<ParamD> p = {
        randomParam("embed", {vocab, d}, 40),     randomParam("attn_norm", {d}, 41),
        randomParam("q", {hq * hd, d}, 42, 0.5),  randomParam("k", {hkv * hd, d}, 43, 0.5),
        randomParam("v", {hkv * hd, d}, 44, 0.5), randomParam("o", {d, hq * hd}, 45, 0.5),
        randomParam("mlp_norm", {d}, 46),         randomParam("gate", {ff, d}, 47, 0.5),
        randomParam("up", {ff, d}, 48, 0.5),      randomParam("down", {d, ff}, 49, 0.5),
        randomParam("head", {vocab, d}, 50, 0.5)};
    // Frozen parameters receive no gradient and are skipped by the check.
    p[1].trainable = false;
    const int64_t checked = checkGradients(
        p,
        [=](TapeD& t, std::vector<ParamD>& w) {
            const std::vector<int64_t> ids = {1, 4, 2, 8, 0, 3}, pos = {0, 1, 2, 0, 1, 2};
            Var x = t.reshape(t.embedding(t.leaf(w[0]), ids), {b, t_len, d});
            Var h = t.rmsNorm(x, t.leaf(w[1]), 1e-6);
            Var q = t.rope(t.linear(h, t.leaf(w[2])), hq, hd, pos, 10000.0);
            Var k = t.rope(t.linear(h, t.leaf(w[3])), hkv, hd, pos, 10000.0);
            Var v = t.linear(h, t.leaf(w[4]));
            x = t.add(x, t.linear(t.attention(q, k, v, AttentionSpec{hq, hkv, hd, true, {}}), t.leaf(w[5])));
            Var m = t.rmsNorm(x, t.leaf(w[6]), 1e-6);
            x = t.add(x,
                      t.linear(t.swiglu(t.linear(m, t.leaf(w[7])), t.linear(m, t.leaf(w[8]))), t.leaf(w[9])));
            return t.crossEntropy(t.linear(x, t.leaf(w[10])), {4, 2, -100, 0, 3, 5});
        },
        "llama block");
    EXPECT_EQ(checked, shapeNumel({vocab, d}) * 2 + 2 * hq * hd * d + 2 * hkv * hd * d + d + 3 * ff * d);
}

// Forward values by hand: a rotation by 1 radian (head_dim 2, position 1: frequency 1), and a per-head
// LayerNorm of (1, 2, 3, 4) (mean 2.5, variance 1.25) with head-specific affines.
TEST(TrainGrad, RopeAndPerHeadNormValuesByHand) {
    TapeD t;
    Var r = t.rope(t.constant({0.5, -2.0, 0.5, -2.0}, {1, 2, 2}), 1, 2, {0, 1}, 10000.0);
    const double c = std::cos(1.0), s = std::sin(1.0);
    const std::vector<double> want_r = {0.5, -2.0, 0.5 * c + 2.0 * s, -2.0 * c + 0.5 * s};
    for (size_t i = 0; i < want_r.size(); ++i) EXPECT_NEAR(t.value(r)[i], want_r[i], 1e-15) << i;
    ParamD w, b;
    w.name = "w";
    w.shape = {2, 4};
    w.value = {1, 1, 1, 1, 2, 2, 2, 2};
    b.name = "b";
    b.shape = {2, 4};
    b.value = {0, 0, 0, 0, 1, 1, 1, 1};
    Var n = t.layerNormPerHead(t.constant({1, 2, 3, 4, 1, 2, 3, 4}, {1, 8}), 2, t.leaf(w), t.leaf(b), 0.0);
    const double k = 1.0 / std::sqrt(1.25);
    const std::vector<double> want_n = {-1.5 * k,  -0.5 * k, 0.5 * k, 1.5 * k,
                                        1 - 3 * k, 1 - k,    1 + k,   1 + 3 * k};
    for (size_t i = 0; i < want_n.size(); ++i) EXPECT_NEAR(t.value(n)[i], want_n[i], 1e-12) << i;
}

TEST(TrainGrad, BadShapesAreClearErrors) {
    TapeD t;
    ParamD x = randomParam("x", {2, 3}, 60), w = randomParam("w", {4, 5}, 61);
    EXPECT_THROW(t.linear(t.leaf(x), t.leaf(w)), Error);
    EXPECT_THROW(t.embedding(t.leaf(w), {7}), Error);
    EXPECT_THROW(t.crossEntropy(t.leaf(x), {0, 3}), Error);
    EXPECT_THROW(t.backward(t.leaf(x)), Error);
}

} // namespace
} // namespace tessera::train
