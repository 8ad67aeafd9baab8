// Erasures and erased models in the studio, headless (offscreen), on janus_tiny:
//   - an erasure run by the studio's controller with a project is stored there as the CLI stores it
//     (one finished "erase" job, the delta as an asset whose sha256 is the file's — by sha256sum — and
//     the compare pictures), and a fresh controller lists it and reopens its curve and compare view
//     from the project alone, equal to what the live run showed;
//   - "<model> + <delta>" in the model manager: generating with it differs from the base model on the
//     same seed and equals `tessera-cli generate --overlay` (a separate process) on that seed; the
//     recorded settings carry the delta's path and sha256; a re-run of that record with the base model
//     loaded re-applies the delta; a removed or changed delta is refused with its name.
#include "tessera/projects/erasure_store.h"
#include "tessera/projects/project.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/erasure.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/model_manager.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/erasure_request.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QProcess>
#include <QTemporaryDir>
#include <cstdio>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

const QString kModel = QString(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";
const QString kPairs = QString(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/erase_pairs.json";
const QString kCli = QString(TESSERA_BINARY_DIR) + "/bin/tessera-cli";

// sha256sum's digest: independent of both the project's and the engine's SHA-256.
std::string sha256sum(const QString& path) {
    QProcess p;
    p.start("sha256sum", {path});
    if (!p.waitForFinished(30000)) return {};
    return p.readAllStandardOutput().left(64).toStdString();
}

bool done(const Generation* g) {
    return g && (g->state == JobState::Finished || g->state == JobState::Failed ||
                 g->state == JobState::Cancelled);
}

QString runCli(const QStringList& args) {
    QProcess p;
    p.start(kCli, args);
    if (!p.waitForFinished(180000)) return "timed out";
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return QString("exit %1: %2").arg(p.exitCode()).arg(QString::fromLocal8Bit(p.readAllStandardError()));
    return {};
}

} // namespace

TEST(ErasureProject, StudioErasureIsStoredAndReopensWithoutTraining) {
    test::app();
    ASSERT_TRUE(QFileInfo::exists(kCli)) << "tessera-cli is not built at " << kCli.toStdString();
    QTemporaryDir tmp;
    const QString project = tmp.filePath("project");
    EngineBridge bridge(1);
    ErasureController live(&bridge);
    live.setProject(project); // no project yet: created when the erasure is stored
    ErasureRequest r;
    ASSERT_TRUE(test::churchErasure(r, kModel, 1, 4, 0, tmp.filePath("church.safetensors")));
    bool finished = false, ok = false;
    QString message;
    qint64 stored_job = 0;
    QObject::connect(&live, &ErasureController::finished, [&](bool success, const QString& m) {
        finished = true;
        ok = success;
        message = m;
    });
    QObject::connect(&live, &ErasureController::stored, [&](const QString& dir, qint64 job) {
        EXPECT_EQ(dir, project);
        stored_job = job;
    });
    live.start(r);
    ASSERT_TRUE(waitFor([&] { return finished; }, 300000));
    ASSERT_TRUE(ok) << message.toStdString();
    ASSERT_GT(stored_job, 0);
    ASSERT_EQ(live.curve().size(), 16u); // janus_tiny: a 4x4 grid, one rollout
    ASSERT_EQ(live.compares().size(), 3u);
    ASSERT_TRUE(waitFor([&] { return live.storedErasures().size() == 1; }));

    // The rows, read with the project library directly.
    {
        auto p = projects::Project::open(project.toStdString());
        ASSERT_TRUE(p.ok()) << p.error();
        auto jobs = p->listJobs();
        ASSERT_TRUE(jobs.ok());
        ASSERT_EQ(jobs->size(), 1u);
        const projects::JobRecord& j = jobs->front();
        EXPECT_EQ(j.id, stored_job);
        EXPECT_EQ(j.kind, "erase");
        EXPECT_EQ(j.state, projects::JobState::kDone);
        EXPECT_EQ(j.params["pairs"]["concept"], "church");
        EXPECT_EQ(j.params["settings"]["window"], 4);
        EXPECT_EQ(j.result["losses"].size(), 16u);
        EXPECT_EQ(j.result["windows"].size(), 4u);
        EXPECT_EQ(j.result["delta_asset"]["sha256"], sha256sum(r.out_path));
        auto assets = p->listAssets();
        ASSERT_TRUE(assets.ok());
        int deltas = 0, pictures = 0;
        for (const auto& a : *assets) {
            if (a.kind == "tensor/delta") {
                ++deltas;
                EXPECT_EQ(a.sha256, sha256sum(r.out_path));
                EXPECT_EQ(sha256sum(QString::fromStdString(p->assetPath(a).string())), sha256sum(r.out_path));
            }
            pictures += a.kind == "image/png";
        }
        EXPECT_EQ(deltas, 1);
        EXPECT_EQ(pictures, 6) << "original and erased picture for each of the 3 seeds";
    }

    // Reopened by a controller that never trained: the list, then the curve and the compare view.
    ErasureController reopened(&bridge);
    ErasurePanel panel(&reopened);
    reopened.setProject(project);
    ASSERT_TRUE(waitFor([&] { return reopened.storedErasures().size() == 1; }));
    EXPECT_EQ(reopened.storedErasures().front().job, stored_job);
    EXPECT_EQ(reopened.storedErasures().front().concept_name, "church");
    EXPECT_EQ(panel.storedList()->count(), 2); // the heading and the erasure
    panel.storedList()->setCurrentIndex(1);
    Q_EMIT panel.storedList()->activated(1);
    ASSERT_TRUE(waitFor([&] { return reopened.openedStored() == stored_job; }));
    ASSERT_EQ(reopened.curve().size(), live.curve().size());
    for (size_t i = 0; i < live.curve().size(); ++i) {
        const TrainingProgress &a = live.curve()[i], &b = reopened.curve()[i];
        EXPECT_EQ(a.step, b.step);
        EXPECT_EQ(a.loss, b.loss) << "step " << a.step;
        EXPECT_EQ(a.window_closed, b.window_closed) << "step " << a.step;
        if (a.window_closed) {
            EXPECT_EQ(a.updated, b.updated) << "step " << a.step;
            EXPECT_EQ(a.window, b.window) << "step " << a.step;
        }
    }
    EXPECT_EQ(panel.curve()->updates() + panel.curve()->skips(), 4);
    ASSERT_EQ(reopened.compares().size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        const ErasureCompare &a = live.compares()[i], &b = reopened.compares()[i];
        EXPECT_EQ(a.seed, b.seed);
        EXPECT_EQ(a.original_tokens, b.original_tokens);
        EXPECT_EQ(a.erased_tokens, b.erased_tokens);
        EXPECT_EQ(a.grid_w, b.grid_w);
        ASSERT_FALSE(b.original.isNull());
        EXPECT_EQ(a.original.convertToFormat(QImage::Format_RGB888),
                  b.original.convertToFormat(QImage::Format_RGB888));
        EXPECT_EQ(a.erased.convertToFormat(QImage::Format_RGB888),
                  b.erased.convertToFormat(QImage::Format_RGB888));
    }
    EXPECT_EQ(reopened.request().compare_prompt, live.request().compare_prompt);
    EXPECT_TRUE(panel.status()->text().contains("16 steps")) << panel.status()->text().toStdString();
}

TEST(ErasureProject, ModelPlusDeltaIsAModelThatMatchesTheCli) {
    test::app();
    ASSERT_TRUE(QFileInfo::exists(kCli)) << "tessera-cli is not built at " << kCli.toStdString();
    QTemporaryDir tmp;
    // The delta, trained by the CLI (a separate process).
    const QString delta = tmp.filePath("church.safetensors");
    const QString trained = runCli({"erase", "--model", kModel, "--pairs", kPairs, "--out", delta, "--steps",
                                    "1", "--window", "4", "--threshold", "0", "--lr", "0.01"});
    ASSERT_TRUE(trained.isEmpty()) << trained.toStdString();

    EngineBridge bridge(1);
    StudioController studio(&bridge);
    ModelManagerController models(&studio, [](const std::string& d) { return loadJanusGenerator(d, "cpu"); });
    models.setOverlayLoader([](const std::string& d, const std::string& o, const std::string& sha) {
        return loadJanusGenerator(d, "cpu", o, sha);
    });
    ModelManagerPanel panel(&models);
    ASSERT_TRUE(models.addFolder(kModel));
    models.addErasedModel(kModel, delta);
    ASSERT_TRUE(waitFor([&] { return models.models().size() == 2; }, 30000));
    const ModelProbe& entry = models.models()[1];
    EXPECT_EQ(entry.displayName(), "janus_tiny + church");
    EXPECT_EQ(entry.overlay_sha256.toStdString(), sha256sum(delta));
    ASSERT_EQ(panel.list()->count(), 2);
    EXPECT_TRUE(panel.list()->item(1)->text().contains("janus_tiny + church"))
        << panel.list()->item(1)->text().toStdString();

    QString failed;
    QObject::connect(&models, &ModelManagerController::loadFailed,
                     [&](const QString&, const QString& why) { failed = why; });
    auto generate = [&](GenerationSettings s) -> const Generation* {
        const int64_t id = studio.generate(s);
        if (id == 0) return nullptr;
        if (!waitFor([&] { return done(studio.generation(id)); }, 120000)) return nullptr;
        return studio.generation(id);
    };
    GenerationSettings s;
    s.prompt = "a church on a hill";
    s.seed = 5;
    s.seed_locked = true;

    models.loadErased(kModel, delta);
    ASSERT_TRUE(waitFor(
        [&] { return models.loadedOverlay() == QFileInfo(delta).absoluteFilePath() || !failed.isEmpty(); },
        60000));
    ASSERT_TRUE(failed.isEmpty()) << failed.toStdString();
    EXPECT_EQ(studio.generator()->info().name, "janus_tiny + church");
    const Generation* erased = generate(s);
    ASSERT_TRUE(erased && erased->state == JobState::Finished)
        << (erased ? erased->error.toStdString() : "not submitted");
    const std::vector<int32_t> erased_tokens = erased->tokens();
    const GenerationSettings recorded = erased->settings;
    EXPECT_EQ(recorded.overlay, QFileInfo(delta).absoluteFilePath());
    EXPECT_EQ(recorded.overlay_sha256.toStdString(), sha256sum(delta));
    const QJsonObject recipe = recipeJson(*erased);
    EXPECT_EQ(recipe["overlay"].toObject()["sha256"].toString().toStdString(), sha256sum(delta));
    EXPECT_EQ(GenerationSettings::fromJson(recorded.toJson()).overlay, recorded.overlay);

    models.load(kModel);
    ASSERT_TRUE(waitFor(
        [&] {
            return (models.loadedOverlay().isEmpty() && studio.generator()->info().overlay_path.isEmpty()) ||
                   !failed.isEmpty();
        },
        60000));
    ASSERT_TRUE(failed.isEmpty()) << failed.toStdString();
    const Generation* base = generate(s);
    ASSERT_TRUE(base && base->state == JobState::Finished);
    const std::vector<int32_t> base_tokens = base->tokens();
    EXPECT_TRUE(base->settings.overlay.isEmpty());
    ASSERT_EQ(erased_tokens.size(), 16u);
    EXPECT_NE(erased_tokens, base_tokens) << "the delta should change what seed 5 draws";

    // The CLI, the same seed and prompt, with and without the delta.
    const QString cli_project = tmp.filePath("cli");
    for (bool with_delta : {true, false}) {
        QStringList args = {"generate",  "--model",  kModel,
                            "--prompt",  s.prompt,   "--seed",
                            "5",         "--out",    tmp.filePath(with_delta ? "e.png" : "b.png"),
                            "--project", cli_project};
        if (with_delta) args << "--overlay" << delta;
        const QString err = runCli(args);
        ASSERT_TRUE(err.isEmpty()) << err.toStdString();
    }
    auto p = projects::Project::open(cli_project.toStdString());
    ASSERT_TRUE(p.ok()) << p.error();
    auto history = p->history();
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), 2u);
    auto cli_erased = p->generation(history->at(1).id); // newest first: the erased one is older
    auto cli_base = p->generation(history->at(0).id);
    ASSERT_TRUE(cli_erased.ok() && cli_base.ok());
    EXPECT_EQ(cli_erased->tokens, erased_tokens)
        << "the studio's model + delta should draw what generate --overlay draws";
    EXPECT_EQ(cli_base->tokens, base_tokens);

    // A re-run of the erased record while the base model is loaded: the delta is applied again.
    const Generation* again = generate(recorded);
    ASSERT_TRUE(again && again->state == JobState::Finished) << (again ? again->error.toStdString() : "");
    EXPECT_EQ(again->tokens(), erased_tokens);

    // A changed delta, then a removed one: refused, naming the file.
    {
        QFile f(delta);
        ASSERT_TRUE(f.open(QIODevice::ReadWrite));
        f.seek(f.size() - 1);
        const char last = f.read(1).at(0);
        f.seek(f.size() - 1);
        f.write(QByteArray(1, static_cast<char>(last ^ 1)));
    }
    const Generation* changed = generate(recorded);
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->state, JobState::Failed);
    EXPECT_TRUE(changed->error.contains("church.safetensors") && changed->error.contains("changed"))
        << changed->error.toStdString();
    failed.clear();
    models.loadErased(kModel, QFileInfo(delta).absoluteFilePath());
    ASSERT_TRUE(waitFor([&] { return !failed.isEmpty(); }, 60000));
    EXPECT_TRUE(failed.contains("church.safetensors") && failed.contains("changed")) << failed.toStdString();

    ASSERT_TRUE(QFile::remove(delta));
    failed.clear();
    models.loadErased(kModel, QFileInfo(delta).absoluteFilePath());
    ASSERT_TRUE(waitFor([&] { return !failed.isEmpty(); }, 60000));
    EXPECT_TRUE(failed.contains("church.safetensors") && failed.contains("missing")) << failed.toStdString();
    const Generation* missing = generate(recorded);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->state, JobState::Failed);
    EXPECT_TRUE(missing->error.contains("church.safetensors") && missing->error.contains("missing"))
        << missing->error.toStdString();
}
