// The studio's video side on the offscreen platform, with a tiny random Lumos-1 checkpoint (lumos-tiny,
// random weights) and the cosmos_tiny tokenizer: a video job runs through the real scheduler with
// progress and cancel; the video view shows every clip frame, scrubbing frames and steps changes what
// it shows; the finished job is recorded in a project as a video with its strip; the export writes
// files FFmpeg's ffprobe (MP4, WebM, GIF) and Tessera's reader (every format) read back.
#include "tessera/engine/bench.h"
#include "tessera/engine/cosmos.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"
#include "tessera/media/video.h"
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "tessera/widgets/video_controller.h"
#include "tessera/widgets/video_export.h"
#include "tessera/widgets/video_generator.h"
#include "tessera/widgets/video_view.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QDir>
#include <QProcess>
#include <QPushButton>
#include <QSlider>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QToolButton>
#include <QUndoStack>
#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

const std::string kCosmos = std::string(TESSERA_TEST_DATA_DIR) + "/reference/cosmos_tiny";

// 64x32 pixels (a 4x8 latent grid), 8 frames at 4 fps: 3 latent frames = 1 + 4 + 4 = 9 clip frames.
LumosGeneratorOptions tinyOptions(int64_t steps = 3) {
    LumosGeneratorOptions o;
    o.width = 64;
    o.height = 32;
    o.fps = 4;
    o.duration_s = 2;
    o.steps = steps;
    o.tokenizer_dir = kCosmos;
    return o;
}

class VideoViewTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        test::app();
        dir_ = new QTemporaryDir;
        auto cfg = lumosPresetConfig("lumos-tiny");
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        Status st = bench::writeRandomCheckpoint(*cfg, dir_->filePath("lumos").toStdString(), 21);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string model() { return dir_->filePath("lumos").toStdString(); }
    static QTemporaryDir* dir_;
};

QTemporaryDir* VideoViewTest::dir_ = nullptr;

bool terminal(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}

int differingPixels(const QImage& a, const QImage& b) {
    if (a.size() != b.size()) return -1;
    int n = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x) n += a.pixel(x, y) != b.pixel(x, y);
    return n;
}

} // namespace

TEST_F(VideoViewTest, AVideoJobFillsTheViewScrubsAndLandsInTheHistory) {
    EngineBridge bridge(1);
    StudioController studio(&bridge);
    VideoController videos(&studio);
    VideoView view(&videos);
    view.resize(900, 500);
    view.show();
    QTemporaryDir project;
    auto source = openProjectHistory(project.path(), true);
    ASSERT_TRUE(source.ok()) << source.error();
    HistorySource* history = source->get();
    HistoryPanel panel;
    QUndoStack undo;
    HistoryController history_controller(&studio, &panel, &undo);
    history_controller.setSource(source->release());

    auto gen = loadLumosGenerator(model(), tinyOptions());
    ASSERT_TRUE(gen.ok()) << gen.error();
    studio.setGenerator(*gen);
    EXPECT_TRUE(studio.generator()->info().video);
    EXPECT_TRUE(studio.generator()->info().note.contains("untrained"));

    GenerationSettings s;
    s.prompt = "a red cube turning";
    s.seed = 5;
    std::vector<std::pair<int, int>> steps_seen; // (latent frame, step) as the view got them
    QObject::connect(&videos, &VideoController::stepArrived, [&](qint64, int f, int st) {
        steps_seen.push_back({f, st});
    });
    const int64_t id = studio.generate(s);
    ASSERT_GT(id, 0);
    view.showVideo(id);
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(id)); }, 60000));
    const Generation* g = studio.generation(id);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    ASSERT_TRUE(g->video);
    EXPECT_EQ(g->kind, "video");

    // Progress: every step of every latent frame, in order.
    ASSERT_EQ(steps_seen.size(), 9u);
    for (size_t i = 0; i < steps_seen.size(); ++i)
        EXPECT_EQ(steps_seen[i], std::make_pair(static_cast<int>(i / 3), static_cast<int>(i % 3) + 1));

    // The view shows N = 9 frames, each a real Cosmos decode (the same as decoding the codes here).
    const VideoRecord* r = videos.record(id);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(r->done);
    EXPECT_EQ(r->clipFrames(), 9);
    ASSERT_EQ(r->frames.size(), 9u);
    EXPECT_EQ(view.frameScrubber()->maximum(), 8);
    ASSERT_EQ(g->video->codes.size(), 3u * 32u);
    {
        auto be = createBackend("cpu", 1);
        ASSERT_TRUE(be.ok());
        auto tok = CosmosTokenizer::load(kCosmos, **be, false);
        ASSERT_TRUE(tok.ok()) << tok.error();
        auto whole = (*tok)->decode(**be, g->video->codes, 3, 4, 8);
        ASSERT_TRUE(whole.ok()) << whole.error();
        const QImage last = r->frames[8].convertToFormat(QImage::Format_RGB888);
        const float* px = whole->rgb.data() + 8 * 32 * 64 * 3;
        int far = 0;
        for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 64; ++x)
                for (int c = 0; c < 3; ++c) {
                    const float expected =
                        std::clamp((px[(y * 64 + x) * 3 + c] + 1.0f) * 127.5f, 0.0f, 255.0f);
                    far += std::abs(static_cast<float>(last.constScanLine(y)[x * 3 + c]) - expected) > 1.0f;
                }
        EXPECT_EQ(far, 0);
    }

    // Scrubbing frames changes the shown frame and the latent frame the mosaic shows.
    view.frameScrubber()->setValue(0);
    const QImage first = view.frameImage();
    EXPECT_EQ(view.latentFrame(), 0);
    EXPECT_EQ(view.mosaic()->tokenAt(0), g->video->codes[0]);
    view.frameScrubber()->setValue(8);
    const QImage last = view.frameImage();
    EXPECT_EQ(view.latentFrame(), 2);
    EXPECT_EQ(view.mosaic()->tokenAt(5), g->video->codes[2 * 32 + 5]);
    ASSERT_FALSE(first.isNull());
    ASSERT_FALSE(last.isNull());
    EXPECT_GT(differingPixels(first, last), 0);
    EXPECT_EQ(view.mosaic()->sampledCount(), 32);

    // The step scrubber replays the frame's MaskGIT steps: fewer cells kept early on. With 3 steps of
    // 32 cells the cosine schedule keeps 32 − floor(32·cos(π/6)) = 5 after step 1 and
    // 32 − floor(32·cos(π/3)) = 16 after step 2 (the pipeline tests pin the schedule itself).
    EXPECT_EQ(view.stepScrubber()->maximum(), 3);
    view.stepScrubber()->setValue(1);
    EXPECT_EQ(view.mosaic()->sampledCount(), 5);
    view.stepScrubber()->setValue(2);
    EXPECT_EQ(view.mosaic()->sampledCount(), 16);
    view.stepScrubber()->setValue(3);
    EXPECT_EQ(view.mosaic()->sampledCount(), 32);

    // The cell inspector shows a cell's statistics and alternatives.
    QTest::mouseClick(view.mosaic(), Qt::LeftButton, {}, view.mosaic()->cellCenter(3));
    EXPECT_EQ(view.mosaic()->selected(), 3);
    EXPECT_GT(view.inspector()->alternativeCount(), 0);
    EXPECT_FALSE(view.inspector()->branchButton()->isEnabled());

    // Play advances frames on a timer; pause stops it.
    view.frameScrubber()->setValue(0);
    view.playButton()->click();
    EXPECT_TRUE(view.playing());
    ASSERT_TRUE(waitFor([&] { return view.clipFrame() >= 2; }, 5000));
    view.playButton()->click();
    EXPECT_FALSE(view.playing());

    // The history (a project) lists it as a video with its strip; its codes and MP4 are stored.
    std::vector<HistoryEntry> entries;
    ASSERT_TRUE(waitFor(
        [&] {
            bool got = false;
            history->query({}, [&](std::vector<HistoryEntry> e) {
                entries = std::move(e);
                got = true;
            });
            if (!waitFor([&] { return got; }, 5000)) return false;
            return !entries.empty();
        },
        20000));
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].kind, "video");
    EXPECT_EQ(entries[0].video_frames, 9);
    EXPECT_EQ(entries[0].token_count, 96);
    ASSERT_FALSE(entries[0].thumbnail.isNull());
    EXPECT_EQ(entries[0].thumbnail.height(), 48);
    EXPECT_EQ(entries[0].thumbnail.width(), 4 * 96); // four 2:1 frames side by side
    // Loading it back gives the clip (frames from its MP4) and the same codes.
    std::optional<Generation> loaded;
    bool got = false;
    history->load(entries[0].id, [&](std::optional<Generation> l) {
        loaded = std::move(l);
        got = true;
    });
    ASSERT_TRUE(waitFor([&] { return got; }, 10000));
    ASSERT_TRUE(loaded && loaded->video);
    EXPECT_EQ(loaded->kind, "video");
    EXPECT_EQ(loaded->video->codes, g->video->codes);
    EXPECT_EQ(loaded->video->frames.size(), 9u);
    EXPECT_EQ(loaded->video->lat_h, 4);
    EXPECT_EQ(loaded->video->lat_w, 8);
    // Adopted into the studio it gets a record the view can show.
    const int64_t adopted = studio.adopt(*loaded);
    ASSERT_NE(videos.record(adopted), nullptr);
    view.showVideo(adopted);
    EXPECT_EQ(view.frameScrubber()->maximum(), 8);
    EXPECT_FALSE(view.frameImage().isNull());

    // Export: every format, off the GUI thread; ffprobe reads the MP4, WebM and GIF.
    QTemporaryDir out;
    for (const auto& [format, label] : videoExportFormats()) {
        VideoExportRequest req;
        req.format = format;
        req.path = out.filePath(format == "png" ? "frames" : "clip." + format);
        bool done = false, ok = false;
        QString message;
        int progress_calls = 0;
        exportVideoAsync(
            g->video, req, &view, [&](int, int total) { progress_calls += total == 9; },
            [&](bool o, QString m) {
                done = true;
                ok = o;
                message = m;
            });
        ASSERT_TRUE(waitFor([&] { return done; }, 30000)) << format.toStdString();
        ASSERT_TRUE(ok) << format.toStdString() << ": " << message.toStdString();
        EXPECT_EQ(progress_calls, 9) << format.toStdString();
        auto info = media::probeVideo(req.path.toStdString() + (format == "png" ? "/" : ""));
        ASSERT_TRUE(info.ok()) << info.error();
        EXPECT_EQ(info->frames, 9) << format.toStdString();
        EXPECT_NE(info->metadata["tessera"].find("lumos-1"), std::string::npos) << format.toStdString();
    }
    const QString ffprobe = QStandardPaths::findExecutable("ffprobe");
    ASSERT_FALSE(ffprobe.isEmpty()) << "ffprobe (Debian package ffmpeg, in ./tessera's list) is needed";
    for (const char* name : {"clip.mp4", "clip.webm", "clip.gif"}) {
        QProcess p;
        p.start(ffprobe, {"-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,nb_read_packets", "-of", "default=nw=1", out.filePath(name)});
        ASSERT_TRUE(p.waitForFinished(30000));
        const QString text = QString::fromUtf8(p.readAllStandardOutput());
        EXPECT_EQ(p.exitCode(), 0) << name;
        EXPECT_TRUE(text.contains("width=64")) << name << ": " << text.toStdString();
        EXPECT_TRUE(text.contains("height=32")) << name << ": " << text.toStdString();
        EXPECT_TRUE(text.contains("nb_read_packets=9")) << name << ": " << text.toStdString();
    }
}

TEST_F(VideoViewTest, CancelStopsAVideoJobWithinAStep) {
    EngineBridge bridge(1);
    StudioController studio(&bridge);
    VideoController videos(&studio);
    auto gen = loadLumosGenerator(model(), tinyOptions(40));
    ASSERT_TRUE(gen.ok()) << gen.error();
    studio.setGenerator(*gen);
    GenerationSettings s;
    s.prompt = "a long one";
    s.seed = 9;
    int finished = 0;
    QObject::connect(&studio, &StudioController::finished, [&](qint64) { ++finished; });
    const int64_t id = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return videos.record(id) && videos.record(id)->stepsDone(0) >= 2; }, 60000));
    studio.cancel(id);
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(id)); }, 30000));
    EXPECT_EQ(studio.generation(id)->state, JobState::Cancelled);
    EXPECT_EQ(finished, 1);
    // It stopped long before the 120 steps of its three latent frames.
    EXPECT_LT(videos.record(id)->stepsDone(0) + videos.record(id)->stepsDone(1), 40);
}

TEST_F(VideoViewTest, BadOptionsAndFoldersAreClearErrors) {
    LumosGeneratorOptions o = tinyOptions();
    o.width = 65;
    auto bad = loadLumosGenerator(model(), o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("multiples of 32"), std::string::npos) << bad.error();
    auto nofolder = loadLumosGenerator("/nonexistent/lumos", tinyOptions());
    ASSERT_FALSE(nofolder.ok());
    EXPECT_TRUE(isLumosCheckpoint(model()));
    EXPECT_FALSE(isLumosCheckpoint(std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny"));
}

TEST_F(VideoViewTest, ExportDialogOffersEveryVideoFormat) {
    VideoExportDialog dialog("/tmp/tessera-7", 4);
    QComboBox* formats = dialog.formatPicker();
    ASSERT_EQ(formats->count(), 5);
    QStringList names;
    for (int i = 0; i < formats->count(); ++i) names << formats->itemData(i).toString();
    EXPECT_EQ(names, (QStringList{"mp4", "webm", "gif", "webp", "png"}));
    EXPECT_EQ(dialog.request().path, "/tmp/tessera-7.mp4");
    EXPECT_EQ(dialog.request().fps, 4);
    formats->setCurrentIndex(1);
    EXPECT_EQ(dialog.request().format, "webm");
    EXPECT_EQ(dialog.request().path, "/tmp/tessera-7.webm");
    formats->setCurrentIndex(4);
    EXPECT_EQ(dialog.request().path, "/tmp/tessera-7-frames");
}
