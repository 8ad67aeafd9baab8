// Every Backend op on every backend against the CPU reference backend (value-parameterised: one
// instance per backend name). The "cpu" instance compares a 2-thread CPU backend with a 1-thread one
// (results must not depend on the thread count); the "cuda" instance skips, saying why, where the CUDA
// backend cannot be created. The ctest entries split the instances (engine_backend_parity_test runs
// */cpu; gpu_backend_parity runs */cuda and carries the label `gpu`), so a skipped GPU run shows as
// skipped and never hides the CPU result.
//
// Tolerances (why each is what it is):
//   kF32: f32 ops whose summation order differs between backends (norms, softmax, attention):
//         |got − want| <= 1e-5 + 1e-5·|want|.
//   activations: 1e-6 relative + 1e-6 absolute. The formulas are the same, but expf/erff/tanhf may
//         differ by 2 ulp between libraries, and 0.5·v·(1 + erf) for v near −3 turns an error of 2 ulp of 1
//         into up to 0.5·6·2·2^-24 ≈ 3.6e-7 absolute for the inputs here (|v| <= 6).
//   matmul with 16-bit weights: a backend may round the activations to the weight type for tensor
//         cores (relative error 2^-9 per element), so |got − want| <= 2^-8·Σ|x·w| + 1e-5.
//   sampling: token, rank and reported ids identical (the same algorithm and Philox stream); reported
//         probabilities within 1e-6 relative; entropy and guidance KL (summed in another order) within
//         1e-5.
#include <gtest/gtest.h>

#include "cpu/cpu_backend.h"
#include "tessera/engine/backend.h"
#include "tessera/engine/engine.h"

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tessera {
namespace {

std::vector<float> randomValues(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

std::vector<uint16_t> toBf16(const std::vector<float>& v) {
    std::vector<uint16_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = f32ToBf16(v[i]);
    return out;
}

class BackendParity : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        ref_ = std::make_unique<cpu::CpuBackend>(1);
        if (GetParam() == "cpu") {
            be_ = std::make_unique<cpu::CpuBackend>(2);
            return;
        }
        auto made = createBackend(GetParam(), 0);
        if (!made) GTEST_SKIP() << "the " << GetParam() << " backend is not available here: " << made.error();
        be_ = std::move(*made);
    }

    struct Pair {
        Tensor ref, got;
    };
    Pair upload(const std::vector<float>& v, const Shape& s) {
        return {ref_->fromF32(v, s), be_->fromF32(v, s)};
    }
    Pair uploadRaw(const void* host, DType dt, const Shape& s) {
        return {ref_->upload(host, dt, s), be_->upload(host, dt, s)};
    }
    Pair matrix(const std::vector<uint16_t>& v, const Shape& s) {
        return {ref_->uploadMatrix(v.data(), DType::BF16, s), be_->uploadMatrix(v.data(), DType::BF16, s)};
    }

    // |got − want| <= atol + rtol·|want| elementwise, same shape.
    void expectClose(const Pair& p, double rtol, double atol, const std::string& what) {
        ASSERT_EQ(p.got.shape(), p.ref.shape()) << what;
        const std::vector<float> want = ref_->readF32(p.ref), got = be_->readF32(p.got);
        size_t bad = 0;
        for (size_t i = 0; i < want.size(); ++i) {
            const double tol = atol + rtol * std::fabs(want[i]);
            if (!(std::fabs(double(got[i]) - want[i]) <= tol) && bad++ < 5)
                ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i];
        }
        EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << want.size() << " elements outside tolerance";
    }

    std::unique_ptr<Backend> ref_, be_;
};

constexpr double kF32 = 1e-5;

TEST_P(BackendParity, UploadReadRoundTrip) {
    const auto v = randomValues(1000, 1);
    expectClose(upload(v, {10, 100}), 0, 0, "f32 round trip");
    const auto bf = toBf16(v);
    expectClose(uploadRaw(bf.data(), DType::BF16, {1000}), 0, 0, "bf16 upload widened to f32");
    std::vector<int64_t> ids{0, 5, -3, 1LL << 40};
    Tensor t = be_->fromI64(ids, {4});
    EXPECT_EQ(be_->readI64(t), ids);
    Tensor z = be_->zeros(DType::F32, {3, 7});
    for (float x : be_->readF32(z)) EXPECT_EQ(x, 0.0f);
    Tensor m = be_->uploadMatrix(bf.data(), DType::BF16, {10, 100});
    EXPECT_EQ(m.dtype(), DType::BF16) << "matrix weights are kept as stored";
    const std::vector<float> back = be_->readF32(m);
    for (size_t i = 0; i < back.size(); ++i) ASSERT_EQ(back[i], bf16ToF32(bf[i]));
}

TEST_P(BackendParity, Matmul) {
    const int64_t n = 96, k = 264;
    const auto wv = randomValues(size_t(n * k), 2);
    const auto wb = toBf16(wv);
    const auto bias = randomValues(size_t(n), 3);
    for (int64_t m : {1, 2, 5, 8, 9, 33}) {
        const auto xv = randomValues(size_t(m * k), 4 + uint32_t(m));
        Pair x = upload(xv, {m, k});
        Pair w16 = matrix(wb, {n, k});
        Pair w32 = upload(wv, {n, k});
        Pair b = upload(bias, {n});
        Pair y16{ref_->matmul(x.ref, w16.ref, &b.ref), be_->matmul(x.got, w16.got, &b.got)};
        Pair y32{ref_->matmul(x.ref, w32.ref, nullptr), be_->matmul(x.got, w32.got, nullptr)};
        // The bound of the header: 2^-8 Σ|x·w| + 1e-5, per output element.
        const std::vector<float> want = ref_->readF32(y16.ref), got = be_->readF32(y16.got);
        ASSERT_EQ(want.size(), size_t(m * n));
        for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) {
                double mag = 0;
                for (int64_t i = 0; i < k; ++i) mag += std::fabs(xv[size_t(r * k + i)] * bf16ToF32(wb[size_t(j * k + i)]));
                ASSERT_NEAR(got[size_t(r * n + j)], want[size_t(r * n + j)], mag / 256 + 1e-5)
                        << "bf16 matmul m=" << m << " row " << r << " col " << j;
            }
        expectClose(y32, 1e-4, 1e-4, "f32 matmul m=" + std::to_string(m));
    }
}

TEST_P(BackendParity, Embedding) {
    const int64_t vocab = 50, d = 72;
    const auto tv = randomValues(size_t(vocab * d), 5);
    const auto tb = toBf16(tv);
    std::vector<int64_t> ids{3, 0, 49, 3, 17, 8};
    Pair t16 = matrix(tb, {vocab, d});
    Pair t32 = upload(tv, {vocab, d});
    Tensor ir = ref_->fromI64(ids, {2, 3}), ig = be_->fromI64(ids, {2, 3});
    expectClose({ref_->embedding(t16.ref, ir), be_->embedding(t16.got, ig)}, 0, 0, "bf16 embedding");
    expectClose({ref_->embedding(t32.ref, ir), be_->embedding(t32.got, ig)}, 0, 0, "f32 embedding");
}

TEST_P(BackendParity, EmbeddingRejectsOutOfRangeIds) {
    const auto tv = randomValues(40, 6);
    Tensor t = be_->fromF32(tv, {10, 4});
    Tensor ids = be_->fromI64({2, 10}, {2});
    // A backend may report the bad id when the op runs or at the next read; it must throw, not crash.
    EXPECT_THROW(
            {
                Tensor y = be_->embedding(t, ids);
                be_->readF32(y);
            },
            Error);
    // And keep working afterwards.
    Tensor ok = be_->embedding(t, be_->fromI64({1}, {1}));
    EXPECT_EQ(be_->readF32(ok).size(), 4u);
}

TEST_P(BackendParity, Elementwise) {
    const auto av = randomValues(6 * 40, 7, -6.0f, 6.0f), bv = randomValues(40, 8), cv = randomValues(6 * 40, 9);
    Pair a = upload(av, {6, 40}), b = upload(bv, {40}), c = upload(cv, {6, 40});
    for (Activation act : {Activation::Silu, Activation::Gelu, Activation::GeluTanh, Activation::QuickGelu,
                           Activation::Relu, Activation::Identity})
        expectClose({ref_->activation(a.ref, act), be_->activation(a.got, act)}, 1e-6, 1e-6,
                    "activation " + std::to_string(int(act)));
    expectClose({ref_->swiglu(a.ref, c.ref), be_->swiglu(a.got, c.got)}, 1e-6, 1e-6, "swiglu");
    expectClose({ref_->add(a.ref, b.ref), be_->add(a.got, b.got)}, 0, 0, "add broadcast");
    expectClose({ref_->add(a.ref, c.ref), be_->add(a.got, c.got)}, 0, 0, "add");
    expectClose({ref_->mul(a.ref, b.ref), be_->mul(a.got, b.got)}, 0, 0, "mul broadcast");
    expectClose({ref_->scale(a.ref, -0.37f), be_->scale(a.got, -0.37f)}, 0, 0, "scale");
    Pair img = upload(cv, {2, 3, 40}), ch = upload({0.5f, -1.0f, 2.0f}, {3});
    expectClose({ref_->addChannel(img.ref, ch.ref), be_->addChannel(img.got, ch.got)}, 0, 0, "addChannel");
}

TEST_P(BackendParity, Normalisation) {
    const int64_t h = 4, hd = 48;
    const auto xv = randomValues(size_t(3 * 2 * h * hd), 10, -3.0f, 3.0f);
    const auto wv = randomValues(size_t(h * hd), 11), bv = randomValues(size_t(h * hd), 12);
    Pair x = upload(xv, {3, 2, h * hd}), w = upload(std::vector<float>(wv.begin(), wv.end()), {h * hd});
    Pair b = upload(bv, {h * hd});
    expectClose({ref_->rmsNorm(x.ref, w.ref, 1e-6f), be_->rmsNorm(x.got, w.got, 1e-6f)}, kF32, kF32, "rmsNorm");
    expectClose({ref_->layerNorm(x.ref, &w.ref, &b.ref, 1e-5f), be_->layerNorm(x.got, &w.got, &b.got, 1e-5f)}, kF32,
                kF32, "layerNorm");
    expectClose({ref_->layerNorm(x.ref, nullptr, nullptr, 1e-5f), be_->layerNorm(x.got, nullptr, nullptr, 1e-5f)}, kF32,
                kF32, "layerNorm without affine");
    // Per-head QK-norm: x [B, T, H, hd] normalised over hd with a [H, hd] affine.
    Pair xh = upload(xv, {3, 2, h, hd}), wh = upload(wv, {h, hd}), bh = upload(bv, {h, hd});
    expectClose({ref_->layerNorm(xh.ref, &wh.ref, &bh.ref, 1e-5f), be_->layerNorm(xh.got, &wh.got, &bh.got, 1e-5f)},
                kF32, kF32, "per-head layerNorm");
    Pair img = upload(xv, {2, 8, 6, 12}), gw = upload(randomValues(8, 13), {8}), gb = upload(randomValues(8, 14), {8});
    expectClose({ref_->groupNorm(img.ref, 4, gw.ref, gb.ref, 1e-6f), be_->groupNorm(img.got, 4, gw.got, gb.got, 1e-6f)},
                kF32, kF32, "groupNorm");
    expectClose({ref_->softmax(x.ref), be_->softmax(x.got)}, kF32, 1e-7, "softmax");
}

TEST_P(BackendParity, Rope) {
    const int64_t batch = 2, t = 5, heads = 3, hd = 16;
    const auto xv = randomValues(size_t(batch * t * heads * hd), 15, -2.0f, 2.0f);
    std::vector<float> cs(size_t(batch * t * hd)), sn(cs.size());
    for (size_t i = 0; i < cs.size(); ++i) {
        cs[i] = std::cos(0.37f * float(i));
        sn[i] = std::sin(0.37f * float(i));
    }
    Pair x = upload(xv, {batch, t, heads, hd});
    Pair c = upload(cs, {batch, t, hd}), s = upload(sn, {batch, t, hd});
    expectClose({ref_->rope(x.ref, c.ref, s.ref), be_->rope(x.got, c.got, s.got)}, 0, 0, "rope [B,T,hd] tables");
    const std::vector<float> cs1(cs.begin(), cs.begin() + t * hd), sn1(sn.begin(), sn.begin() + t * hd);
    Pair c1 = upload(cs1, {t, hd}), s1 = upload(sn1, {t, hd});
    expectClose({ref_->rope(x.ref, c1.ref, s1.ref), be_->rope(x.got, c1.got, s1.got)}, 0, 0, "rope shared [T,hd] table");
}

// kvWrite + attention: decode (Tq = 1) over a long cache with GQA, prefill with causal, full and explicit
// masks (2-D and per-batch 3-D), f32 and bf16 caches.
TEST_P(BackendParity, Attention) {
    const int64_t batch = 2, hq = 8, hkv = 2, hd = 64, tmax = 1100;
    for (DType cache : {DType::F32, DType::BF16}) {
        const size_t cache_elems = size_t(batch * hkv * tmax * hd);
        Tensor kr = ref_->alloc(cache, {batch, hkv, tmax, hd}), vr = ref_->alloc(cache, {batch, hkv, tmax, hd});
        Tensor kg = be_->alloc(cache, {batch, hkv, tmax, hd}), vg = be_->alloc(cache, {batch, hkv, tmax, hd});
        (void)cache_elems;
        // Fill 1050 positions in three writes of different lengths.
        int64_t pos = 0;
        uint32_t seed = 20;
        for (int64_t len : {1000, 49, 1}) {
            const auto kv = randomValues(size_t(batch * len * hkv * hd), seed++), vv = randomValues(kv.size(), seed++);
            Pair k = upload(kv, {batch, len, hkv, hd}), v = upload(vv, {batch, len, hkv, hd});
            ref_->kvWrite(kr, vr, k.ref, v.ref, pos);
            be_->kvWrite(kg, vg, k.got, v.got, pos);
            pos += len;
        }
        const std::string tag = cache == DType::BF16 ? " (bf16 cache)" : " (f32 cache)";
        expectClose({ref_->slice(kr, 2, 0, pos), be_->slice(kg, 2, 0, pos)}, 0, 0, "kvWrite keys" + tag);
        expectClose({ref_->slice(vr, 2, 0, pos), be_->slice(vg, 2, 0, pos)}, 0, 0, "kvWrite values" + tag);
        const float scale = 1.0f / std::sqrt(float(hd));
        // Decode: one query per sequence against all 1050 keys.
        Pair q1 = upload(randomValues(size_t(batch * hq * hd), 30, -2.0f, 2.0f), {batch, 1, hq, hd});
        AttentionMask causal;
        expectClose({ref_->attention(q1.ref, kr, vr, pos, causal, scale), be_->attention(q1.got, kg, vg, pos, causal, scale)},
                    1e-4, 1e-5, "decode attention" + tag);
        // Prefill: the last 7 queries.
        const int64_t tq = 7;
        Pair q = upload(randomValues(size_t(batch * tq * hq * hd), 31, -2.0f, 2.0f), {batch, tq, hq, hd});
        expectClose({ref_->attention(q.ref, kr, vr, pos, causal, scale), be_->attention(q.got, kg, vg, pos, causal, scale)},
                    1e-4, 1e-5, "causal prefill attention" + tag);
        AttentionMask full;
        full.kind = AttentionMask::Kind::Full;
        expectClose({ref_->attention(q.ref, kr, vr, pos, full, scale), be_->attention(q.got, kg, vg, pos, full, scale)},
                    1e-4, 1e-5, "full attention" + tag);
        // Explicit masks: a pattern with a fully masked row (zeros expected).
        std::vector<uint8_t> allowed(size_t(batch * tq * pos));
        for (size_t i = 0; i < allowed.size(); ++i) allowed[i] = ((i * 7919) % 5) != 0;
        for (int64_t j = 0; j < pos; ++j) allowed[size_t(2 * pos + j)] = 0; // batch 0, query 2: nothing allowed
        AttentionMask m2r, m2g, m3r, m3g;
        m2r.kind = m2g.kind = m3r.kind = m3g.kind = AttentionMask::Kind::Explicit;
        m2r.allowed = ref_->upload(allowed.data(), DType::U8, {tq, pos});
        m2g.allowed = be_->upload(allowed.data(), DType::U8, {tq, pos});
        m3r.allowed = ref_->upload(allowed.data(), DType::U8, {batch, tq, pos});
        m3g.allowed = be_->upload(allowed.data(), DType::U8, {batch, tq, pos});
        expectClose({ref_->attention(q.ref, kr, vr, pos, m2r, scale), be_->attention(q.got, kg, vg, pos, m2g, scale)},
                    1e-4, 1e-5, "explicit [Tq, kv] mask" + tag);
        Pair y3{ref_->attention(q.ref, kr, vr, pos, m3r, scale), be_->attention(q.got, kg, vg, pos, m3g, scale)};
        expectClose(y3, 1e-4, 1e-5, "explicit [B, Tq, kv] mask" + tag);
        const std::vector<float> got = be_->readF32(y3.got);
        for (int64_t i = 0; i < hq * hd; ++i) ASSERT_EQ(got[size_t(2 * hq * hd + i)], 0.0f) << "fully masked row";
    }
}

TEST_P(BackendParity, Layout) {
    const auto xv = randomValues(2 * 5 * 6, 40);
    Pair x = upload(xv, {2, 5, 6});
    expectClose({ref_->slice(x.ref, 1, 1, 4), be_->slice(x.got, 1, 1, 4)}, 0, 0, "slice dim 1");
    expectClose({ref_->slice(x.ref, -1, 2, 6), be_->slice(x.got, -1, 2, 6)}, 0, 0, "slice last dim");
    Pair y = upload(randomValues(2 * 3 * 6, 41), {2, 3, 6});
    expectClose({ref_->concat(x.ref, y.ref, 1), be_->concat(x.got, y.got, 1)}, 0, 0, "concat dim 1");
    expectClose({ref_->transposeLast2(x.ref), be_->transposeLast2(x.got)}, 0, 0, "transposeLast2");
    const std::vector<int64_t> idx{1, 0, 1};
    expectClose({ref_->gatherRows(x.ref, idx), be_->gatherRows(x.got, idx)}, 0, 0, "gatherRows");
}

TEST_P(BackendParity, Images) {
    const auto xv = randomValues(2 * 4 * 9 * 11, 50);
    Pair x = upload(xv, {2, 4, 9, 11});
    Pair w3 = upload(randomValues(6 * 4 * 3 * 3, 51), {6, 4, 3, 3}), w1 = upload(randomValues(6 * 4, 52), {6, 4, 1, 1});
    Pair b = upload(randomValues(6, 53), {6});
    expectClose({ref_->conv2d(x.ref, w3.ref, &b.ref, 1, 1), be_->conv2d(x.got, w3.got, &b.got, 1, 1)}, 1e-4, 1e-5,
                "conv2d 3x3 pad 1");
    expectClose({ref_->conv2d(x.ref, w3.ref, nullptr, 2, 0), be_->conv2d(x.got, w3.got, nullptr, 2, 0)}, 1e-4, 1e-5,
                "conv2d 3x3 stride 2");
    expectClose({ref_->conv2d(x.ref, w1.ref, &b.ref, 1, 0), be_->conv2d(x.got, w1.got, &b.got, 1, 0)}, 1e-4, 1e-5,
                "conv2d 1x1");
    expectClose({ref_->upsampleNearest2x(x.ref), be_->upsampleNearest2x(x.got)}, 0, 0, "upsample");
    expectClose({ref_->padRightBottom(x.ref, 1), be_->padRightBottom(x.got, 1)}, 0, 0, "padRightBottom");
}

// Logits shaped like image-token decoding: rows = (cond, uncond) pairs, vocabulary 16,384; one peaked
// pair, one flat pair (every code in few histogram buckets), one with ties.
std::vector<float> samplingLogits(int64_t vocab) {
    std::vector<float> l = randomValues(size_t(6 * vocab), 60, -4.0f, 4.0f);
    for (int64_t i = 0; i < vocab; ++i) {
        l[size_t(i)] += (i % 97 == 0) ? 9.0f : 0.0f; // peaked conditional row
        l[size_t(2 * vocab + i)] = 0.001f * float(i % 13);  // nearly flat conditional row
        l[size_t(3 * vocab + i)] = 0.0f;                    // flat unconditional row
        l[size_t(4 * vocab + i)] = float(i % 4);            // ties
    }
    return l;
}

TEST_P(BackendParity, Sampling) {
    const int64_t vocab = 16384;
    const auto lv = samplingLogits(vocab);
    Pair logits = upload(lv, {6, vocab});
    std::vector<SampleRow> rows;
    for (uint64_t image = 0; image < 3; ++image) {
        SampleRow r;
        r.cond = int64_t(2 * image);
        r.uncond = int64_t(2 * image + 1);
        r.cfg = 1.0f + 2.5f * float(image);
        r.stream = image;
        r.index = 17;
        rows.push_back(r);
    }
    SampleRow plain;
    plain.cond = 4;
    plain.stream = 9;
    rows.push_back(plain);
    SampleRow forced = rows[0];
    forced.forced = 1234;
    rows.push_back(forced);

    SampleParams p1; // T = 1, no filtering
    SampleParams p2;
    p2.temperature = 0.7f;
    p2.top_k = 500;
    p2.top_p = 0.9f;
    p2.min_p = 0.01f;
    p2.report_k = 8;
    SampleParams p3;
    p3.temperature = 0.0f; // greedy
    SampleParams p4;
    p4.temperature = 1.3f;
    p4.top_p = 0.5f;
    p4.guidance_kl = false;
    int variant = 0;
    for (const SampleParams& base : {p1, p2, p3, p4}) {
        for (uint64_t seed : {1ULL, 99ULL, 123456789ULL}) {
            SampleParams p = base;
            p.seed = seed;
            SampleResult want, got;
            ref_->sample(logits.ref, rows, p, want);
            be_->sample(logits.got, rows, p, got);
            const std::string tag = "params " + std::to_string(variant) + " seed " + std::to_string(seed);
            ASSERT_EQ(got.token, want.token) << tag;
            EXPECT_EQ(got.rank, want.rank) << tag;
            EXPECT_EQ(got.top_ids, want.top_ids) << tag;
            for (size_t i = 0; i < want.token.size(); ++i) {
                EXPECT_NEAR(got.probability[i], want.probability[i], 1e-6 * want.probability[i] + 1e-12) << tag;
                EXPECT_NEAR(got.entropy[i], want.entropy[i], 1e-5) << tag;
                EXPECT_NEAR(got.guidance_kl[i], want.guidance_kl[i], 1e-5) << tag;
            }
            for (size_t i = 0; i < want.top_probs.size(); ++i)
                EXPECT_NEAR(got.top_probs[i], want.top_probs[i], 1e-6 * want.top_probs[i] + 1e-12) << tag;
        }
        ++variant;
    }
}

TEST_P(BackendParity, SamplingRejectsNonFiniteLogits) {
    std::vector<float> lv(64, 0.5f);
    lv[7] = NAN;
    Tensor logits = be_->fromF32(lv, {1, 64});
    SampleResult out;
    EXPECT_THROW(be_->sample(logits, {SampleRow{}}, SampleParams{}, out), Error);
}

// A warm step (the same ops on the same shapes again) makes no system or driver allocation.
TEST_P(BackendParity, WarmStepsDoNotAllocate) {
    const auto wv = toBf16(randomValues(64 * 128, 70));
    Tensor w = be_->uploadMatrix(wv.data(), DType::BF16, {64, 128});
    Tensor norm = be_->fromF32(randomValues(128, 71), {128});
    Tensor kc = be_->alloc(DType::F32, {1, 2, 16, 32}), vc = be_->alloc(DType::F32, {1, 2, 16, 32});
    Tensor ids = be_->fromI64({5}, {1, 1});
    Tensor table = be_->uploadMatrix(wv.data(), DType::BF16, {64, 128});
    auto step = [&](int64_t pos) {
        Tensor h = be_->embedding(table, ids);
        h = be_->rmsNorm(h, norm, 1e-6f);
        Tensor kv = be_->matmul(h, w, nullptr).reshape({1, 1, 2, 32});
        be_->kvWrite(kc, vc, kv, kv, pos);
        Tensor a = be_->attention(kv, kc, vc, pos + 1, AttentionMask{}, 0.2f);
        Tensor logits = be_->matmul(be_->add(h, h), table, nullptr);
        SampleResult r;
        be_->sample(logits, {SampleRow{}}, SampleParams{}, r);
        be_->synchronize();
    };
    step(0);
    step(1);
    const uint64_t before = be_->systemAllocations();
    for (int64_t pos = 2; pos < 6; ++pos) step(pos);
    EXPECT_EQ(be_->systemAllocations(), before) << "a warm decode step reached the system allocator";
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendParity, ::testing::Values(std::string("cpu"), std::string("cuda")),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

} // namespace
} // namespace tessera
