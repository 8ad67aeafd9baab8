// DiCoDe in the studio on the offscreen platform, with the tiny DiCoDe folder assembled from
// reference/dicode_tiny: a run through the real scheduler reports keyframes, DDIM steps and clips in
// order; the view's clip timeline has one segment per clip and seeks; the final frames and deep tokens
// equal a direct run of the engine's DicodePipeline with the same request (an independent path: no
// studio code); the project gets one video row whose settings re-run the same video; the MP4 export
// carries the recipe; cancel stops within a DDIM step; the model manager lists the folder with the
// engine's keyframe limit and frame size; the settings panel shows the DiCoDe fields only for DiCoDe.
#include "support/dicode_tiny_folder.h"
#include "tessera/engine/dicode_pipeline.h"
#include "tessera/engine/engine.h"
#include "tessera/media/video.h"
#include "tessera/widgets/clip_timeline.h"
#include "tessera/widgets/dicode_controller.h"
#include "tessera/widgets/dicode_generator.h"
#include "tessera/widgets/dicode_settings.h"
#include "tessera/widgets/dicode_view.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/model_manager.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/video_export.h"
#include "widgets/test_app.h"

#include <QJsonDocument>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QToolButton>
#include <QUndoStack>
#include <atomic>
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

// The request both paths run: 3 keyframes → 2 clips of 4 frames (32×32) at the tiny size.
constexpr uint64_t kSeed = 11;
constexpr int kKeyframes = 3, kSteps = 3;

GenerationSettings runSettings() {
    GenerationSettings s;
    s.prompt = "a cat runs";
    s.seed = kSeed;
    s.seed_locked = true;
    s.dicode = {{"keyframes", kKeyframes}, {"ddim_steps", kSteps}};
    return s;
}

bool terminal(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}

std::vector<uint8_t> rgbBytes(const std::vector<QImage>& frames) {
    std::vector<uint8_t> out;
    for (const QImage& f : frames) {
        const QImage rgb = f.convertToFormat(QImage::Format_RGB888);
        for (int y = 0; y < rgb.height(); ++y)
            out.insert(out.end(), rgb.constScanLine(y), rgb.constScanLine(y) + rgb.width() * 3);
    }
    return out;
}

class DicodeStudioTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        test::app();
        dir_ = new QTemporaryDir;
        test::writeTinyDicodeFolder(model());
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string model() { return dir_->filePath("dicode-tiny").toStdString(); }

    // The engine alone: the same request as runSettings(), on a backend of its own.
    static DicodeResult engineRun() {
        DicodeResult out;
        auto be = createBackend("cpu");
        EXPECT_TRUE(be.ok()) << be.error();
        if (!be.ok()) return out;
        auto p = DicodePipeline::load(model(), **be);
        EXPECT_TRUE(p.ok()) << p.error();
        if (!p.ok()) return out;
        DicodeRequest r;
        r.prompt = "a cat runs";
        r.seed = kSeed;
        r.keyframes = kKeyframes;
        r.ddim_steps = kSteps;
        std::atomic<bool> never{false};
        JobContext ctx(1, {}, &never);
        auto res = (*p)->generate(r, ctx);
        EXPECT_TRUE(res.ok()) << res.error();
        if (res.ok()) out = std::move(*res);
        return out;
    }

    static QTemporaryDir* dir_;
};

QTemporaryDir* DicodeStudioTest::dir_ = nullptr;

// One report as the controller folded it: what kind, and where the run was.
struct Seen {
    DicodeUpdate::Kind kind;
    int keyframe, clip, step, clips_done;
    bool operator==(const Seen&) const = default;
};

TEST_F(DicodeStudioTest, ARunStreamsInOrderFillsTheTimelineMatchesTheEngineAndIsStoredOnce) {
    EngineBridge bridge(1);
    StudioController studio(&bridge);
    DicodeController dicode(&studio);
    DicodeView view(&dicode);
    view.resize(900, 400);
    view.show();
    QTemporaryDir project;
    auto source = openProjectHistory(project.path(), true);
    ASSERT_TRUE(source.ok()) << source.error();
    HistorySource* history = source->get();
    HistoryPanel panel;
    QUndoStack undo;
    HistoryController history_controller(&studio, &panel, &undo);
    history_controller.setSource(source->release());

    auto gen = loadDicodeGenerator(model());
    ASSERT_TRUE(gen.ok()) << gen.error();
    studio.setGenerator(*gen);
    EXPECT_EQ(studio.generator()->info().family, "dicode");
    EXPECT_TRUE(studio.generator()->info().video);

    std::vector<Seen> seen;
    std::vector<bool> had_x0; // at each step report: an x0 preview is shown
    QObject::connect(&dicode, &DicodeController::progressed, [&](qint64 id) {
        const DicodeRecord* r = dicode.record(id);
        seen.push_back({r->last, r->keyframe, r->clip, r->step, r->clips_done});
        if (r->last == DicodeUpdate::Kind::Step) had_x0.push_back(!r->x0.isNull());
    });
    const int64_t id = studio.generate(runSettings());
    ASSERT_GT(id, 0);
    view.showVideo(id);
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(id)); }, 120000));
    const Generation* g = studio.generation(id);
    ASSERT_EQ(g->state, JobState::Finished) << g->error.toStdString();
    ASSERT_TRUE(g->video);
    EXPECT_EQ(g->kind, "video");

    // Progress in order: keyframes 1 and 2, clip 1's steps, clip 1, keyframe 3, clip 2's steps, clip 2.
    using K = DicodeUpdate::Kind;
    std::vector<Seen> expected = {{K::Keyframe, 1, 0, 0, 0}, {K::Keyframe, 2, 0, 0, 0}};
    for (int c = 1; c <= 2; ++c) {
        if (c == 2) expected.push_back({K::Keyframe, 3, 0, 0, 1});
        for (int s = 1; s <= kSteps; ++s) expected.push_back({K::Step, c + 1, c, s, c - 1});
        expected.push_back({K::Clip, c + 1, c, 0, c});
    }
    ASSERT_EQ(seen.size(), expected.size());
    for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i].kind, expected[i].kind) << i;
        EXPECT_EQ(seen[i].keyframe, expected[i].keyframe) << i;
        EXPECT_EQ(seen[i].clips_done, expected[i].clips_done) << i;
        if (seen[i].kind != K::Keyframe) {
            EXPECT_EQ(seen[i].clip, expected[i].clip) << i;
        }
        if (seen[i].kind == K::Step) {
            EXPECT_EQ(seen[i].step, expected[i].step) << i;
        }
    }
    EXPECT_EQ(had_x0, std::vector<bool>(2 * kSteps, true));

    // The view: "keyframe k/N · clip c/C · step s/S", two timeline segments, both full, three strips.
    const DicodeRecord* r = dicode.record(id);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->done);
    EXPECT_FALSE(r->cancelled);
    EXPECT_TRUE(view.progressLabel()->text().startsWith("keyframe 3/3 · clip 2/2 · step 3/3"))
        << view.progressLabel()->text().toStdString();
    ASSERT_EQ(view.timeline()->clipCount(), 2);
    EXPECT_EQ(view.timeline()->fill(0), 1.0);
    EXPECT_EQ(view.timeline()->fill(1), 1.0);
    ASSERT_EQ(r->strips.size(), 3u);
    EXPECT_EQ(r->strips[0].width(), 4); // one cell per deep token
    EXPECT_EQ(view.stripsImage().height(), 3 * 12);
    EXPECT_FALSE(view.cancelButton()->isEnabled());

    // The final frames and deep tokens equal the engine's own run of the same request.
    const DicodeResult direct = engineRun();
    ASSERT_EQ(direct.video.frames, 8);
    ASSERT_EQ(g->video->frames.size(), 8u);
    EXPECT_EQ(g->video->frames[0].width(), direct.video.width);
    EXPECT_EQ(g->video->frames[0].height(), direct.video.height);
    EXPECT_TRUE(rgbBytes(g->video->frames) == direct.video.rgb) << "studio frames differ from the engine's";
    std::vector<int32_t> bits(direct.tokens.size());
    std::memcpy(bits.data(), direct.tokens.data(), bits.size() * sizeof(float));
    EXPECT_EQ(g->video->codes, bits);
    const nlohmann::json recipe = nlohmann::json::parse(g->video->recipe.toStdString());
    EXPECT_EQ(recipe.value("method", ""), "dicode");
    EXPECT_EQ(recipe.value("frames_sha256", ""), dicodeFramesDigest(direct.video));

    // Clicking the second timeline segment seeks to clip 2's first frame (frame 5 of 8).
    view.timeline()->resize(400, 22);
    QTest::mouseClick(view.timeline(), Qt::LeftButton, {}, view.timeline()->segmentRect(1).center());
    EXPECT_EQ(view.frame(), 4);
    EXPECT_TRUE(view.frameImage() == g->video->frames[4]);
    // Play advances frames on a timer; pause stops it.
    view.playButton()->click();
    EXPECT_TRUE(view.playing());
    ASSERT_TRUE(waitFor([&] { return view.frame() != 4; }, 5000));
    view.playButton()->click();
    EXPECT_FALSE(view.playing());

    // The project: one video row, as the CLI stores one (kind video, the MP4, the strip, the deep
    // tokens' bits as its token stream).
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
    EXPECT_EQ(entries[0].video_frames, 8);
    EXPECT_FALSE(entries[0].thumbnail.isNull());
    std::optional<Generation> loaded;
    bool got = false;
    history->load(entries[0].id, [&](std::optional<Generation> l) {
        loaded = std::move(l);
        got = true;
    });
    ASSERT_TRUE(waitFor([&] { return got; }, 10000));
    ASSERT_TRUE(loaded && loaded->video);
    EXPECT_EQ(loaded->video->codes, bits);
    EXPECT_EQ(loaded->video->frames.size(), 8u);
    EXPECT_EQ(loaded->settings.seed, kSeed);
    EXPECT_EQ(loaded->settings.dicode.value("keyframes").toInt(), kKeyframes);
    EXPECT_EQ(loaded->settings.dicode.value("ddim_steps").toInt(), kSteps);
    // Adopted, it gets a record the view shows with its clips on the timeline.
    const int64_t adopted = studio.adopt(*loaded);
    ASSERT_NE(dicode.record(adopted), nullptr);
    view.showVideo(adopted);
    EXPECT_EQ(view.timeline()->clipCount(), 2);
    EXPECT_EQ(view.frameScrubber()->maximum(), 7);

    // Replay: the stored settings run again give the same frames.
    const int64_t again = studio.generate(loaded->settings);
    ASSERT_GT(again, 0);
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(again)) && studio.generation(again)->video; },
                        120000));
    EXPECT_TRUE(rgbBytes(studio.generation(again)->video->frames) == direct.video.rgb);
    EXPECT_EQ(studio.generation(again)->video->codes, bits);

    // MP4 export through the studio's exporter carries the recipe.
    QTemporaryDir out;
    VideoExportRequest req;
    req.format = "mp4";
    req.path = out.filePath("dicode.mp4");
    bool done = false, ok = false;
    QString message;
    exportVideoAsync(
        g->video, req, &view, [](int, int) {},
        [&](bool o, QString m) {
            done = true;
            ok = o;
            message = m;
        });
    ASSERT_TRUE(waitFor([&] { return done; }, 30000));
    ASSERT_TRUE(ok) << message.toStdString();
    auto info = media::probeVideo(req.path.toStdString());
    ASSERT_TRUE(info.ok()) << info.error();
    EXPECT_EQ(info->frames, 8);
    EXPECT_EQ(info->fps.num, kDicodeFps);
    ASSERT_TRUE(info->metadata.count(media::kRecipeKey));
    const nlohmann::json written = nlohmann::json::parse(info->metadata.at(media::kRecipeKey));
    EXPECT_EQ(written.value("method", ""), "dicode");
    EXPECT_EQ(written.value("frames_sha256", ""), dicodeFramesDigest(direct.video));
}

TEST_F(DicodeStudioTest, CancelStopsWithinAStep) {
    EngineBridge bridge(1);
    StudioController studio(&bridge);
    DicodeController dicode(&studio);
    DicodeView view(&dicode);
    auto gen = loadDicodeGenerator(model());
    ASSERT_TRUE(gen.ok()) << gen.error();
    studio.setGenerator(*gen);
    GenerationSettings s = runSettings();
    s.dicode["ddim_steps"] = 8;
    int64_t id = 0;
    int steps_after = -1;
    QObject::connect(&dicode, &DicodeController::progressed, [&](qint64 job) {
        const DicodeRecord* r = dicode.record(job);
        if (r->last != DicodeUpdate::Kind::Step) return;
        if (steps_after >= 0) ++steps_after;
        if (r->clip == 1 && r->step == 2 && steps_after < 0) {
            steps_after = 0;
            view.cancelButton()->click(); // the view asks; the studio cancels
        }
    });
    QObject::connect(&view, &DicodeView::cancelRequested, &studio, &StudioController::cancel);
    id = studio.generate(s);
    ASSERT_GT(id, 0);
    view.showVideo(id);
    ASSERT_TRUE(
        waitFor([&] { return view.cancelButton()->isEnabled() || terminal(studio.generation(id)); }, 60000));
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(id)); }, 120000));
    EXPECT_EQ(studio.generation(id)->state, JobState::Cancelled);
    ASSERT_GE(steps_after, 0) << "the run never reached step 2";
    // The step in flight when the flag was seen may still report; no later one, and no clip.
    EXPECT_LE(steps_after, 1);
    ASSERT_TRUE(waitFor([&] { return dicode.record(id) && dicode.record(id)->done; }, 10000));
    EXPECT_TRUE(dicode.record(id)->cancelled);
    EXPECT_EQ(dicode.record(id)->clips_done, 0);
    EXPECT_TRUE(dicode.record(id)->frames.empty());
}

TEST_F(DicodeStudioTest, TooManyKeyframesFailWithTheModelsLimit) {
    EngineBridge bridge(1);
    StudioController studio(&bridge);
    DicodeController dicode(&studio);
    DicodeView view(&dicode);
    auto gen = loadDicodeGenerator(model());
    ASSERT_TRUE(gen.ok()) << gen.error();
    studio.setGenerator(*gen);
    const int limit = (*gen)->maxKeyframes();
    ASSERT_GE(limit, 2);
    GenerationSettings s = runSettings();
    s.dicode["keyframes"] = limit + 1;
    const int64_t id = studio.generate(s);
    ASSERT_GT(id, 0);
    view.showVideo(id);
    ASSERT_TRUE(waitFor([&] { return terminal(studio.generation(id)); }, 60000));
    EXPECT_EQ(studio.generation(id)->state, JobState::Failed);
    EXPECT_TRUE(studio.generation(id)->error.contains(QString("at most %1 keyframes").arg(limit)))
        << studio.generation(id)->error.toStdString();
    ASSERT_TRUE(waitFor([&] { return dicode.record(id) && dicode.record(id)->done; }, 10000));
    EXPECT_FALSE(dicode.record(id)->error.isEmpty());
    EXPECT_TRUE(view.progressLabel()->text().contains("failed"))
        << view.progressLabel()->text().toStdString();
    EXPECT_FALSE(view.cancelButton()->isEnabled());
}

TEST_F(DicodeStudioTest, TheModelManagerListsTheFolderWithTheEnginesLimits) {
    const ModelProbe m = probeModel(QString::fromStdString(model()));
    ASSERT_TRUE(m.error.isEmpty()) << m.error.toStdString();
    EXPECT_EQ(m.family, "dicode");
    auto be = createBackend("cpu");
    ASSERT_TRUE(be.ok());
    auto p = DicodePipeline::load(model(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(m.max_keyframes, (*p)->maxKeyframes());
    const DicodeResult direct = engineRun();
    EXPECT_EQ(m.frame_width, direct.video.width);
    EXPECT_EQ(m.frame_height, direct.video.height);
    EXPECT_GT(m.parameters, 0);
    EXPECT_GT(m.estimatedBytes(), m.weight_bytes);
    EXPECT_TRUE(m.summary().contains("dicode")) << m.summary().toStdString();
    EXPECT_TRUE(m.summary().contains(QString("up to %1 keyframes").arg(m.max_keyframes)));

    // Without the constants the folder is listed as not usable, naming the file.
    QTemporaryDir bare;
    test::writeTinyDicodeFolder(bare.filePath("d").toStdString(), false);
    const ModelProbe b = probeModel(bare.filePath("d"));
    EXPECT_TRUE(b.error.contains(kDicodeConstantsFile)) << b.error.toStdString();
}

TEST_F(DicodeStudioTest, TheSettingsPanelShowsDicodeFieldsOnlyForDicode) {
    SettingsPanel panel;
    panel.show();
    EXPECT_FALSE(panel.dicodeFields()->isVisible());
    EXPECT_TRUE(panel.settings().dicode.isEmpty());
    panel.showDicodeFields(true, 11);
    EXPECT_TRUE(panel.dicodeFields()->isVisible());
    EXPECT_EQ(panel.dicodeFields()->keyframesField()->maximum(), 11);
    panel.dicodeFields()->keyframesField()->setValue(5);
    panel.dicodeFields()->ddimStepsField()->setValue(7);
    const GenerationSettings s = panel.settings();
    EXPECT_EQ(s.dicode.value("keyframes").toInt(), 5);
    EXPECT_EQ(s.dicode.value("ddim_steps").toInt(), 7);
    // They reach the engine's request, the rest at the demo's values.
    const DicodeRequest r = dicodeRequestFrom(s);
    EXPECT_EQ(r.keyframes, 5);
    EXPECT_EQ(r.ddim_steps, 7);
    EXPECT_FLOAT_EQ(r.cfg, 7.5f);
    EXPECT_FLOAT_EQ(r.rescale, 0.7f);
    EXPECT_FLOAT_EQ(r.var_scale, 0.01f);
    EXPECT_EQ(r.fs, 6);
    EXPECT_DOUBLE_EQ(r.eta, 1.0);
    // Round trip through the settings JSON (what the history stores).
    EXPECT_EQ(GenerationSettings::fromJson(s.toJson()).dicode, s.dicode);
    panel.showDicodeFields(false);
    EXPECT_TRUE(panel.settings().dicode.isEmpty());
}

} // namespace
