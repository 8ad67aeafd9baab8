// The Cosmos DV video tokenizer through its public loader, against the official PyTorch run
// (reference/cosmos_tiny), and the errors broken folders and bad inputs must produce.
#include "tessera/engine/cosmos.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kSet = std::string(TESSERA_TEST_DATA_DIR) + "/reference/cosmos_tiny";

std::unique_ptr<Backend> cpu() {
    auto be = createBackend("cpu", 2);
    EXPECT_TRUE(be.ok()) << be.error();
    return std::move(*be);
}

// ---- a minimal safetensors reader/writer, independent of the engine's --------------------------------

struct RawTensor {
    Shape shape;
    std::string bytes; // f32, row-major
};
using RawFile = std::map<std::string, RawTensor>;

RawFile readSafetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    std::memcpy(&n, all.data(), 8);
    nlohmann::json h = nlohmann::json::parse(all.substr(8, n));
    RawFile out;
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const size_t b = it.value()["data_offsets"][0], e = it.value()["data_offsets"][1];
        out[it.key()] = {it.value()["shape"].get<Shape>(), all.substr(8 + n + b, e - b)};
    }
    return out;
}

void writeSafetensors(const std::string& path, const RawFile& tensors) {
    nlohmann::json h = nlohmann::json::object();
    std::string data;
    for (const auto& [name, t] : tensors) {
        h[name] = {{"dtype", "F32"},
                   {"shape", t.shape},
                   {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
        data += t.bytes;
    }
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    const uint64_t n = header.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
}

template <class T> std::vector<T> values(const RawTensor& t) {
    std::vector<T> v(t.bytes.size() / sizeof(T));
    std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
    return v;
}

const RawFile& golden() {
    static const RawFile g = readSafetensors(kSet + "/golden.safetensors");
    return g;
}

std::vector<float> goldenF32(const std::string& name) {
    return values<float>(golden().at(name));
}

std::vector<int64_t> goldenI64(const std::string& name) {
    return values<int64_t>(golden().at(name));
}

// [1, 3, F, H, W] → VideoF32 ([F][H][W][3]).
VideoF32 goldenVideo(const std::string& name) {
    const RawTensor& t = golden().at(name);
    const std::vector<float> x = values<float>(t);
    VideoF32 v;
    v.frames = t.shape[2], v.height = t.shape[3], v.width = t.shape[4];
    const int64_t plane = v.height * v.width;
    v.rgb.resize(x.size());
    for (int64_t f = 0; f < v.frames; ++f)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t p = 0; p < plane; ++p)
                v.rgb[(f * plane + p) * 3 + c] = x[(c * v.frames + f) * plane + p];
    return v;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
    return m;
}

fs::path copyOfSet(const std::string& name) {
    fs::path p =
        fs::temp_directory_path() / ("tessera_cosmos_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    fs::copy_file(kSet + "/config.json", p / "config.json");
    fs::copy_file(kSet + "/model.safetensors", p / "model.safetensors");
    fs::permissions(p / "config.json", fs::perms::owner_write, fs::perm_options::add);
    fs::permissions(p / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
    return p;
}

std::vector<int32_t> decodeIndices() {
    const std::vector<int64_t> v = goldenI64("decode_indices");
    return std::vector<int32_t>(v.begin(), v.end());
}

// ---- FSQ -----------------------------------------------------------------------------------------------

TEST(CosmosFsq, HandCheckedCodes) {
    CosmosFsq fsq;
    fsq.levels = {8, 8, 8, 5, 5, 5};
    EXPECT_EQ(fsq.codebookSize(), 64000);
    float c[6];
    fsq.indexToCode(0, c);
    EXPECT_EQ(std::vector<float>(c, c + 6), (std::vector<float>{-1, -1, -1, -1, -1, -1}));
    fsq.indexToCode(1, c); // digit 1 of level 8: (1 − 4)/4
    EXPECT_EQ(std::vector<float>(c, c + 6), (std::vector<float>{-0.75f, -1, -1, -1, -1, -1}));
    fsq.indexToCode(512 * 3, c); // digit 3 of the first 5-level: (3 − 2)/2
    EXPECT_EQ(std::vector<float>(c, c + 6), (std::vector<float>{-1, -1, -1, 0.5f, -1, -1}));
    fsq.indexToCode(63999, c); // 7 + 7·8 + 7·64 + 4·512 + 4·2560 + 4·12800
    EXPECT_EQ(std::vector<float>(c, c + 6), (std::vector<float>{0.75f, 0.75f, 0.75f, 1, 1, 1}));
    const float off_grid[6] = {2, 0, 0, 0, 0, 0};
    EXPECT_EQ(fsq.codeToIndex(off_grid), -1);
}

TEST(CosmosFsq, RoundTripIsExactOverAll64000Indices) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const CosmosFsq& fsq = (*tok)->fsq();
    ASSERT_EQ((*tok)->codebookSize(), 64000);
    std::set<std::vector<float>> distinct;
    int64_t mismatches = 0;
    for (int64_t i = 0; i < 64000; ++i) {
        std::vector<float> code(6);
        fsq.indexToCode(i, code.data());
        for (size_t d = 0; d < 6; ++d) {
            const int64_t half = fsq.levels[d] / 2;
            const float scaled = code[d] * static_cast<float>(half);
            EXPECT_EQ(scaled, std::round(scaled)) << "index " << i << " dim " << d; // on the level's grid
            EXPECT_GE(code[d], -1.0f);
            EXPECT_LE(code[d], 1.0f);
        }
        mismatches += fsq.codeToIndex(code.data()) != i;
        distinct.insert(code);
    }
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(distinct.size(), 64000u);
}

TEST(CosmosFsq, MatchesTheOfficialQuantiser) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const CosmosFsq& fsq = (*tok)->fsq();
    const std::vector<int64_t> idx = goldenI64("fsq_indices");
    const std::vector<float> codes = goldenF32("fsq_codes");
    for (size_t i = 0; i < idx.size(); ++i) {
        float c[6];
        fsq.indexToCode(idx[i], c);
        EXPECT_EQ(std::vector<float>(c, c + 6),
                  std::vector<float>(codes.begin() + 6 * i, codes.begin() + 6 * (i + 1)));
        EXPECT_EQ(fsq.codeToIndex(codes.data() + 6 * i), goldenI64("fsq_codes_to_indices")[i]);
    }
    const std::vector<float> z = goldenF32("fsq_z"), zc = goldenF32("fsq_z_codes");
    const std::vector<int64_t> zi = goldenI64("fsq_z_indices");
    for (size_t i = 0; i < zi.size(); ++i) {
        float c[6];
        EXPECT_EQ(fsq.quantize(z.data() + 6 * i, c), zi[i]);
        EXPECT_EQ(std::vector<float>(c, c + 6),
                  std::vector<float>(zc.begin() + 6 * i, zc.begin() + 6 * (i + 1)));
    }
}

// ---- decode and encode -----------------------------------------------------------------------------------

TEST(CosmosTokenizer, DecodeMatchesTheOfficialDecoder) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_FALSE((*tok)->hasEncoder());
    EXPECT_EQ((*tok)->temporalCompression(), 4);
    EXPECT_EQ((*tok)->spatialCompression(), 8);
    auto v = (*tok)->decode(*be, decodeIndices(), 3, 4, 4);
    ASSERT_TRUE(v.ok()) << v.error();
    EXPECT_EQ(v->frames, 9);
    EXPECT_EQ(v->height, 32);
    EXPECT_EQ(v->width, 32);
    const VideoF32 want = goldenVideo("decode_video");
    EXPECT_LE(maxAbsDiff(v->rgb, want.rgb), 1e-4);
    // Not clamped, as the official decoder.
    EXPECT_GT(*std::max_element(v->rgb.begin(), v->rgb.end()), 2.0f);

    const std::vector<int32_t> idx = decodeIndices();
    auto first = (*tok)->decode(*be, std::vector<int32_t>(idx.begin(), idx.begin() + 16), 1, 4, 4);
    ASSERT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(first->frames, 1);
    EXPECT_LE(maxAbsDiff(first->rgb, goldenVideo("decode_first_frame_video").rgb), 1e-4);
}

TEST(CosmosTokenizer, LaterLatentFramesNeverChangeEarlierFrames) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    std::vector<int32_t> idx = decodeIndices();
    auto a = (*tok)->decode(*be, idx, 3, 4, 4);
    for (size_t i = 32; i < 48; ++i) idx[i] = (idx[i] + 777) % 64000; // latent frame 2 = frames 5..8
    auto b = (*tok)->decode(*be, idx, 3, 4, 4);
    ASSERT_TRUE(a.ok() && b.ok());
    const size_t frame = 32 * 32 * 3;
    EXPECT_EQ(std::vector<float>(a->rgb.begin(), a->rgb.begin() + 5 * frame),
              std::vector<float>(b->rgb.begin(), b->rgb.begin() + 5 * frame));
    EXPECT_GT(maxAbsDiff(std::vector<float>(a->rgb.begin() + 5 * frame, a->rgb.end()),
                         std::vector<float>(b->rgb.begin() + 5 * frame, b->rgb.end())),
              1e-2);
}

TEST(CosmosTokenizer, EncodeMatchesTheOfficialIndices) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, true);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const VideoF32 video = goldenVideo("encode_video");
    auto ids = (*tok)->encode(*be, video);
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(std::vector<int64_t>(ids->begin(), ids->end()), goldenI64("encode_indices"));
    VideoF32 one = video;
    one.frames = 1;
    one.rgb.resize(32 * 32 * 3);
    auto first = (*tok)->encode(*be, one);
    ASSERT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(std::vector<int64_t>(first->begin(), first->end()), goldenI64("encode_first_frame_indices"));
}

TEST(CosmosTokenizer, ReferenceSetPassesVerify) {
    auto be = cpu();
    auto r = verifyReferenceSet(kSet, *be);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->kind, "cosmos");
    EXPECT_GE(r->checks.size(), 30u);
    for (const auto& c : r->checks)
        EXPECT_TRUE(c.passed) << c.name << " " << c.max_abs_diff << " " << c.detail;
    EXPECT_TRUE(r->passed());
}

// ---- broken folders and bad input ------------------------------------------------------------------------

TEST(CosmosTokenizer, TensorsTheForwardPassNeverUsesAreOptional) {
    const fs::path dir = copyOfSet("unused");
    RawFile f = readSafetensors(kSet + "/model.safetensors");
    size_t erased = 0;
    for (const char* p :
         {"decoder.up.1.upsample.conv1", "decoder.up.1.upsample.conv2", "decoder.up.1.upsample.conv3",
          "decoder.up.2.upsample.conv1", "encoder.down.0.downsample.conv2", "encoder.down.1.downsample.conv1",
          "encoder.down.1.downsample.conv2", "encoder.down.1.downsample.conv3"})
        for (const char* s : {".conv3d.weight", ".conv3d.bias"}) erased += f.erase(std::string(p) + s);
    ASSERT_EQ(erased, 16u);
    writeSafetensors((dir / "model.safetensors").string(), f);
    auto be = cpu();
    auto full = CosmosTokenizer::load(kSet, *be, true);
    auto lean = CosmosTokenizer::load(dir.string(), *be, true);
    ASSERT_TRUE(full.ok()) << full.error();
    ASSERT_TRUE(lean.ok()) << lean.error();
    auto a = (*full)->decode(*be, decodeIndices(), 3, 4, 4);
    auto b = (*lean)->decode(*be, decodeIndices(), 3, 4, 4);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->rgb, b->rgb);
    auto ia = (*full)->encode(*be, goldenVideo("encode_video"));
    auto ib = (*lean)->encode(*be, goldenVideo("encode_video"));
    ASSERT_TRUE(ia.ok() && ib.ok());
    EXPECT_EQ(*ia, *ib);
    fs::remove_all(dir);
}

TEST(CosmosTokenizer, MissingTensorsAreNamed) {
    const fs::path dir = copyOfSet("missing");
    RawFile f = readSafetensors(kSet + "/model.safetensors");
    f.erase("decoder.mid.attn_1.1.q.conv3d.weight");
    f.erase("encoder.conv_in.0.conv3d.bias");
    writeSafetensors((dir / "model.safetensors").string(), f);
    auto be = cpu();
    auto full = CosmosTokenizer::load(dir.string(), *be, true);
    ASSERT_FALSE(full.ok());
    EXPECT_NE(full.error().find("decoder.mid.attn_1.1.q.conv3d.weight"), std::string::npos) << full.error();
    EXPECT_NE(full.error().find("encoder.conv_in.0.conv3d.bias"), std::string::npos) << full.error();
    // Decoding alone needs no encoder tensor, but still the decoder's.
    auto dec = CosmosTokenizer::load(dir.string(), *be, false);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.error().find("encoder.conv_in"), std::string::npos) << dec.error();
    fs::remove_all(dir);
}

TEST(CosmosTokenizer, WrongShapeIsNamedWithBothShapes) {
    const fs::path dir = copyOfSet("shape");
    RawFile f = readSafetensors(kSet + "/model.safetensors");
    RawTensor& t = f.at("post_quant_conv.conv3d.weight"); // [16, 6, 1, 1, 1]
    t.shape = {16, 6, 1, 3, 3};
    t.bytes.append(t.bytes.size() * 8, '\0');
    writeSafetensors((dir / "model.safetensors").string(), f);
    auto be = cpu();
    auto tok = CosmosTokenizer::load(dir.string(), *be, false);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.error().find("post_quant_conv.conv3d.weight has shape [16,6,1,3,3]"), std::string::npos)
        << tok.error();
    EXPECT_NE(tok.error().find("expects [16,6,1,1,1]"), std::string::npos) << tok.error();
    fs::remove_all(dir);
}

TEST(CosmosTokenizer, BadConfigsGiveAClearStatus) {
    const nlohmann::json good = nlohmann::json::parse(std::ifstream(kSet + "/config.json"));
    struct Case {
        const char* key;
        nlohmann::json value; // null = remove
        const char* expect;
    };
    const std::vector<Case> cases = {
        {"levels", "8,8,8", "levels"},
        {"levels", nlohmann::json::array({8, 8, 1}), "levels"},
        {"channels", nullptr, "channels"},
        {"channels", -8, "channels"},
        {"embedding_dim", 5, "embedding_dim"},
        {"temporal_compression", 8, "temporal_compression"},
        {"spatial_compression", 12, "powers of two"},
        {"spatial_compression", 64, "spatial_compression"},
        {"patch_method", "rearrange", "patch_method"},
        {"num_groups", 32, "num_groups"},
        {"channels_mult", nlohmann::json::array(), "channels_mult"},
        {"channels", 16, "has shape"}, // valid config, checkpoint of another width
    };
    auto be = cpu();
    for (const Case& c : cases) {
        const fs::path dir = copyOfSet("config");
        nlohmann::json cfg = good;
        if (c.value.is_null())
            cfg.erase(c.key);
        else
            cfg[c.key] = c.value;
        std::ofstream(dir / "config.json") << cfg.dump();
        auto tok = CosmosTokenizer::load(dir.string(), *be, true);
        ASSERT_FALSE(tok.ok()) << c.key;
        EXPECT_NE(tok.error().find(c.expect), std::string::npos) << c.key << ": " << tok.error();
        fs::remove_all(dir);
    }
    const fs::path dir = copyOfSet("truncated");
    fs::resize_file(dir / "model.safetensors", 4096);
    auto tok = CosmosTokenizer::load(dir.string(), *be, true);
    EXPECT_FALSE(tok.ok());
    fs::remove(dir / "config.json");
    tok = CosmosTokenizer::load(dir.string(), *be, true);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.error().find("config.json"), std::string::npos) << tok.error();
    fs::remove_all(dir);
}

TEST(CosmosTokenizer, BadInputGivesAStatus) {
    auto be = cpu();
    auto tok = CosmosTokenizer::load(kSet, *be, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    std::vector<int32_t> idx = decodeIndices();
    EXPECT_FALSE((*tok)->decode(*be, idx, 2, 4, 4).ok()); // wrong count
    EXPECT_FALSE((*tok)->decode(*be, {}, 0, 4, 4).ok());
    idx[5] = 64000;
    auto out = (*tok)->decode(*be, idx, 3, 4, 4);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.error().find("64000"), std::string::npos) << out.error();
    idx[5] = -1;
    EXPECT_FALSE((*tok)->decode(*be, idx, 3, 4, 4).ok());

    VideoF32 video = goldenVideo("encode_video");
    auto no_encoder = (*tok)->encode(*be, video);
    ASSERT_FALSE(no_encoder.ok());
    EXPECT_NE(no_encoder.error().find("encoder"), std::string::npos);
    auto enc = CosmosTokenizer::load(kSet, *be, true);
    ASSERT_TRUE(enc.ok()) << enc.error();
    VideoF32 eight = video;
    eight.frames = 8;
    eight.rgb.resize(8 * 32 * 32 * 3);
    EXPECT_FALSE((*enc)->encode(*be, eight).ok()); // not 1 + 4k frames
    VideoF32 odd = video;
    odd.width = 30;
    odd.rgb.resize(9 * 32 * 30 * 3);
    EXPECT_FALSE((*enc)->encode(*be, odd).ok()); // not a multiple of 8
    VideoF32 short_data = video;
    short_data.rgb.pop_back();
    EXPECT_FALSE((*enc)->encode(*be, short_data).ok());
}

} // namespace
} // namespace tessera
