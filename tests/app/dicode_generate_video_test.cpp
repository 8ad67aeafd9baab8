// DiCoDe end to end on the CPU: a tiny DiCoDe folder assembled from the reference set (dicode_tiny's
// config.json and model.safetensors with the LLM, U-Net and VAE under official names; the "" text
// context and the unconditional image tokens from its golden file; a word-level tokenizer.json), run
// through `tessera-cli generate-video`: 3 keyframes give 2 clips of 4 frames, the MP4 reads back in
// ffprobe with 8 frames at 8 fps and the recipe, replay reproduces the frames byte for byte, --project
// stores the run once; and a cancel during a DDIM step stops the real decoder within that step.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode_pipeline.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/image.h"
#include "tessera/engine/train_loop.h"
#include "support/dicode_tiny_folder.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kCli = std::string(TESSERA_BINARY_DIR) + "/bin/tessera-cli";

// Runs a command; its stdout and exit status.
std::pair<std::string, int> run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {"", -1};
    std::array<char, 4096> buf{};
    size_t got = 0;
    while ((got = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), got);
    const int rc = ::pclose(p);
    return {out, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1};
}

class DicodeEndToEnd : public ::testing::Test {
protected:
    void SetUp() override {
        work_ = fs::temp_directory_path() / ("dicode_e2e_" + std::to_string(::getpid()));
        fs::remove_all(work_);
        model_ = work_ / "dicode-tiny";
        test::writeTinyDicodeFolder(model_);
    }
    void TearDown() override { fs::remove_all(work_); }

    std::string generate(const std::string& out, const std::string& extra = "") {
        return kCli + " generate-video --model " + model_.string() +
               " --prompt 'a cat runs' --keyframes 3 --ddim-steps 3 --seed 11 --threads 2 --out " +
               (work_ / out).string() + " --json " + extra + " 2>&1";
    }

    std::vector<ImageRgb8> frames(const std::string& out, int count) {
        std::vector<ImageRgb8> f;
        for (int i = 0; i < count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "frame-%03d.png", i);
            auto img = readPng((work_ / out / name).string());
            EXPECT_TRUE(img.ok()) << img.error();
            if (img.ok()) f.push_back(std::move(*img));
        }
        return f;
    }

    fs::path work_, model_;
};

TEST_F(DicodeEndToEnd, TwoClipsToAnMp4ThatReplaysExactly) {
    auto [out, rc] = run(generate("first"));
    ASSERT_EQ(rc, 0) << out;
    const nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')));
    EXPECT_EQ(j["keyframes"], 3);
    EXPECT_EQ(j["clips"], 2);
    EXPECT_EQ(j["frames"], 8); // 2 clips × 4 frames at the tiny size
    EXPECT_EQ(j["width"], 32);
    EXPECT_EQ(j["height"], 32);
    EXPECT_EQ(j["cancelled"], false);
    const std::string mp4 = (work_ / "first" / "video.mp4").string();
    ASSERT_TRUE(fs::exists(mp4));
    EXPECT_TRUE(fs::exists(work_ / "first" / "keyframe-strips.png"));

    // FFmpeg's own reader: 8 frames of 32×32 at 8 fps, and the recipe in the metadata.
    auto [probe, prc] =
        run("ffprobe -v error -count_packets -select_streams v:0 -show_entries "
            "stream=width,height,avg_frame_rate,nb_read_packets:format_tags=tessera -of default=nw=1 " +
            mp4);
    ASSERT_EQ(prc, 0) << "ffprobe (Debian package ffmpeg) is needed: " << probe;
    EXPECT_NE(probe.find("width=32\n"), std::string::npos) << probe;
    EXPECT_NE(probe.find("height=32\n"), std::string::npos) << probe;
    EXPECT_NE(probe.find("avg_frame_rate=8/1\n"), std::string::npos) << probe;
    EXPECT_NE(probe.find("nb_read_packets=8\n"), std::string::npos) << probe;
    EXPECT_NE(probe.find("TAG:tessera={"), std::string::npos) << probe;
    EXPECT_NE(probe.find("\"method\":\"dicode\""), std::string::npos) << probe;
    EXPECT_NE(probe.find("\"keyframes\":3"), std::string::npos) << probe;
    EXPECT_NE(probe.find("\"ddim_steps\":3"), std::string::npos) << probe;

    // Replay from the MP4 alone, on one thread: the same frames, byte for byte.
    auto [rep, rrc] = run(kCli + " generate-video --replay " + mp4 + " --threads 1 --out " +
                          (work_ / "replay").string() + " --json 2>&1");
    ASSERT_EQ(rrc, 0) << rep;
    EXPECT_NE(rep.find("\"replay_identical\":true"), std::string::npos) << rep;
    const auto a = frames("first", 8), b = frames("replay", 8);
    ASSERT_EQ(a.size(), 8u);
    ASSERT_EQ(b.size(), 8u);
    bool varied = false;
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].rgb, b[i].rgb) << "frame " << i;
        varied |= a[i].rgb != a[0].rgb;
    }
    EXPECT_TRUE(varied) << "all frames are the same picture";
    EXPECT_FALSE(fs::exists(work_ / "replay" / "frame-008.png"));

    // Another seed gives another video.
    auto [other, orc] = run(kCli + " generate-video --model " + model_.string() +
                            " --prompt 'a cat runs' --keyframes 3 --ddim-steps 3 --seed 12 --out " +
                            (work_ / "other").string() + " --json 2>&1");
    ASSERT_EQ(orc, 0) << other;
    EXPECT_NE(frames("other", 8)[0].rgb, a[0].rgb);
}

TEST_F(DicodeEndToEnd, ProjectStoresTheRunOnce) {
    auto [out, rc] = run(generate("p1", "--project " + (work_ / "proj").string()));
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("\"project_stored\":true"), std::string::npos) << out;
    auto [again, arc] =
        run(kCli + " generate-video --replay " + (work_ / "p1" / "recipe.json").string() + " --out " +
            (work_ / "p2").string() + " --project " + (work_ / "proj").string() + " --json 2>&1");
    ASSERT_EQ(arc, 0) << again;
    EXPECT_NE(again.find("\"project_stored\":false"), std::string::npos) << again;
}

TEST_F(DicodeEndToEnd, BadInputIsAUsageError) {
    auto [one, rc1] = run(generate("bad", "--keyframes 1"));
    EXPECT_NE(rc1, 0) << one;
    auto [lumos, rc2] = run(generate("bad", "--image-mode"));
    EXPECT_EQ(rc2, 2) << lumos;
    EXPECT_NE(lumos.find("Lumos-1 option"), std::string::npos) << lumos;
    fs::remove(model_ / kDicodeConstantsFile);
    auto [missing, rc3] = run(generate("bad"));
    EXPECT_EQ(rc3, 1) << missing;
    EXPECT_NE(missing.find("uc_img_tokens"), std::string::npos) << missing;
}

TEST_F(DicodeEndToEnd, CancelStopsWithinAStep) {
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto p = DicodePipeline::load(model_.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    DicodeRequest r;
    r.prompt = "a cat runs";
    r.keyframes = 3;
    r.ddim_steps = 4;
    r.seed = 3;
    std::atomic<bool> cancel{false};
    JobContext ctx(1, {}, &cancel);
    int64_t steps_after_cancel = -1;
    auto res = (*p)->generate(r, ctx, [&](const DicodeProgress& pr) {
        if (pr.stage != DicodeProgress::Stage::Step) return;
        if (cancel) ++steps_after_cancel;
        if (pr.clip == 1 && pr.step == 2) {
            cancel = true;
            steps_after_cancel = 0;
        }
    });
    ASSERT_TRUE(res.ok()) << res.error();
    EXPECT_TRUE(res->cancelled);
    EXPECT_EQ(res->clips, 0);
    EXPECT_EQ(res->video.frames, 0);
    EXPECT_EQ(res->keyframes, 2); // the LLM stopped before keyframe 3
    EXPECT_EQ(steps_after_cancel, 0);
}

} // namespace
} // namespace tessera
