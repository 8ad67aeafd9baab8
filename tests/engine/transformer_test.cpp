// The shared transformer: 16-bit weights kept as stored, and weight overlays. The oracles are checkpoint
// files this test writes itself from the reference sets (the same numbers in another dtype, or with
// the overlay's change baked into the file), loaded through the ordinary loader.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tessera/engine/engine.h"

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kRef = std::string(TESSERA_TEST_DATA_DIR) + "/reference/";

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag) {
        path = fs::temp_directory_path() / ("tessera-tf-" + tag + "-" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

using Edit = std::function<void(const std::string& name, std::vector<float>& values)>;

// Copies a reference checkpoint into `dir`, every tensor stored as `dtype` after `edit` (if any).
void writeCopy(const std::string& set, const fs::path& dir, DType dtype, const Edit& edit = {}) {
    auto ckpt = Checkpoint::open(kRef + set);
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    fs::copy_file(kRef + set + "/config.json", dir / "config.json", fs::copy_options::overwrite_existing);
    auto be = createBackend("cpu", 1);
    nlohmann::ordered_json header;
    std::string data;
    for (const std::string& name : ckpt->names()) {
        auto t = ckpt->load(name, **be);
        ASSERT_TRUE(t.ok());
        std::vector<float> v = (*be)->readF32(*t);
        if (edit) edit(name, v);
        const size_t begin = data.size();
        for (float x : v) {
            if (dtype == DType::F32) {
                data.append(reinterpret_cast<const char*>(&x), 4);
            } else {
                const uint16_t h = dtype == DType::BF16 ? f32ToBf16(x) : f32ToF16(x);
                data.append(reinterpret_cast<const char*>(&h), 2);
            }
        }
        header[name] = {{"dtype", dtypeName(dtype)}, {"shape", t->shape()}, {"data_offsets", {begin, data.size()}}};
    }
    std::string text = header.dump();
    while (text.size() % 8) text.push_back(' ');
    std::ofstream out(dir / "model.safetensors", std::ios::binary);
    const uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << text << data;
    ASSERT_TRUE(out.good());
}

// Rounds every value through a 16-bit type, so an f32 file can hold exactly what a 16-bit file holds.
Edit roundedTo(DType dtype) {
    return [dtype](const std::string&, std::vector<float>& v) {
        for (float& x : v) x = dtype == DType::BF16 ? bf16ToF32(f32ToBf16(x)) : f16ToF32(f32ToF16(x));
    };
}

struct Outputs {
    std::vector<float> prefill, step;
    size_t weight_bytes = 0;
};

// Prefill of 12 tokens (the GEMM path) in two rows, then one decode step (the GEMV path).
Outputs run(CausalLM& lm, Backend& be) {
    Outputs r;
    KvCache cache = lm.newCache(2, 16);
    std::vector<int64_t> ids(24);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 31 + 7) % lm.config().vocab);
    r.prefill = be.readF32(lm.logits(lm.forward(lm.embed(be.fromI64(ids, {2, 12})), cache)));
    r.step = be.readF32(lm.logits(lm.forward(lm.embed(be.fromI64({3, 5}, {2, 1})), cache)));
    r.weight_bytes = lm.weightBytes();
    return r;
}

Outputs load(const fs::path& dir, Backend& be) {
    auto ckpt = Checkpoint::open(dir.string());
    EXPECT_TRUE(ckpt.ok()) << ckpt.error();
    auto lm = loadCausalLM(*ckpt, be);
    EXPECT_TRUE(lm.ok()) << lm.error();
    return run(**lm, be);
}

class SixteenBitWeights : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(SixteenBitWeights, KeptAsStoredAndBitIdenticalToTheSameValuesInF32) {
    const auto& [set, dtype] = GetParam();
    TempDir narrow("n"), wide("w");
    writeCopy(set, narrow.path, dtype);
    writeCopy(set, wide.path, DType::F32, roundedTo(dtype));
    auto be = createBackend("cpu", 2);
    const Outputs a = load(narrow.path, **be), b = load(wide.path, **be);
    EXPECT_EQ(a.prefill, b.prefill);
    EXPECT_EQ(a.step, b.step);
    // Matrices stay 16-bit (norm vectors are widened): well under 60% of the f32 bytes.
    EXPECT_LT(static_cast<double>(a.weight_bytes), 0.6 * static_cast<double>(b.weight_bytes));
}

INSTANTIATE_TEST_SUITE_P(Families, SixteenBitWeights,
                         ::testing::Combine(::testing::Values("llama_tiny", "qwen2_tiny", "chameleon_tiny"),
                                            ::testing::Values(DType::BF16, DType::F16)));

TEST(WeightOverlay, ReplaceAndAddEqualCheckpointsWithTheChangeBakedIn) {
    const std::string set = "llama_tiny";
    auto be = createBackend("cpu", 2);
    auto ckpt = Checkpoint::open(kRef + set);
    ASSERT_TRUE(ckpt.ok());
    auto base = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(base.ok());
    const Outputs before = run(**base, **be);

    const std::string q = "model.layers.0.self_attn.q_proj.weight", up = "model.layers.1.mlp.up_proj.weight";
    auto qt = ckpt->load(q, **be);
    auto ut = ckpt->load(up, **be);
    ASSERT_TRUE(qt.ok() && ut.ok());
    std::vector<float> new_q = (*be)->readF32(*qt), delta_up((*be)->readF32(*ut).size());
    for (size_t i = 0; i < new_q.size(); ++i) new_q[i] = std::sin(static_cast<float>(i)) * 0.1f;
    for (size_t i = 0; i < delta_up.size(); ++i) delta_up[i] = std::cos(static_cast<float>(i)) * 0.05f;

    WeightOverlay replace{"replace-q", WeightOverlay::Mode::Replace, {{q, (*be)->fromF32(new_q, qt->shape())}}};
    WeightOverlay add{"add-up", WeightOverlay::Mode::Add, {{up, (*be)->fromF32(delta_up, ut->shape())}}};
    auto replaced = (*base)->withOverlay(replace);
    auto added = (*base)->withOverlay(add);
    ASSERT_TRUE(replaced.ok()) << replaced.error();
    ASSERT_TRUE(added.ok()) << added.error();

    TempDir baked_q("q"), baked_up("u");
    writeCopy(set, baked_q.path, DType::F32, [&](const std::string& name, std::vector<float>& v) {
        if (name == q) v = new_q;
    });
    writeCopy(set, baked_up.path, DType::F32, [&](const std::string& name, std::vector<float>& v) {
        if (name == up)
            for (size_t i = 0; i < v.size(); ++i) v[i] += delta_up[i];
    });
    const Outputs rq = run(**replaced, **be), ru = run(**added, **be);
    EXPECT_EQ(rq.prefill, load(baked_q.path, **be).prefill);
    EXPECT_EQ(ru.step, load(baked_up.path, **be).step);
    EXPECT_NE(rq.prefill, before.prefill);
    // The original view is untouched and still runs beside the overlaid ones.
    const Outputs after = run(**base, **be);
    EXPECT_EQ(after.prefill, before.prefill);
    EXPECT_EQ(after.step, before.step);
}

TEST(WeightOverlay, UnknownNamesAndWrongShapesAreNamedInTheError) {
    auto be = createBackend("cpu", 1);
    auto ckpt = Checkpoint::open(kRef + "llama_tiny");
    auto base = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(base.ok());
    WeightOverlay unknown{"x", WeightOverlay::Mode::Replace, {{"model.layers.99.mlp.up_proj.weight", (*be)->fromF32({1}, {1})}}};
    auto r = (*base)->withOverlay(unknown);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("model.layers.99.mlp.up_proj.weight"), std::string::npos);
    WeightOverlay shape{"y", WeightOverlay::Mode::Add, {{"model.layers.0.self_attn.k_proj.weight", (*be)->fromF32({1, 2}, {1, 2})}}};
    r = (*base)->withOverlay(shape);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("shape"), std::string::npos);
}

} // namespace
} // namespace tessera

namespace tessera {
namespace {

// A warm decode step (embed, forward, LM head, sampling) makes no system allocation and copies only
// the sampled ids and statistics to the host — counted, not timed.
TEST(DecodeStep, WarmStepsAllocateNothingAndReadBackOnlyResults) {
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    Backend& b = **be;
    auto ckpt = Checkpoint::open(kRef + "llama_tiny");
    auto lm = loadCausalLM(*ckpt, b);
    ASSERT_TRUE(lm.ok());
    const int64_t rows = 4;
    KvCache cache = (*lm)->newCache(rows, 64);
    std::vector<int64_t> prompt(static_cast<size_t>(rows * 6), 3);
    Tensor h = (*lm)->forward((*lm)->embed(b.fromI64(prompt, {rows, 6})), cache);
    std::vector<SampleRow> sr;
    for (int64_t r = 0; r < rows; ++r) sr.push_back({r, -1, 1.0f, static_cast<uint64_t>(r), 0, -1});
    SampleParams sp;
    SampleResult out;
    Tensor last = b.slice(h, 1, 5, 6);
    auto step = [&](int64_t i) {
        for (auto& r : sr) r.index = static_cast<uint64_t>(i);
        b.sample((*lm)->logits(last), sr, sp, out);
        last = (*lm)->forward((*lm)->embed(b.fromI64(std::vector<int64_t>(out.token.begin(), out.token.end()), {rows, 1})), cache);
    };
    for (int64_t i = 0; i < 4; ++i) step(i);
    const uint64_t allocs = b.systemAllocations(), read = b.hostReadBytes();
    for (int64_t i = 4; i < 12; ++i) step(i);
    EXPECT_EQ(b.systemAllocations(), allocs);
    EXPECT_EQ(b.hostReadBytes() - read, 8 * out.bytes());
}

} // namespace
} // namespace tessera
