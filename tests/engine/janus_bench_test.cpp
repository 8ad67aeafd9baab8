// The Janus benchmark plumbing: tensor shapes against a transformers-written checkpoint, random
// checkpoints through the real loader, and previews leaving the sampled tokens alone (no timings).
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/janus_bench.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

namespace {

const std::string kTiny = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

fs::path scratch(const std::string& name) {
    return fs::temp_directory_path() /
           ("tessera-janus-bench-test-" + std::to_string(::getpid()) + "-" + name);
}

struct Removed {
    fs::path path;
    ~Removed() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// janus_tiny's config.json, as numbers.
JanusShape tinyShape() {
    JanusShape s;
    s.vocab = 300;
    s.hidden = 64;
    s.layers = 2;
    s.heads = 4;
    s.kv_heads = 2;
    s.intermediate = 128;
    s.max_positions = 128;
    s.gen_projection = 64;
    s.codebook = 64;
    s.code_dim = 8;
    s.base_channels = 32;
    s.channel_multiplier = {1, 2};
    s.num_res_blocks = 1;
    s.latent_channels = 32;
    s.grid = 4;
    return s;
}

// Small enough to generate in seconds, with three VQ levels so the decoder's level structure matters.
JanusShape smallGridShape() {
    JanusShape s = tinyShape();
    s.max_positions = 512;
    s.codebook = 512;
    s.channel_multiplier = {1, 2, 2};
    s.grid = 6;
    return s;
}

} // namespace

// The shapes follow transformers' JanusVQVAE and Janus model layout: for janus_tiny's config they name
// exactly the tensors transformers wrote into the reference checkpoint, with the same shapes.
TEST(JanusBench, TensorsMatchTheTransformersReference) {
    auto ref = Checkpoint::open(kTiny);
    ASSERT_TRUE(ref.ok()) << ref.error();
    const std::vector<TensorSpec> specs = janusTensors(tinyShape());
    EXPECT_EQ(specs.size(), ref->names().size());
    for (const auto& s : specs) {
        const TensorInfo* info = ref->find(s.name);
        ASSERT_NE(info, nullptr) << s.name << " is not in the reference checkpoint";
        EXPECT_EQ(info->shape, s.shape) << s.name;
    }
}

TEST(JanusBench, PresetsHaveTheJanusProImageShape) {
    auto small = janusPresetShape("janus-small");
    ASSERT_TRUE(small.ok()) << small.error();
    // Janus-Pro generates 384x384 images from 24x24 VQ-16 tokens with a 16384-entry codebook.
    EXPECT_EQ(small->imageSize(), 384);
    EXPECT_EQ(small->downsample(), 16);
    EXPECT_EQ(small->codebook, 16384);
    auto pro = janusPresetShape("janus-pro-1b");
    ASSERT_TRUE(pro.ok());
    EXPECT_EQ(pro->hidden, 2048);
    EXPECT_EQ(pro->vocab, 102400);
    EXPECT_FALSE(janusPresetShape("janus-huge").ok());
}

TEST(JanusBench, RejectsAVocabularySmallerThanTheTokenizer) {
    JanusShape s = tinyShape();
    s.vocab = 100; // the tokenizer uses ids up to 299
    Removed dir{scratch("vocab")};
    Status st = writeRandomJanusCheckpoint(s, dir.path.string(), kTiny);
    EXPECT_FALSE(st.ok());
}

TEST(JanusBench, RandomCheckpointLoadsAndPreviewsDoNotChangeTokens) {
    const JanusShape shape = smallGridShape();
    Removed dir{scratch("load")};
    Status st = writeRandomJanusCheckpoint(shape, dir.path.string(), kTiny, 3);
    ASSERT_TRUE(st.ok()) << st.message();
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto pipe = JanusPipeline::load(dir.path.string(), **be);
    ASSERT_TRUE(pipe.ok()) << pipe.error();
    const JanusInfo& info = (*pipe)->info();
    EXPECT_EQ(info.layout, "transformers");
    EXPECT_EQ(info.grid_h, 6);
    EXPECT_EQ(info.grid_w, 6);
    EXPECT_EQ(info.codebook, 512);
    EXPECT_EQ(info.image_size, 6 * 4);

    JanusRequest req;
    req.prompt = "a red cube";
    req.seed = 11;
    req.images = 2;
    req.preview_every = 6;
    int previews = 0;
    JobContext ctx(
        1,
        [&](const Event& e) {
            if (const auto* p = std::get_if<PreviewReady>(&e); p && !p->final) ++previews;
        },
        nullptr);
    req.previews = false;
    auto off = (*pipe)->generate(req, ctx);
    ASSERT_TRUE(off.ok()) << off.error();
    EXPECT_EQ(previews, 0);
    req.previews = true;
    auto on = (*pipe)->generate(req, ctx);
    ASSERT_TRUE(on.ok()) << on.error();
    EXPECT_GT(previews, 0);
    ASSERT_EQ(off->tokens.size(), 2u);
    EXPECT_EQ(off->tokens[0].size(), 36u);
    EXPECT_EQ(off->tokens, on->tokens);
    for (const auto& img : on->images) {
        EXPECT_EQ(img.width, 24);
        EXPECT_EQ(img.height, 24);
    }
}

TEST(JanusBench, BenchmarkReportsIdenticalTokens) {
    JanusBenchOptions o;
    o.preset = "janus-tiny";
    o.reference_dir = kTiny;
    o.grid = 6;
    o.threads = 1;
    auto r = runJanusBench(o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->grid, 6);
    EXPECT_EQ(r->steps, 36);
    EXPECT_EQ(r->previews_due, 5); // rows 1..5 end before the last token
    EXPECT_GE(r->preview_count, 1);
    EXPECT_LE(r->preview_count, r->previews_due);
    EXPECT_TRUE(r->tokens_identical);
    o.preset = "nope";
    EXPECT_FALSE(runJanusBench(o).ok());
}

} // namespace tessera::bench
