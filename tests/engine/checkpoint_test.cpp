// Checkpoint loading against files written here byte by byte: valid ones load exactly, broken ones are
// refused with a message naming what is wrong (and never crash).
//
// Sections: file builders · safetensors header · single and sharded folders · config.json ·
// WeightBinder · model loading.
#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {
namespace {

// ---- file builders -----------------------------------------------------------------------------------

std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

// The safetensors layout: 8-byte little-endian header length, JSON header, data section.
std::string fileBytes(const std::string& header_json, const std::string& data) {
    return le64(header_json.size()) + header_json + data;
}

template <class T> std::string rawBytes(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
    return s;
}

struct RawTensor {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string bytes;
};

// A well-formed file with tensors packed in order. Writers pad the header with spaces to a multiple of
// 8 so data is aligned; `misalign` adds one more space so every tensor starts at an odd address.
std::string buildFile(const std::vector<RawTensor>& tensors, bool misalign = false) {
    nlohmann::json h = nlohmann::json::object();
    std::string data;
    for (const auto& t : tensors) {
        h[t.name] = {{"dtype", t.dtype},
                     {"shape", t.shape},
                     {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
        data += t.bytes;
    }
    std::string js = h.dump();
    js.append((8 - js.size() % 8) % 8 + (misalign ? 1 : 0), ' ');
    return fileBytes(js, data);
}

void writeFile(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << p;
}

std::string readText(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Expected<SafetensorsHeader> parse(const std::string& bytes) {
    return parseSafetensorsHeader(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                                  bytes.size());
}

const std::string& errorText(const Status& s) {
    return s.message();
}
template <class T> const std::string& errorText(const Expected<T>& e) {
    return e.error();
}

// Expects failure and every word in `words` in the message.
#define EXPECT_FAILS_WITH(expr, ...)                                                                         \
    do {                                                                                                     \
        auto r_ = (expr);                                                                                    \
        ASSERT_FALSE(r_.ok()) << #expr " unexpectedly succeeded";                                            \
        for (const char* w_ : {__VA_ARGS__})                                                                 \
            EXPECT_NE(errorText(r_).find(w_), std::string::npos)                                             \
                << "'" << w_ << "' not in: " << errorText(r_);                                               \
    } while (0)

constexpr const char* kTinyConfig = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})";

class CheckpointTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / ("tessera_ckpt_" + std::to_string(::getpid()) + "_" +
                                            info->test_suite_name() + "_" + info->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        auto be = createBackend("cpu", 1);
        ASSERT_TRUE(be.ok()) << be.error();
        backend_ = std::move(*be);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    Expected<Checkpoint> openSingle(const std::string& bytes) {
        writeFile(dir_ / "model.safetensors", bytes);
        return Checkpoint::openFiles({path("model.safetensors")});
    }

    fs::path dir_;
    std::unique_ptr<Backend> backend_;
};

// Two f32 tensors, 2x2 and [3].
std::string twoTensorFile() {
    return buildFile({{"a", "F32", {2, 2}, rawBytes<float>({1.0f, -2.0f, 0.5f, 3.25f})},
                      {"b", "F32", {3}, rawBytes<float>({7.0f, 8.0f, 9.0f})}});
}

// ---- safetensors header ------------------------------------------------------------------------------

TEST_F(CheckpointTest, SingleFileLoadsExactValues) {
    auto c = openSingle(twoTensorFile());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(c->totalBytes(), 28u);
    ASSERT_NE(c->find("a"), nullptr);
    EXPECT_EQ(c->find("a")->shape, (Shape{2, 2}));
    auto a = c->load("a", *backend_);
    ASSERT_TRUE(a.ok()) << a.error();
    EXPECT_EQ(backend_->readF32(*a), (std::vector<float>{1.0f, -2.0f, 0.5f, 3.25f}));
    auto b = c->load("b", *backend_);
    ASSERT_TRUE(b.ok()) << b.error();
    EXPECT_EQ(backend_->readF32(*b), (std::vector<float>{7.0f, 8.0f, 9.0f}));
    EXPECT_FAILS_WITH(c->load("nope", *backend_), "nope", "not found");
}

// Bit patterns from the IEEE 754 binary16 and bfloat16 definitions.
std::string halfTensorsFile(bool misalign) {
    // bf16: 1.0, -2.5, 0.15625, -0.0, 3.0e38-ish max finite (0x7F7F = 3.3895314e38).
    const std::vector<uint16_t> bf16 = {0x3F80, 0xC020, 0x3E20, 0x8000, 0x7F7F};
    // f16: 1.0, -2.0, 0.5, 65504 (max), 2^-24 (smallest subnormal), +inf.
    const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00};
    return buildFile({{"h.bf16", "BF16", {5}, rawBytes(bf16)}, {"h.f16", "F16", {2, 3}, rawBytes(f16)}},
                     misalign);
}

void expectHalfValues(const Checkpoint& c, Backend& be) {
    auto bf = c.load("h.bf16", be);
    ASSERT_TRUE(bf.ok()) << bf.error();
    ASSERT_EQ(bf->dtype(), DType::F32) << "the CPU backend computes in f32";
    const std::vector<float> bf_expected = {1.0f, -2.5f, 0.15625f, -0.0f, 3.3895313892515355e38f};
    auto bfv = be.readF32(*bf);
    ASSERT_EQ(bfv.size(), bf_expected.size());
    for (size_t i = 0; i < bfv.size(); ++i) EXPECT_EQ(bfv[i], bf_expected[i]) << "bf16 element " << i;
    EXPECT_TRUE(std::signbit(bfv[3]));

    auto h = c.load("h.f16", be);
    ASSERT_TRUE(h.ok()) << h.error();
    EXPECT_EQ(h->shape(), (Shape{2, 3}));
    const std::vector<float> f16_expected = {
        1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24), std::numeric_limits<float>::infinity()};
    EXPECT_EQ(be.readF32(*h), f16_expected);
}

TEST_F(CheckpointTest, HalfPrecisionConvertsToF32) {
    auto c = openSingle(halfTensorsFile(false));
    ASSERT_TRUE(c.ok()) << c.error();
    expectHalfValues(*c, *backend_);
}

TEST_F(CheckpointTest, UnalignedDataSectionStillLoads) {
    // An odd header length shifts every tensor off its natural alignment; the format allows it.
    auto c = openSingle(halfTensorsFile(true));
    ASSERT_TRUE(c.ok()) << c.error();
    expectHalfValues(*c, *backend_);
    auto c2 = openSingle(buildFile({{"x", "F32", {2}, rawBytes<float>({1.5f, -4.0f})}}, true));
    ASSERT_TRUE(c2.ok()) << c2.error();
    auto x = c2->load("x", *backend_);
    ASSERT_TRUE(x.ok()) << x.error();
    EXPECT_EQ(backend_->readF32(*x), (std::vector<float>{1.5f, -4.0f}));
}

TEST_F(CheckpointTest, EmptyTensorsDoNotCountAsOverlap) {
    // Writers put an empty tensor at the current offset, i.e. where the next tensor starts.
    auto h = parse(buildFile({{"empty", "F32", {0, 4}, ""}, {"x", "F32", {1}, rawBytes<float>({2.0f})}}));
    ASSERT_TRUE(h.ok()) << h.error();
    EXPECT_EQ(h->tensors.size(), 2u);
    auto h2 = parse(fileBytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})",
                              rawBytes<float>({2.0f})));
    ASSERT_TRUE(h2.ok()) << h2.error();
}

TEST_F(CheckpointTest, MetadataIsKept) {
    auto h = parse(fileBytes(
        R"({"__metadata__":{"format":"pt"},"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", le64(5)));
    ASSERT_TRUE(h.ok()) << h.error();
    EXPECT_EQ(h->metadata.at("format"), "pt");
    ASSERT_EQ(h->tensors.size(), 1u);
    EXPECT_EQ(h->tensors[0].dtype, DType::I64);
}

TEST_F(CheckpointTest, TruncatedFileIsRefused) {
    std::string bytes = twoTensorFile();
    bytes.resize(bytes.size() - 5);
    EXPECT_FAILS_WITH(openSingle(bytes), "model.safetensors", "run past the data section", "truncated");
    EXPECT_FAILS_WITH(openSingle(bytes.substr(0, 5)), "shorter than the 8-byte length prefix");
    EXPECT_FAILS_WITH(openSingle(""), "shorter than the 8-byte length prefix");
}

TEST_F(CheckpointTest, HeaderLengthPastEndOfFile) {
    EXPECT_FAILS_WITH(openSingle(le64(1000) + "{}"), "header length 1000", "runs past the end of the file",
                      "truncated");
}

TEST_F(CheckpointTest, HugeDeclaredHeaderIsRefused) {
    EXPECT_FAILS_WITH(parse(le64(200ull << 20) + "{}"), "exceeds 100 MB");
    EXPECT_FAILS_WITH(parse(le64(~0ull) + "{}"), "exceeds 100 MB");
}

TEST_F(CheckpointTest, MalformedJsonIsRefused) {
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"a": {"dtype": "F32", )", "")), "malformed JSON");
    EXPECT_FAILS_WITH(parse(fileBytes("\xff\xfe{}", "")), "malformed JSON");
}

TEST_F(CheckpointTest, NonObjectHeaderIsRefused) {
    EXPECT_FAILS_WITH(parse(fileBytes("[1, 2, 3]", "")), "not a JSON object");
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"a": 5})", "")), "tensor a");
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"a": {"dtype": "F32"}})", "")), "tensor a", "lacks");
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"__metadata__": [1]})", "")), "__metadata__");
}

TEST_F(CheckpointTest, UnknownDtypeIsRefused) {
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})",
                                      std::string(2, '\0'))),
                      "tensor w", "unsupported dtype F8_E4M3");
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})",
                                      std::string(8, '\0'))),
                      "tensor w", "dtype is not a string");
}

TEST_F(CheckpointTest, BadShapesAreRefused) {
    const std::string data(8, '\0');
    auto withShape = [&](const std::string& shape) {
        return parse(
            fileBytes(R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 8]}})", data));
    };
    EXPECT_FAILS_WITH(withShape("[-2]"), "tensor w", "non-negative integers");
    EXPECT_FAILS_WITH(withShape("[2.5]"), "tensor w", "non-negative integers");
    EXPECT_FAILS_WITH(withShape("[\"2\"]"), "tensor w", "non-negative integers");
    EXPECT_FAILS_WITH(withShape("2"), "tensor w", "shape");
    EXPECT_FAILS_WITH(withShape("[1,1,1,1,1,1,1,1,2]"), "tensor w", "rank <= 8");
    EXPECT_FAILS_WITH(withShape("[4294967296, 4294967296, 4294967296]"), "tensor w", "overflows");
    // A zero dimension hides the others from numel, but they must still be sane.
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"w": {"dtype": "F32", "shape": [0, 18446744073709551615],)"
                                      R"( "data_offsets": [0, 0]}})",
                                      "")),
                      "tensor w", "overflows");
    EXPECT_TRUE(withShape("[2]").ok());
}

TEST_F(CheckpointTest, BadOffsetsAreRefused) {
    const std::string data(8, '\0');
    auto withOffsets = [&](const std::string& off) {
        return parse(
            fileBytes(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": )" + off + "}}", data));
    };
    EXPECT_FAILS_WITH(withOffsets("[0, 16]"), "tensor w", "[0, 16)", "run past the data section (8 bytes");
    EXPECT_FAILS_WITH(withOffsets("[8, 0]"), "tensor w", "begin after end");
    EXPECT_FAILS_WITH(withOffsets("[-8, 0]"), "tensor w", "two non-negative integers");
    EXPECT_FAILS_WITH(withOffsets("[0]"), "tensor w", "two non-negative integers");
    EXPECT_FAILS_WITH(withOffsets("[0, 18446744073709551615]"), "tensor w", "run past the data section");
    EXPECT_FAILS_WITH(withOffsets("[0, 4]"), "tensor w", "4 bytes stored", "F32 [2] needs 8");
    EXPECT_FAILS_WITH(
        parse(fileBytes(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", data)),
        "tensor w", "8 bytes stored", "BF16 [2,3] needs 12");
}

TEST_F(CheckpointTest, OverlappingTensorsAreRefused) {
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                      R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                      std::string(12, '\0'))),
                      "tensors a and b overlap");
    // Same range twice.
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},)"
                                      R"( "b": {"dtype": "I32", "shape": [1], "data_offsets": [4, 8]}})",
                                      std::string(8, '\0'))),
                      "overlap");
    // One inside another, with a third in between in offset order.
    EXPECT_FAILS_WITH(parse(fileBytes(R"({"big": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]},)"
                                      R"( "in": {"dtype": "U8", "shape": [2], "data_offsets": [10, 12]}})",
                                      std::string(16, '\0'))),
                      "big", "in", "overlap");
}

// ---- single and sharded folders ----------------------------------------------------------------------

TEST_F(CheckpointTest, FolderWithSingleFile) {
    writeFile(dir_ / "config.json", kTinyConfig);
    writeFile(dir_ / "model.safetensors", twoTensorFile());
    auto c = Checkpoint::open(dir_.string());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->config().architecture(), "LlamaForCausalLM");
    EXPECT_TRUE(c->has("a"));
    EXPECT_FALSE(c->has("c"));
}

void writeShards(const fs::path& dir) {
    writeFile(dir / "config.json", kTinyConfig);
    writeFile(dir / "model-00001-of-00002.safetensors",
              buildFile({{"layer.0.w", "F32", {2}, rawBytes<float>({1.0f, 2.0f})},
                         {"layer.0.b", "F16", {1}, rawBytes<uint16_t>({0x3C00})}}));
    writeFile(dir / "model-00002-of-00002.safetensors",
              buildFile({{"layer.1.w", "BF16", {2}, rawBytes<uint16_t>({0xC040, 0x3F00})}}));
}

std::string indexJson(const std::vector<std::pair<std::string, std::string>>& entries) {
    nlohmann::json j = {{"metadata", {{"total_size", 14}}}, {"weight_map", nlohmann::json::object()}};
    for (const auto& [t, f] : entries) j["weight_map"][t] = f;
    return j.dump(2);
}

const std::vector<std::pair<std::string, std::string>> kShardMap = {
    {"layer.0.w", "model-00001-of-00002.safetensors"},
    {"layer.0.b", "model-00001-of-00002.safetensors"},
    {"layer.1.w", "model-00002-of-00002.safetensors"}};

TEST_F(CheckpointTest, ShardedCheckpointLoadsFromEveryShard) {
    writeShards(dir_);
    writeFile(dir_ / "model.safetensors.index.json", indexJson(kShardMap));
    auto c = Checkpoint::open(dir_.string());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->names(), (std::vector<std::string>{"layer.0.b", "layer.0.w", "layer.1.w"}));
    auto w0 = c->load("layer.0.w", *backend_);
    auto b0 = c->load("layer.0.b", *backend_);
    auto w1 = c->load("layer.1.w", *backend_);
    ASSERT_TRUE(w0.ok() && b0.ok() && w1.ok());
    EXPECT_EQ(backend_->readF32(*w0), (std::vector<float>{1.0f, 2.0f}));
    EXPECT_EQ(backend_->readF32(*b0), (std::vector<float>{1.0f}));
    EXPECT_EQ(backend_->readF32(*w1), (std::vector<float>{-3.0f, 0.5f}));
}

TEST_F(CheckpointTest, IndexNamingMissingShard) {
    writeShards(dir_);
    auto map = kShardMap;
    map.push_back({"layer.2.w", "model-00003-of-00003.safetensors"});
    writeFile(dir_ / "model.safetensors.index.json", indexJson(map));
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "model-00003-of-00003.safetensors", "layer.2.w",
                      "does not exist");
}

TEST_F(CheckpointTest, IndexNamingTensorMissingFromShard) {
    writeShards(dir_);
    auto map = kShardMap;
    map.push_back({"layer.1.bias", "model-00002-of-00002.safetensors"});
    writeFile(dir_ / "model.safetensors.index.json", indexJson(map));
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "layer.1.bias", "model-00002-of-00002.safetensors",
                      "not found there");
    // Present, but in another shard than the index says.
    map = kShardMap;
    map[2].second = "model-00001-of-00002.safetensors";
    writeFile(dir_ / "model.safetensors.index.json", indexJson(map));
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "layer.1.w", "not found there");
}

TEST_F(CheckpointTest, IndexWithPathTraversal) {
    writeShards(dir_);
    for (const std::string bad : {"../model-00001-of-00002.safetensors", "sub/x.safetensors", "..", "",
                                  "/etc/passwd", "a\\b.safetensors"}) {
        auto map = kShardMap;
        map.push_back({"evil", bad});
        writeFile(dir_ / "model.safetensors.index.json", indexJson(map));
        EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "leaves the folder");
    }
}

TEST_F(CheckpointTest, BrokenIndexFiles) {
    writeShards(dir_);
    writeFile(dir_ / "model.safetensors.index.json", "{\"weight_map\": ");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "model.safetensors.index.json", "malformed JSON");
    writeFile(dir_ / "model.safetensors.index.json", "{\"weight_map\": []}");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "no weight_map object");
    writeFile(dir_ / "model.safetensors.index.json", "{\"weight_map\": {\"x\": 3}}");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "weight_map entry for x");
    writeFile(dir_ / "model.safetensors.index.json", "{\"weight_map\": {}}");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "lists no tensors");
}

TEST_F(CheckpointTest, SameTensorInTwoShards) {
    writeFile(dir_ / "a.safetensors", twoTensorFile());
    writeFile(dir_ / "b.safetensors", twoTensorFile());
    EXPECT_FAILS_WITH(Checkpoint::openFiles({path("a.safetensors"), path("b.safetensors")}), "tensor a",
                      "a.safetensors", "b.safetensors");
}

TEST_F(CheckpointTest, FolderProblems) {
    EXPECT_FAILS_WITH(Checkpoint::open((dir_ / "absent").string()), "is not a folder");
    writeFile(dir_ / "config.json", kTinyConfig);
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "no model.safetensors");
    fs::create_directory(dir_ / "model.safetensors");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "model.safetensors", "not a regular file");
    EXPECT_FAILS_WITH(Checkpoint::openFiles({path("nothing.safetensors")}), "cannot open",
                      "nothing.safetensors");
}

// ---- config.json ---------------------------------------------------------------------------------------

TEST_F(CheckpointTest, MissingConfig) {
    writeFile(dir_ / "model.safetensors", twoTensorFile());
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "config.json", "cannot read", "checkpoint folder");
}

TEST_F(CheckpointTest, MalformedConfig) {
    writeFile(dir_ / "model.safetensors", twoTensorFile());
    writeFile(dir_ / "config.json", "{\"hidden_size\": 64,");
    EXPECT_FAILS_WITH(Checkpoint::open(dir_.string()), "config.json", "malformed JSON");
    EXPECT_FAILS_WITH(ModelConfig::parse("[]"), "config.json", "not a JSON object");
    EXPECT_FAILS_WITH(ModelConfig::parse(R"({"text_config": 3})"), "text_config is not an object");
    EXPECT_FAILS_WITH(ModelConfig::parse(R"({"architectures": "LlamaForCausalLM"})"), "architectures");
    EXPECT_FAILS_WITH(ModelConfig::parse(R"({"architectures": [3]})"), "architectures");
    EXPECT_FAILS_WITH(ModelConfig::parse(R"({"model_type": 3})"), "model_type is not a string");
    EXPECT_FAILS_WITH(ModelConfig::parse(R"({"text_config": {"model_type": null}})"),
                      "model_type is not a string");
}

TEST_F(CheckpointTest, Transformers4Style) {
    auto c = ModelConfig::parse(R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 896, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true})");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->architecture(), "Qwen2ForCausalLM");
    EXPECT_EQ(c->modelType(), "qwen2");
    EXPECT_EQ(c->ropeTheta(), 1000000.0);
    EXPECT_EQ(c->textInt("hidden_size"), 896);
    EXPECT_EQ(c->textFloat("rms_norm_eps", 1.0), 1e-6);
    EXPECT_TRUE(c->tieWordEmbeddings(false));
}

TEST_F(CheckpointTest, Transformers5Style) {
    auto c = ModelConfig::parse(R"({"model_type": "llama", "hidden_size": 64,
        "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}})");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->architecture(), "llama") << "model_type stands in for a missing architectures list";
    EXPECT_EQ(c->ropeTheta(), 500000.0);
    EXPECT_FALSE(c->tieWordEmbeddings(false));
    EXPECT_TRUE(c->tieWordEmbeddings(true));
    // The real llama_tiny config is 5.x style.
    auto real = ModelConfig::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny/config.json");
    ASSERT_TRUE(real.ok()) << real.error();
    EXPECT_EQ(real->ropeTheta(1.0), 10000.0);
    EXPECT_EQ(real->textInt("intermediate_size"), 128);
    // Neither style: the caller's default.
    auto none = ModelConfig::parse("{}");
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->ropeTheta(1234.0), 1234.0);
}

TEST_F(CheckpointTest, NestedTextConfig) {
    auto c =
        ModelConfig::parse(R"({"architectures": ["MultiModalityCausalLM"], "model_type": "multi_modality",
        "hidden_size": 1, "rope_theta": 7.0,
        "text_config": {"model_type": "llama", "hidden_size": 2048, "vocab_size": 102400,
                        "rope_parameters": {"rope_theta": 250000.0}, "bos_token_id": null}})");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->architecture(), "MultiModalityCausalLM");
    EXPECT_EQ(c->text().value("model_type", ""), "llama");
    EXPECT_EQ(c->textInt("hidden_size"), 2048) << "text_config wins over the top level";
    EXPECT_EQ(c->textInt("vocab_size"), 102400);
    EXPECT_EQ(c->ropeTheta(), 250000.0) << "text_config's theta wins over the top level";
    EXPECT_EQ(c->textInt("bos_token_id", -1), -1) << "null means absent";
    // text_config: null is treated as no text_config.
    auto flat = ModelConfig::parse(R"({"hidden_size": 5, "text_config": null})");
    ASSERT_TRUE(flat.ok()) << flat.error();
    EXPECT_EQ(flat->textInt("hidden_size"), 5);
}

TEST_F(CheckpointTest, TieWordEmbeddingsTopLevelFirst) {
    auto janus =
        ModelConfig::parse(R"({"tie_word_embeddings": false, "text_config": {"tie_word_embeddings": true}})");
    ASSERT_TRUE(janus.ok());
    EXPECT_FALSE(janus->tieWordEmbeddings(true)) << "the top level (Janus) comes first";
    auto nested = ModelConfig::parse(R"({"text_config": {"tie_word_embeddings": true}})");
    ASSERT_TRUE(nested.ok());
    EXPECT_TRUE(nested->tieWordEmbeddings(false));
    auto not_bool = ModelConfig::parse(R"({"tie_word_embeddings": "yes"})");
    ASSERT_TRUE(not_bool.ok());
    EXPECT_FALSE(not_bool->tieWordEmbeddings(false));
}

TEST_F(CheckpointTest, TypedAccessorsThrowOnlyTesseraErrors) {
    auto c = ModelConfig::parse(R"({"hidden_size": "64", "huge": 18446744073709551615, "neg": -3, "f": 1.5,
        "rope_theta": -1.0, "b": true})",
                                "x/config.json");
    ASSERT_TRUE(c.ok()) << c.error();
    auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    EXPECT_EQ(message([&] { c->textInt("missing"); }), "x/config.json: missing missing");
    EXPECT_NE(message([&] { c->textInt("hidden_size"); }).find("hidden_size is not an integer"),
              std::string::npos);
    EXPECT_NE(message([&] { c->textInt("huge"); }).find("huge is out of range"), std::string::npos);
    EXPECT_NE(message([&] { c->textInt("f", 0); }).find("f is not an integer"), std::string::npos);
    EXPECT_NE(message([&] { c->textFloat("b", 0); }).find("b is not a number"), std::string::npos);
    EXPECT_NE(message([&] { c->ropeTheta(); }).find("rope_theta must be a positive number"),
              std::string::npos);
    EXPECT_EQ(c->textInt("neg"), -3);
    EXPECT_EQ(c->textFloat("f", 0), 1.5);
    EXPECT_EQ(c->textFloat("neg", 0), -3.0);
    EXPECT_NE(message([&] { c->textBool("f", false); }).find("f is not true or false"), std::string::npos);
    EXPECT_TRUE(c->textBool("b", false));
    EXPECT_FALSE(c->textBool("absent", false));
    // A checkpoint opened without config.json still answers.
    ModelConfig empty;
    EXPECT_EQ(empty.architecture(), "");
    EXPECT_EQ(empty.text().value("model_type", "none"), "none");
    EXPECT_EQ(empty.textInt("x", 4), 4);
}

// ---- WeightBinder --------------------------------------------------------------------------------------

TEST_F(CheckpointTest, BinderListsAllMissingTensorsTogether) {
    auto c = openSingle(twoTensorFile());
    ASSERT_TRUE(c.ok()) << c.error();
    WeightBinder wb(*c, *backend_);
    Tensor a = wb.get("a", {2, 2});
    EXPECT_TRUE(a.defined());
    EXPECT_FALSE(wb.get("model.layers.0.mlp.up_proj.weight").defined());
    EXPECT_FALSE(wb.get("model.layers.1.mlp.up_proj.weight", {4, 4}).defined());
    EXPECT_FALSE(wb.optional("maybe").defined());
    EXPECT_FALSE(wb.get("lm_head.weight").defined());
    Status s = wb.finish();
    ASSERT_FALSE(s.ok());
    for (const char* w : {"3 tensor(s) missing", "model.layers.0.mlp.up_proj.weight",
                          "model.layers.1.mlp.up_proj.weight", "lm_head.weight"})
        EXPECT_NE(s.message().find(w), std::string::npos) << w << " not in: " << s.message();
    EXPECT_EQ(s.message().find("maybe"), std::string::npos) << "optional tensors are not missing";
}

TEST_F(CheckpointTest, BinderCountsBeyondTheShownNames) {
    auto c = openSingle(twoTensorFile());
    ASSERT_TRUE(c.ok()) << c.error();
    WeightBinder wb(*c, *backend_);
    for (int i = 0; i < 20; ++i) wb.get("layers." + std::to_string(i) + ".w");
    Status s = wb.finish();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("20 tensor(s) missing"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("layers.0.w"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("(8 more)"), std::string::npos) << s.message();
}

TEST_F(CheckpointTest, BinderNamesShapeMismatch) {
    auto c = openSingle(twoTensorFile());
    ASSERT_TRUE(c.ok()) << c.error();
    WeightBinder wb(*c, *backend_);
    EXPECT_FALSE(wb.get("a", {4, 1}).defined());
    EXPECT_TRUE(wb.get("b", {3}).defined());
    EXPECT_FALSE(wb.optional("b", {2}).defined());
    Status s = wb.finish();
    ASSERT_FALSE(s.ok());
    for (const char* w :
         {"tensor a has shape [2,2], config expects [4,1]", "tensor b has shape [3], config expects [2]"})
        EXPECT_NE(s.message().find(w), std::string::npos) << w << " not in: " << s.message();
}

TEST_F(CheckpointTest, BinderRefusesIntegerWeights) {
    auto c = openSingle(buildFile({{"ids", "I64", {1}, le64(3)}}));
    ASSERT_TRUE(c.ok()) << c.error();
    WeightBinder wb(*c, *backend_);
    EXPECT_FALSE(wb.get("ids").defined());
    EXPECT_FAILS_WITH(wb.finish(), "ids", "I64", "float");
    WeightBinder clean(*c, *backend_);
    EXPECT_TRUE(clean.finish().ok());
}

// ---- model loading -------------------------------------------------------------------------------------

TEST_F(CheckpointTest, UnknownArchitectureListsSupportedOnes) {
    writeFile(dir_ / "config.json", R"({"architectures": ["FooForCausalLM"], "model_type": "foo"})");
    writeFile(dir_ / "model.safetensors", twoTensorFile());
    auto c = Checkpoint::open(dir_.string());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_FAILS_WITH(loadCausalLM(*c, *backend_), "unknown architecture", "FooForCausalLM", "foo",
                      "supported", "LlamaForCausalLM", "Qwen2ForCausalLM",
                      "ChameleonForConditionalGeneration");
}

class LlamaCopy : public CheckpointTest {
protected:
    // llama_tiny with one config.json field changed.
    Expected<std::unique_ptr<CausalLM>> loadWith(const std::string& key, int64_t value) {
        const fs::path ref = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llama_tiny";
        fs::copy_file(ref / "model.safetensors", dir_ / "model.safetensors",
                      fs::copy_options::overwrite_existing);
        auto cfg = nlohmann::json::parse(readText(ref / "config.json"));
        cfg[key] = value;
        writeFile(dir_ / "config.json", cfg.dump(2));
        auto c = Checkpoint::open(dir_.string());
        if (!c) return c.status();
        return loadCausalLM(*c, *backend_);
    }
};

TEST_F(LlamaCopy, UnchangedCopyLoads) {
    auto m = loadWith("vocab_size", 256);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ((*m)->config().intermediate, 128);
}

TEST_F(LlamaCopy, IntermediateSizeDisagreesWithTensors) {
    EXPECT_FAILS_WITH(loadWith("intermediate_size", 96), "model.layers.0.mlp.gate_proj.weight", "[128,64]",
                      "[96,64]", "model.layers.1.mlp.down_proj.weight", "[64,128]", "[64,96]");
}

TEST_F(LlamaCopy, HiddenSizeDisagreesWithTensors) {
    EXPECT_FAILS_WITH(loadWith("hidden_size", 32), "model.embed_tokens.weight", "[256,64]", "[256,32]");
}

TEST_F(LlamaCopy, MoreLayersThanStored) {
    EXPECT_FAILS_WITH(loadWith("num_hidden_layers", 3), "missing", "model.layers.2.self_attn.q_proj.weight");
}

} // namespace
} // namespace tessera
