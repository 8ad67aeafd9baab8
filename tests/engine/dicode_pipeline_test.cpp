// The DiCoDe pipeline's order of work and bookkeeping, on the reference set's LLM (dicode_tiny) with a
// recording clip decoder: keyframes stream, clip c is decoded as soon as keyframe c + 1 exists with
// keyframes c and c + 1 and the folder's constants, frames are appended, seeds reproduce, cancel
// reaches the decoder, missing constants are a clear error. The PCA strip and the recipe are checked
// by hand-worked cases.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode_pipeline.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/events.h"
#include "tessera/engine/train_loop.h"
#include "support/dicode_tiny_folder.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

using test::dicodeGolden;

// The tiny folder under a per-process name (a second one without the constants).
std::string makeFolder(bool constants = true) {
    const fs::path dir = fs::temp_directory_path() /
                         ("dicode_pipeline_" + std::to_string(::getpid()) + (constants ? "" : "_bare"));
    test::writeTinyDicodeFolder(dir, constants);
    return dir.string();
}

// Records what the pipeline asks of the decoder; frames are a pure function of the keyframes' tokens
// and the seed, so equal inputs give equal frames.
struct ClipCall {
    std::vector<float> a, b, text, uc;
    DicodeDecodeOptions options;
    int64_t keyframes_when_called = 0;
};

class RecordingDecoder final : public DicodeClipDecoder {
public:
    explicit RecordingDecoder(const int64_t* keyframes_seen) : seen_(keyframes_seen) {}
    int64_t framesPerClip() const override { return 4; }
    int64_t contextDim() const override { return 32; }
    Expected<DicodeFrames> decodeClip(const std::vector<float>& a, const std::vector<float>& b,
                                      const std::vector<float>& text, const std::vector<float>& uc,
                                      const DicodeDecodeOptions& o,
                                      const DicodeCallbacks& cb) const override {
        calls.push_back({a, b, text, uc, o, *seen_});
        for (int64_t s = 0; s < o.steps; ++s) {
            if (cb.cancel && cb.cancel->load()) return Status::error("cancelled");
            DicodeStepEvent e;
            e.step = s;
            e.steps = o.steps;
            e.preview = {4, 2, 2, std::vector<uint8_t>(4 * 2 * 2 * 3, static_cast<uint8_t>(s))};
            if (cb.on_step) cb.on_step(e);
            if (cb.cancel && cb.cancel->load()) return Status::error("cancelled");
        }
        DicodeFrames f{4, 8, 8, std::vector<uint8_t>(4 * 8 * 8 * 3)};
        for (size_t i = 0; i < f.rgb.size(); ++i)
            f.rgb[i] = static_cast<uint8_t>(
                static_cast<int>(std::fabs(a[i % a.size()] * 97.0f + b[i % b.size()] * 31.0f)) +
                static_cast<int>(o.seed % 7));
        return f;
    }
    mutable std::vector<ClipCall> calls;

private:
    const int64_t* seen_;
};

class DicodePipelineTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto be = createBackend("cpu", 2);
        ASSERT_TRUE(be.ok()) << be.error();
        be_ = std::move(*be);
        dir_ = makeFolder();
        auto dec = std::make_unique<RecordingDecoder>(&keyframes_seen_);
        decoder_ = dec.get();
        auto p = DicodePipeline::load(dir_, *be_, std::move(dec));
        ASSERT_TRUE(p.ok()) << p.error();
        pipe_ = std::move(*p);
    }
    void TearDown() override { fs::remove_all(dir_); }

    DicodeRequest request() const {
        DicodeRequest r;
        r.prompt = "  a cat runs ";
        r.keyframes = 3;
        r.seed = 1234;
        r.ddim_steps = 3;
        return r;
    }

    std::unique_ptr<Backend> be_;
    std::string dir_;
    RecordingDecoder* decoder_ = nullptr;
    int64_t keyframes_seen_ = 0;
    std::unique_ptr<DicodePipeline> pipe_;
};

TEST_F(DicodePipelineTest, ClipsFollowTheirSecondKeyframe) {
    std::atomic<bool> cancel{false};
    int previews = 0;
    JobContext ctx(
        7, [&](const Event& e) { previews += std::holds_alternative<PreviewReady>(e); }, &cancel);
    std::vector<std::string> trace;
    auto res = pipe_->generate(request(), ctx, [&](const DicodeProgress& p) {
        if (p.stage == DicodeProgress::Stage::Keyframe) {
            keyframes_seen_ = p.keyframe;
            EXPECT_EQ(p.preview_width, 4);
            EXPECT_EQ(p.preview_rgb.size(), 12u);
            trace.push_back("k" + std::to_string(p.keyframe) + "/" + std::to_string(p.keyframes));
        } else if (p.stage == DicodeProgress::Stage::Step) {
            EXPECT_EQ(p.preview_width, 8); // 4 frames of 2 side by side
            trace.push_back("c" + std::to_string(p.clip) + "s" + std::to_string(p.step) + "/" +
                            std::to_string(p.steps));
        } else {
            ASSERT_NE(p.clip_frames, nullptr);
            trace.push_back("clip" + std::to_string(p.clip) + "/" + std::to_string(p.clips));
        }
    });
    ASSERT_TRUE(res.ok()) << res.error();
    const std::vector<std::string> expected = {"k1/3", "k2/3",   "c1s1/3", "c1s2/3", "c1s3/3", "clip1/2",
                                               "k3/3", "c2s1/3", "c2s2/3", "c2s3/3", "clip2/2"};
    EXPECT_EQ(trace, expected);
    EXPECT_FALSE(res->cancelled);
    EXPECT_EQ(res->keyframes, 3);
    EXPECT_EQ(res->clips, 2);
    EXPECT_EQ(res->fps, 8);
    EXPECT_EQ(res->video.frames, 8);
    EXPECT_EQ(res->video.rgb.size(), 8u * 8 * 8 * 3);
    // 3 strips, 2 × 3 step previews, the last frame.
    EXPECT_EQ(previews, 3 + 6 + 1);

    ASSERT_EQ(decoder_->calls.size(), 2u);
    const size_t kd = 4 * 32;
    ASSERT_EQ(res->tokens.size(), 3 * kd);
    const std::vector<float> text = dicodeGolden("text_context"), uc = dicodeGolden("uc_img_tokens");
    for (size_t c = 0; c < 2; ++c) {
        const ClipCall& call = decoder_->calls[c];
        EXPECT_EQ(call.keyframes_when_called, static_cast<int64_t>(c + 2)) << "clip " << c;
        EXPECT_EQ(call.a,
                  std::vector<float>(res->tokens.begin() + c * kd, res->tokens.begin() + (c + 1) * kd));
        EXPECT_EQ(call.b,
                  std::vector<float>(res->tokens.begin() + (c + 1) * kd, res->tokens.begin() + (c + 2) * kd));
        EXPECT_EQ(call.text, text);
        EXPECT_EQ(call.uc, uc);
        EXPECT_EQ(call.options.steps, 3);
        EXPECT_DOUBLE_EQ(call.options.eta, 1.0);
        EXPECT_FLOAT_EQ(call.options.cfg, 7.5f);
        EXPECT_FLOAT_EQ(call.options.rescale, 0.7f);
        EXPECT_EQ(call.options.fs, 6);
        EXPECT_EQ(call.options.seed, dicodeClipSeed(1234, static_cast<int64_t>(c)));
    }
    EXPECT_NE(decoder_->calls[0].options.seed, decoder_->calls[1].options.seed);
}

TEST_F(DicodePipelineTest, TheTokenizedPromptEqualsItsIds) {
    std::atomic<bool> cancel{false};
    JobContext ctx(1, {}, &cancel);
    auto by_text = pipe_->generate(request(), ctx);
    ASSERT_TRUE(by_text.ok()) << by_text.error();
    DicodeRequest r = request();
    r.prompt.clear();
    r.prompt_ids = {1, 2, 3}; // "a cat runs" in the word-level vocabulary, stripped
    auto by_ids = pipe_->generate(r, ctx);
    ASSERT_TRUE(by_ids.ok()) << by_ids.error();
    EXPECT_EQ(by_text->tokens, by_ids->tokens);
    EXPECT_EQ(by_text->video.rgb, by_ids->video.rgb);
    r.seed = 99;
    auto other = pipe_->generate(r, ctx);
    ASSERT_TRUE(other.ok()) << other.error();
    EXPECT_NE(other->tokens, by_ids->tokens);
}

TEST_F(DicodePipelineTest, CancelInsideAStepReachesTheDecoder) {
    std::atomic<bool> cancel{false};
    JobContext ctx(1, {}, &cancel);
    auto res = pipe_->generate(request(), ctx, [&](const DicodeProgress& p) {
        if (p.stage == DicodeProgress::Stage::Keyframe) keyframes_seen_ = p.keyframe;
        if (p.stage == DicodeProgress::Stage::Step && p.clip == 2 && p.step == 2) cancel = true;
    });
    ASSERT_TRUE(res.ok()) << res.error();
    EXPECT_TRUE(res->cancelled);
    EXPECT_EQ(res->clips, 1);
    EXPECT_EQ(res->video.frames, 4);
    ASSERT_EQ(decoder_->calls.size(), 2u);
}

TEST_F(DicodePipelineTest, BadRequestsAreErrors) {
    std::atomic<bool> cancel{false};
    JobContext ctx(1, {}, &cancel);
    DicodeRequest r = request();
    r.keyframes = 1;
    auto one = pipe_->generate(r, ctx);
    ASSERT_FALSE(one.ok());
    EXPECT_NE(one.error().find("at least 2 keyframes"), std::string::npos) << one.error();
    r = request();
    r.keyframes = pipe_->maxKeyframes() + 1;
    auto many = pipe_->generate(r, ctx);
    ASSERT_FALSE(many.ok());
    EXPECT_NE(many.error().find("at most"), std::string::npos) << many.error();
    r = request();
    r.prompt_ids = {5000};
    EXPECT_FALSE(pipe_->generate(r, ctx).ok());
    EXPECT_TRUE(decoder_->calls.empty());
}

TEST(DicodePipelineLoad, MissingConstantsNameTheFileAndTensors) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    const std::string dir = makeFolder(false);
    int64_t seen = 0;
    auto p = DicodePipeline::load(dir, **be, std::make_unique<RecordingDecoder>(&seen));
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("dicode_constants.safetensors"), std::string::npos) << p.error();
    EXPECT_NE(p.error().find("text_context"), std::string::npos) << p.error();
    EXPECT_NE(p.error().find("uc_img_tokens"), std::string::npos) << p.error();
    // A constants file with a wrong shape names the tensor and the expected shape.
    const std::vector<float> small(10 * 32, 0.0f), uc(4 * 32, 0.0f);
    ASSERT_TRUE(
        train::writeSafetensorsF32((fs::path(dir) / kDicodeConstantsFile).string(),
                                   {{"text_context", {10, 32}, &small}, {"uc_img_tokens", {4, 32}, &uc}})
            .ok());
    p = DicodePipeline::load(dir, **be, std::make_unique<RecordingDecoder>(&seen));
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("'text_context' should be [77, 32]"), std::string::npos) << p.error();
    EXPECT_TRUE(DicodePipeline::isDicodeFolder(dir));
    EXPECT_FALSE(DicodePipeline::isDicodeFolder(std::string(TESSERA_TEST_DATA_DIR) + "/reference/gpt2_tiny"));
    fs::remove_all(dir);
}

// Tokens on a line t·u (plus a constant) have one principal component, proportional to t: red runs
// 0, 85, 170, 255 over four tokens; the other channels stay mid-grey (no variance left).
TEST(DicodePcaStrip, TokensOnALineGiveARamp) {
    const int64_t n = 4, d = 6;
    std::vector<float> tokens(n * d);
    const float u[d] = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, 1.0f};
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < d; ++i) tokens[t * d + i] = 3.0f + static_cast<float>(t) * u[i];
    const std::vector<uint8_t> rgb = dicodePcaStrip(tokens, n, d);
    ASSERT_EQ(rgb.size(), 12u);
    // The component's sign is arbitrary: accept the ramp either way.
    const bool up = rgb[0] < rgb[9];
    for (int64_t t = 0; t < n; ++t) {
        const int expected = static_cast<int>(up ? 85 * t : 255 - 85 * t);
        EXPECT_EQ(rgb[t * 3], expected) << t;
        EXPECT_EQ(rgb[t * 3 + 1], 128) << t;
        EXPECT_EQ(rgb[t * 3 + 2], 128) << t;
    }
}

TEST(DicodeRecipe, RoundTripsEveryField) {
    DicodeRequest r;
    r.prompt = "a cat";
    r.prompt_ids = {1, 2};
    r.keyframes = 4;
    r.seed = 18446744073709551615ull;
    r.var_scale = 0.02f;
    r.llm_cfg = 2.0f;
    r.ddim_steps = 7;
    r.eta = 0.5;
    r.cfg = 5.0f;
    r.rescale = 0.3f;
    r.fs = 4;
    DicodeResult res;
    res.video = {2, 1, 1, {1, 2, 3, 4, 5, 6}};
    res.clips = 3;
    const nlohmann::json j = dicodeRecipe(r, res, {"m", "h", "cpu", 2});
    auto back = parseDicodeRecipe(nlohmann::json::parse(j.dump()));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->request.prompt, "a cat");
    EXPECT_EQ(back->request.prompt_ids, r.prompt_ids);
    EXPECT_EQ(back->request.keyframes, 4);
    EXPECT_EQ(back->request.seed, r.seed);
    EXPECT_FLOAT_EQ(back->request.var_scale, 0.02f);
    EXPECT_FLOAT_EQ(back->request.llm_cfg, 2.0f);
    EXPECT_EQ(back->request.ddim_steps, 7);
    EXPECT_DOUBLE_EQ(back->request.eta, 0.5);
    EXPECT_FLOAT_EQ(back->request.cfg, 5.0f);
    EXPECT_FLOAT_EQ(back->request.rescale, 0.3f);
    EXPECT_EQ(back->request.fs, 4);
    EXPECT_EQ(back->info.threads, 2);
    EXPECT_EQ(back->frames, 2);
    // SHA-256 of the bytes 01..06, computed independently (sha256sum).
    EXPECT_EQ(back->frames_sha256, "7192385c3c0605de55bb9476ce1d90748190ecb32a8eed7f5207b30cf6a1fe89");
    EXPECT_FALSE(parseDicodeRecipe(nlohmann::json{{"method", "lumos-1"}}).ok());
    nlohmann::json bad = j;
    bad["ddim_steps"] = 0;
    EXPECT_FALSE(parseDicodeRecipe(bad).ok());
}

} // namespace
} // namespace tessera
