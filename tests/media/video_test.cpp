// tessera::media round trips: synthetic frames (a gradient with a moving square) written to every format
// and read back through probeVideo/readVideoFrames; cancel, bad folders and a full disk leave nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

#include "tessera/media/video.h"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::media;

namespace {

constexpr int kW = 96, kH = 64, kFrames = 8;

ImageRgb8 syntheticFrame(int i, int w = kW, int h = kH) {
    ImageRgb8 img;
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t* p = &img.rgb[(static_cast<size_t>(y) * w + x) * 3];
            p[0] = static_cast<uint8_t>(x * 255 / (w - 1));
            p[1] = static_cast<uint8_t>(y * 255 / (h - 1));
            p[2] = 96;
            const int sx = 4 + i * 8, sy = 16;
            if (x >= sx && x < sx + 16 && y >= sy && y < sy + 16) p[0] = p[1] = p[2] = 250;
        }
    return img;
}

double psnr(const ImageRgb8& a, const ImageRgb8& b) {
    double se = 0;
    for (size_t i = 0; i < a.rgb.size(); ++i) {
        const double d = static_cast<double>(a.rgb[i]) - b.rgb[i];
        se += d * d;
    }
    const double mse = se / static_cast<double>(a.rgb.size());
    return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

struct Scratch {
    fs::path dir;
    Scratch() {
        dir = fs::temp_directory_path() / ("tessera_media_test_" + std::to_string(getpid()) + "_" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~Scratch() { fs::remove_all(dir); }
    size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator())); }
};

const std::string kRecipe = "{\"method\":\"lumos1\",\"prompt\":\"a \\\"red\\\" fox\\nsnow — ünïcode\",\"seed\":42}";

std::vector<ImageRgb8> frames() {
    std::vector<ImageRgb8> f;
    for (int i = 0; i < kFrames; ++i) f.push_back(syntheticFrame(i));
    return f;
}

struct FormatCase {
    VideoFormat format;
    const char* name;
    const char* codec;
    double min_psnr; // dB; 99 = pixel-exact
};

class VideoRoundTrip : public ::testing::TestWithParam<FormatCase> {};

} // namespace

TEST_P(VideoRoundTrip, ProbeAndFramesMatchWhatWasWritten) {
    const FormatCase c = GetParam();
    Scratch s;
    const std::string out = (s.dir / (std::string("clip.") + c.name)).string();
    VideoExportOptions o;
    o.format = c.format;
    o.fps = Rational{25, 1};
    o.metadata[kRecipeKey] = kRecipe;
    o.metadata["title"] = "moving square";
    const auto src = frames();
    std::vector<int64_t> progress;
    ASSERT_TRUE(writeVideo(out, src, o, nullptr, [&](int64_t n) { progress.push_back(n); }).message().empty());
    EXPECT_EQ(progress.size(), static_cast<size_t>(kFrames));
    EXPECT_EQ(progress.back(), kFrames);
    // Only the output (and the GIF/WebP sidecar) remain: no temporary files.
    const bool sidecar = c.format == VideoFormat::Gif || c.format == VideoFormat::Webp;
    EXPECT_EQ(s.entries(), sidecar ? 2u : 1u);
    EXPECT_EQ(fs::exists(out + ".recipe.json"), sidecar);

    auto info = probeVideo(out);
    ASSERT_TRUE(info.ok()) << info.error();
    EXPECT_EQ(info->format, c.format);
    EXPECT_EQ(info->codec, c.codec);
    EXPECT_EQ(info->frames, kFrames);
    EXPECT_EQ(info->width, kW);
    EXPECT_EQ(info->height, kH);
    EXPECT_EQ(info->fps, (Rational{25, 1}));
    EXPECT_NEAR(info->duration_s, kFrames / 25.0, 0.011);
    EXPECT_EQ(info->metadata[kRecipeKey], kRecipe);
    EXPECT_EQ(info->metadata["title"], "moving square");

    auto back = readVideoFrames(out);
    ASSERT_TRUE(back.ok()) << back.error();
    ASSERT_EQ(back->size(), static_cast<size_t>(kFrames));
    for (int i = 0; i < kFrames; ++i) {
        const auto& f = (*back)[static_cast<size_t>(i)];
        ASSERT_EQ(f.width, kW);
        ASSERT_EQ(f.height, kH);
        const double q = psnr(f, src[static_cast<size_t>(i)]);
        if (c.min_psnr >= 99) {
            EXPECT_EQ(f.rgb, src[static_cast<size_t>(i)].rgb) << "frame " << i;
        } else {
            EXPECT_GE(q, c.min_psnr) << "frame " << i;
        }
        // In order: each decoded frame is closer to its own source than to its neighbours.
        if (i + 1 < kFrames) {
            EXPECT_GT(q, psnr(f, src[static_cast<size_t>(i + 1)]) + 1.0) << "frame " << i;
        }
        if (i > 0) {
            EXPECT_GT(q, psnr(f, src[static_cast<size_t>(i - 1)]) + 1.0) << "frame " << i;
        }
    }
    auto two = readVideoFrames(out, 2);
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(two->size(), 2u);
}

// Bounds: x264 crf 20, VP9 crf 31 and WebP quality 80 on a smooth gradient keep >= 30 dB; the GIF's
// fixed 3-3-2 palette with error diffusion keeps >= 20 dB; PNG is exact.
INSTANTIATE_TEST_SUITE_P(Formats, VideoRoundTrip,
                         ::testing::Values(FormatCase{VideoFormat::Mp4H264, "mp4", "h264", 30},
                                           FormatCase{VideoFormat::WebmVp9, "webm", "vp9", 30},
                                           FormatCase{VideoFormat::Gif, "gif", "gif", 20},
                                           FormatCase{VideoFormat::Webp, "webp", "webp", 30},
                                           FormatCase{VideoFormat::PngSequence, "png", "png", 99}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VideoWriter, ScalingKeepsAspect) {
    Scratch s;
    VideoExportOptions o;
    o.width = 48;
    const std::string out = (s.dir / "half.mp4").string();
    ASSERT_TRUE(writeVideo(out, frames(), o).ok());
    auto info = probeVideo(out);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->width, 48);
    EXPECT_EQ(info->height, 32);
}

TEST(VideoWriter, CancelFlagMidwayLeavesNoFile) {
    for (auto f : {VideoFormat::Mp4H264, VideoFormat::Gif, VideoFormat::PngSequence}) {
        Scratch s;
        std::atomic<bool> cancel{false};
        VideoExportOptions o;
        o.format = f;
        o.metadata[kRecipeKey] = kRecipe;
        const std::string out = (s.dir / "c.out").string();
        Status st = writeVideo(out, frames(), o, &cancel, [&](int64_t n) {
            if (n == 3) cancel = true;
        });
        EXPECT_FALSE(st.ok());
        EXPECT_NE(st.message().find("cancelled"), std::string::npos) << st.message();
        EXPECT_EQ(s.entries(), 0u) << formatName(f);
    }
}

TEST(VideoWriter, CancelCallAndDestructorLeaveNoFile) {
    Scratch s;
    const std::string out = (s.dir / "x.webm").string();
    {
        VideoWriter w;
        VideoExportOptions o;
        o.format = VideoFormat::WebmVp9;
        ASSERT_TRUE(w.open(out, o, kW, kH).ok());
        ASSERT_TRUE(w.addFrame(syntheticFrame(0)).ok());
        EXPECT_EQ(s.entries(), 1u); // the temporary
        EXPECT_FALSE(fs::exists(out));
        w.cancel();
        EXPECT_EQ(s.entries(), 0u);
        ASSERT_TRUE(w.open(out, o, kW, kH).ok());
        ASSERT_TRUE(w.addFrame(syntheticFrame(0)).ok());
    } // destroyed unfinished
    EXPECT_EQ(s.entries(), 0u);
}

TEST(VideoWriter, ExistingFileReplacedOnlyAtFinish) {
    Scratch s;
    const std::string out = (s.dir / "v.mp4").string();
    { std::ofstream(out) << "old"; }
    VideoWriter w;
    ASSERT_TRUE(w.open(out, VideoExportOptions{}, kW, kH).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.addFrame(syntheticFrame(i)).ok());
    EXPECT_EQ(fs::file_size(out), 3u);
    ASSERT_TRUE(w.finish().ok());
    auto info = probeVideo(out);
    ASSERT_TRUE(info.ok()) << info.error();
    EXPECT_EQ(info->frames, 3);
}

TEST(VideoWriter, BadInputGivesClearErrors) {
    Scratch s;
    VideoWriter w;
    VideoExportOptions o;
    o.fps = Rational{0, 1};
    EXPECT_NE(w.open((s.dir / "a.mp4").string(), o, kW, kH).message().find("frame rate"), std::string::npos);
    o = {};
    o.quality = 101;
    EXPECT_NE(w.open((s.dir / "a.mp4").string(), o, kW, kH).message().find("quality"), std::string::npos);
    o = {};
    o.metadata["Bad Key"] = "x";
    EXPECT_NE(w.open((s.dir / "a.mp4").string(), o, kW, kH).message().find("Bad Key"), std::string::npos);
    o = {};
    ASSERT_TRUE(w.open((s.dir / "a.mp4").string(), o, kW, kH).ok());
    Status st = w.addFrame(syntheticFrame(0, 32, 32));
    EXPECT_NE(st.message().find("32x32"), std::string::npos) << st.message();
    EXPECT_EQ(s.entries(), 0u);
    EXPECT_FALSE(probeVideo((s.dir / "missing.mp4").string()).ok());
    { std::ofstream(s.dir / "junk.mp4") << "not a video"; }
    EXPECT_FALSE(probeVideo((s.dir / "junk.mp4").string()).ok());
    EXPECT_FALSE(readVideoFrames((s.dir / "junk.mp4").string()).ok());
}

TEST(VideoWriter, UnwritableFolderGivesClearError) {
    Scratch s;
    // A regular file where a folder should be: fails for every user, root included.
    { std::ofstream(s.dir / "file") << "x"; }
    for (auto f : {VideoFormat::Mp4H264, VideoFormat::PngSequence}) {
        VideoExportOptions o;
        o.format = f;
        Status st = writeVideo((s.dir / "file" / "out.mp4").string(), frames(), o);
        EXPECT_FALSE(st.ok());
        EXPECT_NE(st.message().find("folder"), std::string::npos) << st.message();
    }
    if (geteuid() != 0) { // permissions bind only non-root users
        fs::create_directory(s.dir / "ro");
        fs::permissions(s.dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
        Status st = writeVideo((s.dir / "ro" / "out.mp4").string(), frames(), VideoExportOptions{});
        EXPECT_FALSE(st.ok());
        EXPECT_NE(st.message().find("cannot create"), std::string::npos) << st.message();
        fs::permissions(s.dir / "ro", fs::perms::owner_all);
    }
}

// A file-size limit makes writes fail with EFBIG, as a full disk fails them with ENOSPC.
TEST(VideoWriter, FullDiskGivesErrorAndLeavesNothing) {
    Scratch s;
    std::vector<ImageRgb8> noisy;
    uint32_t state = 12345;
    for (int i = 0; i < 6; ++i) {
        ImageRgb8 img = syntheticFrame(0, 256, 256);
        for (auto& v : img.rgb) v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
        noisy.push_back(std::move(img));
    }
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    rlimit tiny = old;
    tiny.rlim_cur = 64 * 1024;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    std::vector<std::pair<VideoFormat, Status>> results;
    for (auto f : {VideoFormat::Mp4H264, VideoFormat::WebmVp9, VideoFormat::PngSequence}) {
        VideoExportOptions o;
        o.format = f;
        o.quality = 100;
        results.emplace_back(f, writeVideo((s.dir / "full.out").string(), noisy, o));
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    for (const auto& [f, st] : results) {
        EXPECT_FALSE(st.ok()) << formatName(f);
        EXPECT_FALSE(st.message().empty());
    }
    EXPECT_EQ(s.entries(), 0u);
}

// A 388-byte WebP (found by fuzzing) whose header claims a canvas of billions of pixels: libwebp's
// decoder would allocate the whole canvas (8 GB) before looking further. It is refused by its size.
TEST(VideoReader, RefusesAWebpCanvasBeyondTheBound) {
    const std::string path = std::string(TESSERA_TEST_DATA_DIR) + "/../fuzz/seeds/video/huge-canvas.webp";
    ASSERT_TRUE(fs::exists(path));
    auto info = probeVideo(path);
    ASSERT_FALSE(info.ok());
    EXPECT_NE(info.error().find("beyond what Tessera reads"), std::string::npos) << info.error();
    auto frames = readVideoFrames(path, 1);
    EXPECT_FALSE(frames.ok());
}
