// The DiCoDe decoder benchmark's plumbing: the random checkpoint's tensor list against the official
// state dicts (the released key list and reference/dicode_tiny's model.safetensors, both made by the
// official modules), the tiny checkpoint loading and decoding, the benchmark's JSON at tiny shape, and
// bad options. Speed itself is not asserted: that is the benchmark's to print.
#include "bench/dicode_random_weights.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/engine.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kSet = std::string(TESSERA_TEST_DATA_DIR) + "/reference/dicode_tiny";

using ShapeMap = std::map<std::string, Shape>;

bool decoderKey(const std::string& k) {
    return k.rfind("model.diffusion_model.", 0) == 0 || k.rfind("first_stage_model.decoder.", 0) == 0 ||
           k.rfind("first_stage_model.post_quant_conv.", 0) == 0;
}

ShapeMap fromSpecs(const std::vector<dicode_bench::WeightSpec>& specs) {
    ShapeMap m;
    for (const auto& s : specs) EXPECT_TRUE(m.emplace(s.name, s.shape).second) << "duplicate " << s.name;
    return m;
}

// "[a, b, c]" → Shape; "[]" → {}.
Shape parseShape(const std::string& text) {
    Shape s;
    std::string digits;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            digits += c;
        } else if (!digits.empty()) {
            s.push_back(std::stoll(digits));
            digits.clear();
        }
    }
    return s;
}

void expectSame(const ShapeMap& want, const ShapeMap& got) {
    for (const auto& [k, shape] : want) {
        auto it = got.find(k);
        if (it == got.end()) {
            ADD_FAILURE() << "missing " << k;
            continue;
        }
        EXPECT_EQ(it->second, shape) << k;
    }
    for (const auto& [k, shape] : got) EXPECT_TRUE(want.count(k)) << "not in the official state dict: " << k;
}

// The released shape's list is the official LatentVisualDiffusion state dict's U-Net and VAE-decoder
// keys with their shapes, as the reference set's key list records them.
TEST(DicodeDecoderBench, RealShapeTensorsAreTheReleasedStateDict) {
    std::ifstream in(kSet + "/released_config_state_dict_keys.tsv");
    ASSERT_TRUE(in) << "reference key list missing";
    ShapeMap want;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const size_t tab = line.find('\t');
        ASSERT_NE(tab, std::string::npos) << line;
        const std::string key = line.substr(0, tab);
        if (decoderKey(key)) want[key] = parseShape(line.substr(tab + 1));
    }
    ASSERT_GT(want.size(), 1000u);
    auto params = dicodeDecoderParams("real");
    ASSERT_TRUE(params.ok()) << params.error();
    const ShapeMap got = fromSpecs(dicode_bench::decoderTensors(*params));
    expectSame(want, got);
    int64_t unet = 0;
    for (const auto& [k, s] : got)
        if (k.rfind("model.diffusion_model.", 0) == 0) unet += shapeNumel(s);
    // The spec's parameter count of the released U-Net: 1.439 G.
    EXPECT_NEAR(static_cast<double>(unet) / 1e9, 1.439, 0.0005);
}

TEST(DicodeDecoderBench, TinyShapeTensorsAreTheReferenceSetsDecoder) {
    auto file = SafetensorsFile::open(kSet + "/model.safetensors");
    ASSERT_TRUE(file.ok()) << file.error();
    ShapeMap want;
    for (const TensorInfo& t : (*file)->header().tensors)
        if (decoderKey(t.name)) want[t.name] = t.shape;
    ASSERT_GT(want.size(), 100u);
    auto params = dicodeDecoderParams("tiny");
    ASSERT_TRUE(params.ok()) << params.error();
    expectSame(want, fromSpecs(dicode_bench::decoderTensors(*params)));
}

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("tessera-dicode-bench-test-" + std::to_string(::getpid()));
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A written tiny checkpoint loads (every tensor the decoder binds, nothing left over) and decodes a
// clip of finite frames; a frame override changes the clip length.
TEST(DicodeDecoderBench, TinyCheckpointLoadsAndDecodes) {
    TempDir dir;
    auto params = dicodeDecoderParams("tiny", 2);
    ASSERT_TRUE(params.ok()) << params.error();
    ASSERT_TRUE(writeRandomDicodeDecoder(*params, dir.path.string(), 7).ok());
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto dec = DicodeDecoder::load(dir.path.string(), **be);
    ASSERT_TRUE(dec.ok()) << dec.error();
    EXPECT_EQ((*dec)->frames(), 2);
    EXPECT_EQ((*dec)->latentHeight(), 8);
    EXPECT_EQ((*dec)->contextDim(), 32);
    const std::vector<float> tokens(4 * 32, 0.5f), text(77 * 32, 0.25f);
    DicodeDecodeOptions o;
    o.steps = 2;
    auto clip = (*dec)->decodeClip(tokens, tokens, text, tokens, o);
    ASSERT_TRUE(clip.ok()) << clip.error();
    EXPECT_EQ(clip->frames.frames, 2);
    EXPECT_EQ(clip->frames.width, 32);
    ASSERT_EQ(clip->pixels.size(), size_t{3 * 2 * 32 * 32});
    for (float v : clip->pixels) ASSERT_TRUE(std::isfinite(v));
    o.decode_frames = false;
    auto latent_only = (*dec)->decodeClip(tokens, tokens, text, tokens, o);
    ASSERT_TRUE(latent_only.ok()) << latent_only.error();
    EXPECT_TRUE(latent_only->pixels.empty());
    EXPECT_EQ(latent_only->frames.frames, 0);
    EXPECT_EQ(latent_only->final_latent, clip->final_latent);
}

TEST(DicodeDecoderBench, TinyRunPrintsEveryFigure) {
    DicodeDecoderBenchOptions o;
    o.shapes = {"tiny"};
    o.threads = 2;
    o.ddim_steps = 3;
    o.rounds = 1;
    auto r = runDicodeDecoderBench(o);
    ASSERT_TRUE(r.ok()) << r.error();
    std::printf("%s\n", r->dump().c_str());
    ASSERT_EQ((*r)["runs"].size(), 1u);
    const nlohmann::json& run = (*r)["runs"][0];
    EXPECT_EQ(run["shape"], "tiny");
    EXPECT_EQ(run["frames_measured"], 4);
    EXPECT_EQ(run["latent"], nlohmann::json({4, 4, 8, 8}));
    for (const char* k :
         {"ms_per_ddim_step_with_preview", "ms_per_ddim_step_without_preview",
          "ms_per_ddim_step_context_recomputed", "vae_decode_ms", "preview_map_ms", "load_ms"})
        EXPECT_GT(run[k].get<double>(), 0.0) << k;
    EXPECT_TRUE(run.contains("preview_overhead_percent"));
    EXPECT_TRUE(run.contains("context_cache_saving_percent"));
    EXPECT_EQ(run["rounds"], 1);
    EXPECT_EQ(run["timed_steps_per_figure"], 2); // 3 steps, the first a warm-up
    EXPECT_EQ(run["first_step_ms"].size(), 3u);
    EXPECT_GT(run["peak_rss_bytes"].get<double>(), 0.0);
    // The file holds every decoder tensor of the reference set in f32, plus its header.
    auto file = SafetensorsFile::open(kSet + "/model.safetensors");
    ASSERT_TRUE(file.ok());
    int64_t numel = 0;
    for (const TensorInfo& t : (*file)->header().tensors)
        if (decoderKey(t.name)) numel += shapeNumel(t.shape);
    const auto bytes = run["weight_bytes"].get<int64_t>();
    EXPECT_GE(bytes, 4 * numel);
    EXPECT_LT(bytes, 4 * numel + (1 << 20));
}

TEST(DicodeDecoderBench, BadOptionsAreErrors) {
    EXPECT_FALSE(dicodeDecoderParams("huge").ok());
    EXPECT_FALSE(dicodeDecoderParams("real", 3).ok());
    DicodeDecoderBenchOptions o;
    o.shapes = {"tiny"};
    o.ddim_steps = 1;
    EXPECT_FALSE(runDicodeDecoderBench(o).ok());
    nlohmann::json broken = *dicodeDecoderParams("tiny");
    broken["unet_config"]["params"].erase("model_channels");
    TempDir dir;
    const Status st = writeRandomDicodeDecoder(broken, dir.path.string());
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("model_channels"), std::string::npos) << st.message();
}

} // namespace
} // namespace tessera
