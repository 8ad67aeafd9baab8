// IG-LLM's float head in the LLaVA family: both head types on hand-checked inputs, on the hidden states
// of a real llava_tiny forward pass (expected values from a double-precision loop over the weights the
// test wrote), and bad configs or shapes as errors.
//
// The checkpoints are llava_tiny (the reference set's weights, as a first shard) plus a second shard
// holding the head written here, joined by a model.safetensors.index.json.
#include "models/llava_model.h"
#include "tessera/engine/engine.h"
#include "token_shuffle_test_util.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace tessera {
namespace {

namespace fs = std::filesystem;
using test::F32File;
using test::F32Tensor;

constexpr int64_t kHidden = 64; // llava_tiny's text hidden size

fs::path makeHeadCheckpoint(const std::string& name, const std::string& head_type, const F32File& head,
                            const std::string& prefix = "float_head.") {
    const fs::path src = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llava_tiny";
    const fs::path dir =
        fs::temp_directory_path() / ("tessera_igllm_head_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(src / "model.safetensors", dir / "base.safetensors");
    F32File prefixed;
    for (const auto& [k, v] : head) prefixed[prefix + k] = v;
    test::writeF32Safetensors((dir / "head.safetensors").string(), prefixed);
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
    cfg["float_head_type"] = head_type;
    std::ofstream(dir / "config.json") << cfg.dump(2);
    auto base = Checkpoint::openFiles({(src / "model.safetensors").string()});
    EXPECT_TRUE(base.ok());
    nlohmann::json map = nlohmann::json::object();
    for (const auto& n : base->names()) map[n] = "base.safetensors";
    for (const auto& [k, v] : prefixed) map[k] = "head.safetensors";
    std::ofstream(dir / "model.safetensors.index.json")
        << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", map}}.dump();
    return dir;
}

std::unique_ptr<LlavaModel> loadModel(const fs::path& dir, Backend& be) {
    auto ckpt = Checkpoint::open(dir.string());
    EXPECT_TRUE(ckpt.ok()) << ckpt.error();
    if (!ckpt.ok()) return nullptr;
    auto m = LlavaModel::load(*ckpt, be);
    EXPECT_TRUE(m.ok()) << m.error();
    return m.ok() ? std::move(*m) : nullptr;
}

F32Tensor zeros(std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t x : shape) n *= x;
    return {shape, std::vector<float>(static_cast<size_t>(n), 0.0f)};
}

double geluErf(double x) {
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

// Independent evaluation of the official head on one hidden row, in double precision.
double linearRef(const F32File& h, const std::vector<float>& x) {
    double s = h.at("bias").values[0];
    for (int64_t i = 0; i < kHidden; ++i)
        s += static_cast<double>(h.at("weight").values[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
    return s;
}
double tanhMlpGeluRef(const F32File& h, const std::vector<float>& x) {
    const auto& w1 = h.at("1.weight").values;
    const auto& b1 = h.at("1.bias").values;
    const auto& w2 = h.at("3.weight").values;
    double out = h.at("3.bias").values[0];
    for (int64_t o = 0; o < kHidden; ++o) {
        double a = b1[static_cast<size_t>(o)];
        for (int64_t i = 0; i < kHidden; ++i)
            a += static_cast<double>(w1[static_cast<size_t>(o * kHidden + i)]) *
                 std::tanh(static_cast<double>(x[static_cast<size_t>(i)]));
        out += static_cast<double>(w2[static_cast<size_t>(o)]) * geluErf(a);
    }
    return out;
}

TEST(IgllmFloatHead, LinearHandCheckedCase) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    F32File head;
    head["weight"] = zeros({1, kHidden});
    head["weight"].values[0] = 0.5f;
    head["weight"].values[3] = -2.0f;
    head["bias"] = {{1}, {0.25f}};
    auto m = loadModel(makeHeadCheckpoint("linear_hand", "linear", head), **be);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->floatHeadType(), FloatHeadType::Linear);
    // Row 0: x0 = 2, x3 = 0.125 -> 0.5*2 - 2*0.125 + 0.25 = 1.0. Row 1: x3 = -1 -> 2 + 0.25 = 2.25.
    std::vector<float> x(static_cast<size_t>(2 * kHidden), 7.0f); // other entries meet zero weights
    x[0] = 2.0f;
    x[3] = 0.125f;
    x[kHidden + 0] = 0.0f;
    x[kHidden + 3] = -1.0f;
    std::vector<float> v = m->floatValues((*be)->fromF32(x, {1, 2, kHidden}));
    ASSERT_EQ(v.size(), 2u);
    EXPECT_NEAR(v[0], 1.0f, 1e-6);
    EXPECT_NEAR(v[1], 2.25f, 1e-6);
}

TEST(IgllmFloatHead, TanhMlpGeluHandCheckedCase) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    F32File head;
    head["1.weight"] = zeros({kHidden, kHidden});
    head["1.weight"].values[1 * kHidden + 2] = 1.0f; // unit 1 reads tanh(x2)
    head["1.bias"] = zeros({kHidden});
    head["1.bias"].values[0] = 1.0f; // unit 0 is GELU(1) whatever the input
    head["3.weight"] = zeros({1, kHidden});
    head["3.weight"].values[0] = 2.0f;
    head["3.weight"].values[1] = -1.0f;
    head["3.bias"] = {{1}, {0.5f}};
    auto m = loadModel(makeHeadCheckpoint("mlp_hand", "tanh_mlp_gelu", head, "model.float_head."), **be);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->floatHeadType(), FloatHeadType::TanhMlpGelu);
    // x = 0: 2*GELU(1) + 0.5, GELU(1) = Phi(1) = 0.841344746068543 -> 2.182689492137086.
    // x2 = atanh(0.5) = 0.5493061443340549: unit 1 = GELU(0.5) = 0.5*Phi(0.5) = 0.345731263 -> minus that.
    std::vector<float> x(static_cast<size_t>(2 * kHidden), 0.0f);
    x[kHidden + 2] = 0.5493061443340549f;
    std::vector<float> v = m->floatValues((*be)->fromF32(x, {2, kHidden}));
    ASSERT_EQ(v.size(), 2u);
    EXPECT_NEAR(v[0], 2.182689492137086, 1e-5);
    EXPECT_NEAR(v[1], 2.182689492137086 - 0.3457312306, 1e-5);
}

// Both heads with random weights on the final-normed hidden states of a real prompt.
TEST(IgllmFloatHead, BothTypesOnRealHiddenStatesMatchDoubleLoop) {
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    const fs::path ref = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llava_tiny";
    for (const std::string type : {"linear", "tanh_mlp_gelu"}) {
        SCOPED_TRACE(type);
        F32File head;
        if (type == "linear") {
            head["weight"] = {{1, kHidden}, test::randomValues(kHidden, 11, 0.3f)};
            head["bias"] = {{1}, {0.125f}};
        } else {
            head["1.weight"] = {{kHidden, kHidden}, test::randomValues(kHidden * kHidden, 12, 0.25f)};
            head["1.bias"] = {{kHidden}, test::randomValues(kHidden, 13, 0.1f)};
            head["3.weight"] = {{1, kHidden}, test::randomValues(kHidden, 14, 0.3f)};
            head["3.bias"] = {{1}, {-0.375f}};
        }
        auto m = loadModel(makeHeadCheckpoint("real_" + type, type, head), **be);
        ASSERT_TRUE(m);
        auto gold = Checkpoint::openFiles({(ref / "golden.safetensors").string()});
        ASSERT_TRUE(gold.ok()) << gold.error();
        auto ids = gold->load("input_ids", **be);
        auto pixels = gold->load("pixel_values", **be);
        ASSERT_TRUE(ids.ok() && pixels.ok());
        CausalLM& lm = m->lm();
        KvCache cache = lm.newCache(ids->dim(0), ids->dim(1));
        Tensor hidden = lm.forward(m->inputEmbeds(*ids, *pixels), cache);
        const std::vector<float> h = (*be)->readF32(hidden);
        const std::vector<float> v = m->floatValues(hidden);
        const size_t rows = h.size() / kHidden;
        ASSERT_EQ(v.size(), rows);
        double lo = 1e30, hi = -1e30;
        for (size_t r = 0; r < rows; ++r) {
            std::vector<float> x(h.begin() + static_cast<long>(r * kHidden),
                                 h.begin() + static_cast<long>((r + 1) * kHidden));
            const double want = type == "linear" ? linearRef(head, x) : tanhMlpGeluRef(head, x);
            EXPECT_NEAR(v[r], want, 1e-4) << "row " << r;
            lo = std::min(lo, want);
            hi = std::max(hi, want);
        }
        EXPECT_GT(hi - lo, 1e-3); // the rows really give different values
    }
}

// PyTorch's modules, built as the official code builds the head (tools/reference/igllm_float_head.py):
// their weights, inputs and float64 outputs.
TEST(IgllmFloatHead, MatchesPyTorchOracle) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    for (const std::string type : {"linear", "tanh_mlp_gelu"}) {
        SCOPED_TRACE(type);
        auto oracle = Checkpoint::openFiles(
            {(fs::path(TESSERA_TEST_DATA_DIR) / "igllm_float_head" / (type + ".safetensors")).string()});
        ASSERT_TRUE(oracle.ok()) << oracle.error();
        F32File head;
        for (const auto& name : oracle->names()) {
            if (name.rfind("float_head.", 0) != 0) continue;
            auto t = oracle->load(name, **be);
            ASSERT_TRUE(t.ok());
            head[name.substr(std::string("float_head.").size())] = {t->shape(), (*be)->readF32(*t)};
        }
        ASSERT_EQ(head.size(), type == "linear" ? 2u : 4u);
        auto m = loadModel(makeHeadCheckpoint("torch_" + type, type, head), **be);
        ASSERT_TRUE(m);
        auto hidden = oracle->load("hidden", **be);
        auto expected = oracle->load("expected", **be);
        ASSERT_TRUE(hidden.ok() && expected.ok());
        const std::vector<float> want = (*be)->readF32(*expected);
        const std::vector<float> got = m->floatValues(*hidden);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
            EXPECT_NEAR(got[i], want[i], 2e-5 * (1 + std::abs(want[i]))) << "row " << i;
    }
}

TEST(IgllmFloatHead, NoneHasNoHeadAndBadConfigsAreErrors) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto plain = Checkpoint::open((fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llava_tiny").string());
    ASSERT_TRUE(plain.ok());
    auto m = LlavaModel::load(*plain, **be);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ((*m)->floatHeadType(), FloatHeadType::None);
    EXPECT_THROW((*m)->floatValues((*be)->zeros(DType::F32, {1, kHidden})), Error);

    F32File head;
    head["weight"] = zeros({1, kHidden});
    head["bias"] = {{1}, {0.0f}};
    // Unknown head type: named in the message.
    auto bad = Checkpoint::open(makeHeadCheckpoint("bad_type", "quadratic", head).string());
    ASSERT_TRUE(bad.ok());
    auto e1 = LlavaModel::load(*bad, **be);
    ASSERT_FALSE(e1.ok());
    EXPECT_NE(e1.error().find("quadratic"), std::string::npos) << e1.error();
    // The config asks for the MLP head; the checkpoint has the linear one: the missing tensor is named.
    auto mismatch = Checkpoint::open(makeHeadCheckpoint("mismatch", "tanh_mlp_gelu", head).string());
    ASSERT_TRUE(mismatch.ok());
    auto e2 = LlavaModel::load(*mismatch, **be);
    ASSERT_FALSE(e2.ok());
    EXPECT_NE(e2.error().find("float_head.1.weight"), std::string::npos) << e2.error();
    // A wrongly shaped input.
    auto ok = loadModel(makeHeadCheckpoint("shape", "linear", head), **be);
    ASSERT_TRUE(ok);
    EXPECT_THROW(ok->floatValues((*be)->zeros(DType::F32, {2, kHidden + 1})), Error);
}

} // namespace
} // namespace tessera
