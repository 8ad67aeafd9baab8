// Lumos-1 frames decoded as they are committed (LumosFrameDecoding) against one decode of the whole clip
// at the end with the same Cosmos tokenizer (reference/cosmos_tiny, whose decoder `tessera-cli verify`
// checks against the official code): Cosmos is causal in time, so the pixels a latent frame adds must
// not depend on the frames after it. Also: the tokens do not change when frames are decoded, I2V reports
// its given frame first, and a decode failure ends the run with a message.
#include "tessera/engine/bench.h"
#include "tessera/engine/cosmos.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {

namespace {

const std::string kCosmos = std::string(TESSERA_TEST_DATA_DIR) + "/reference/cosmos_tiny";

class LumosFrameDecodeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = (fs::temp_directory_path() / ("tessera_lumos_frames_" + std::to_string(::getpid()))).string();
        auto cfg = lumosPresetConfig("lumos-tiny");
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        Status st = bench::writeRandomCheckpoint(*cfg, dir_, 11);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // 64x32 pixels (4x8 latent cells); 8 frames at 4 fps: ceil(7/4) + 1 = 3 latent frames = 9 pixel frames.
    static LumosRequest request(uint64_t seed) {
        LumosRequest r;
        r.prompt_ids = {5, 6, 7};
        r.width = 64;
        r.height = 32;
        r.fps = 4;
        r.duration_s = 2;
        r.steps = 3;
        r.seed = seed;
        return r;
    }

    static std::string dir_;
};

std::string LumosFrameDecodeTest::dir_;

struct Loaded {
    std::unique_ptr<Backend> be;
    std::unique_ptr<LumosPipeline> pipeline;
    std::unique_ptr<CosmosTokenizer> tokenizer;
};

Loaded load(const std::string& dir, bool with_encoder = false) {
    Loaded r;
    auto be = createBackend("cpu", 1);
    EXPECT_TRUE(be.ok());
    r.be = std::move(*be);
    auto p = LumosPipeline::load(dir, *r.be);
    EXPECT_TRUE(p.ok()) << p.error();
    r.pipeline = std::move(*p);
    auto t = CosmosTokenizer::load(kCosmos, *r.be, with_encoder);
    EXPECT_TRUE(t.ok()) << t.error();
    r.tokenizer = std::move(*t);
    return r;
}

} // namespace

TEST_F(LumosFrameDecodeTest, CommittedFramesEqualTheWholeClipDecodedAtTheEnd) {
    Loaded run = load(dir_);
    ASSERT_TRUE(run.pipeline && run.tokenizer);
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    std::vector<LumosDecodedFrame> frames;
    int64_t steps_seen = 0;
    LumosFrameDecoding fd;
    fd.tokenizer = run.tokenizer.get();
    fd.on_frame = [&](const LumosDecodedFrame& f) {
        // A frame is reported right after its last step, before the next frame's first step.
        EXPECT_EQ(steps_seen, (f.latent_frame + 1) * 3);
        frames.push_back(f);
    };
    auto res = run.pipeline->generate(
        request(5), ctx, [&](const LumosProgress&) { ++steps_seen; }, fd);
    ASSERT_TRUE(res.ok()) << res.error();
    ASSERT_EQ(res->shape.latent_frames, 3);
    ASSERT_EQ(frames.size(), 3u);

    // The oracle: the whole clip decoded once, as `tessera-cli generate-video` does.
    auto whole = run.tokenizer->decode(*run.be, res->codes, 3, 4, 8);
    ASSERT_TRUE(whole.ok()) << whole.error();
    ASSERT_EQ(whole->frames, 9);
    const size_t per_frame = static_cast<size_t>(32 * 64 * 3);
    int64_t next_video_frame = 0;
    for (size_t t = 0; t < frames.size(); ++t) {
        const LumosDecodedFrame& f = frames[t];
        EXPECT_EQ(f.latent_frame, static_cast<int64_t>(t));
        EXPECT_EQ(f.latent_frames, 3);
        EXPECT_EQ(f.first_video_frame, next_video_frame);
        EXPECT_EQ(f.pixels.frames, t == 0 ? 1 : 4);
        EXPECT_EQ(f.pixels.height, 32);
        EXPECT_EQ(f.pixels.width, 64);
        EXPECT_EQ(std::vector<int32_t>(res->codes.begin() + static_cast<std::ptrdiff_t>(t * 32),
                                       res->codes.begin() + static_cast<std::ptrdiff_t>((t + 1) * 32)),
                  f.codes);
        ASSERT_EQ(f.pixels.rgb.size(), static_cast<size_t>(f.pixels.frames) * per_frame);
        // Bit-identical: same ops on the same inputs for every output the prefix shares with the clip.
        const float* expected = whole->rgb.data() + static_cast<size_t>(f.first_video_frame) * per_frame;
        size_t differing = 0;
        float worst = 0;
        for (size_t i = 0; i < f.pixels.rgb.size(); ++i) {
            if (std::memcmp(&f.pixels.rgb[i], &expected[i], sizeof(float)) != 0) ++differing;
            worst = std::max(worst, std::fabs(f.pixels.rgb[i] - expected[i]));
        }
        EXPECT_EQ(differing, 0u) << "latent frame " << t << ": largest difference " << worst;
        next_video_frame += f.pixels.frames;
    }
    EXPECT_EQ(next_video_frame, 9);

    // The decoded pixels are not a constant picture (the tokenizer really ran on the codes).
    float lo = 1e9f, hi = -1e9f;
    for (float v : frames[2].pixels.rgb) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GT(hi - lo, 0.05f);

    // Decoding on the way changes no token.
    JobContext ctx2(2, {}, &never);
    auto plain = run.pipeline->generate(request(5), ctx2);
    ASSERT_TRUE(plain.ok()) << plain.error();
    EXPECT_EQ(plain->codes, res->codes);
}

TEST_F(LumosFrameDecodeTest, ImageToVideoReportsTheGivenFrameFirst) {
    Loaded run = load(dir_);
    ASSERT_TRUE(run.pipeline && run.tokenizer);
    LumosRequest req = request(9);
    req.task = LumosTask::ImageToVideo;
    req.latent_frames = 2;
    for (int i = 0; i < 32; ++i) req.first_frame_codes.push_back((i * 1999 + 7) % 64000);
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    std::vector<LumosDecodedFrame> frames;
    int64_t steps_seen = 0;
    LumosFrameDecoding fd;
    fd.tokenizer = run.tokenizer.get();
    fd.on_frame = [&](const LumosDecodedFrame& f) {
        if (f.latent_frame == 0) {
            EXPECT_EQ(steps_seen, 0); // before any step
        }
        frames.push_back(f);
    };
    auto res = run.pipeline->generate(
        req, ctx, [&](const LumosProgress&) { ++steps_seen; }, fd);
    ASSERT_TRUE(res.ok()) << res.error();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].codes, req.first_frame_codes);
    EXPECT_EQ(frames[0].pixels.frames, 1);
    EXPECT_EQ(frames[1].first_video_frame, 1);
    auto first = run.tokenizer->decode(*run.be, req.first_frame_codes, 1, 4, 8);
    ASSERT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(first->rgb, frames[0].pixels.rgb);
}

TEST_F(LumosFrameDecodeTest, ADecodeFailureEndsTheRunWithAMessage) {
    Loaded run = load(dir_);
    ASSERT_TRUE(run.pipeline && run.tokenizer);
    // Weights on another backend: the tokenizer refuses to decode with the pipeline's backend.
    auto other = createBackend("cpu", 1);
    ASSERT_TRUE(other.ok());
    auto tok = CosmosTokenizer::load(kCosmos, **other, false);
    ASSERT_TRUE(tok.ok()) << tok.error();
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    LumosFrameDecoding fd;
    fd.tokenizer = tok->get();
    auto res = run.pipeline->generate(request(3), ctx, {}, fd);
    ASSERT_FALSE(res.ok());
    EXPECT_NE(res.error().find("decoding latent frame 0"), std::string::npos) << res.error();
}

} // namespace tessera
