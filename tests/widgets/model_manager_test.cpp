// Model manager: probing checkpoint folders (family, size, memory) and loading through a job.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/model_manager.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {
const QString kJanusTiny = QString(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";
}

TEST(ModelProbe, DetectsJanusTinyFamilySizeAndMemory) {
    const ModelProbe m = probeModel(kJanusTiny);
    ASSERT_TRUE(m.error.isEmpty()) << m.error.toStdString();
    EXPECT_EQ(m.family, "janus");
    EXPECT_EQ(m.architecture, "JanusForConditionalGeneration");
    EXPECT_EQ(m.image_tokens, 16); // vision_config.num_image_tokens
    // float32 weights: four bytes a parameter, plus a header of at most a few tens of KiB.
    const qint64 file = QFileInfo(kJanusTiny + "/model.safetensors").size();
    EXPECT_LE(m.parameters * 4, file);
    EXPECT_GT(m.parameters * 4, file - 64 * 1024);
    EXPECT_EQ(m.weight_bytes, file); // golden.safetensors is not counted
    // KV cache: 2 (k,v) × 2 layers × 2 kv heads × 16 head_dim × (128 + 16) positions × 4 bytes × 2 CFG rows.
    EXPECT_EQ(m.kv_cache_bytes, 2 * 2 * 2 * 16 * 144 * 4 * 2);
    EXPECT_TRUE(m.summary().contains("janus"));
}

TEST(ModelProbe, ExplainsWhatIsWrongWithAFolder) {
    QTemporaryDir dir;
    EXPECT_TRUE(probeModel(dir.path()).error.contains("config.json"));
    QFile cfg(dir.filePath("config.json"));
    ASSERT_TRUE(cfg.open(QIODevice::WriteOnly));
    cfg.write("{not json");
    cfg.close();
    EXPECT_TRUE(probeModel(dir.path()).error.contains("not valid JSON"));
    ASSERT_TRUE(cfg.open(QIODevice::WriteOnly | QIODevice::Truncate));
    cfg.write(R"({"model_type": "llama"})");
    cfg.close();
    EXPECT_TRUE(probeModel(dir.path()).error.contains("no weights"));
    QFile st(dir.filePath("model.safetensors"));
    ASSERT_TRUE(st.open(QIODevice::WriteOnly));
    st.write(QByteArray("\xff\xff\xff\xff\xff\xff\xff\x7f", 8)); // absurd header length
    st.close();
    EXPECT_TRUE(probeModel(dir.path()).error.contains("malformed"));
}

TEST(ModelManager, LoadsOnAWorkerAndHandsTheGeneratorToTheStudio) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    std::atomic<bool> on_gui_thread{true};
    const auto gui = QThread::currentThread();
    ModelManagerController mm(&studio, [&](const std::string&) -> Expected<std::shared_ptr<Generator>> {
        on_gui_thread = QThread::currentThread() == gui;
        std::shared_ptr<Generator> g = std::make_shared<tessera::test::SyntheticGenerator>(4, 4);
        return g;
    });
    ModelManagerPanel panel(&mm);
    QSignalSpy loaded(&mm, &ModelManagerController::loaded);
    mm.load(kJanusTiny);
    EXPECT_TRUE(mm.loading());
    ASSERT_TRUE(waitFor([&] { return loaded.count() == 1; }));
    EXPECT_FALSE(on_gui_thread.load());
    ASSERT_NE(studio.generator(), nullptr);
    EXPECT_EQ(mm.loadedFolder(), QDir(kJanusTiny).absolutePath());
    EXPECT_EQ(panel.list()->count(), 1);
    mm.unload();
    EXPECT_EQ(studio.generator(), nullptr);
}

TEST(ModelManager, ReportsALoadFailure) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    ModelManagerController mm(&studio, [](const std::string&) -> Expected<std::shared_ptr<Generator>> {
        return Status::error("tensor x has shape [2], config expects [3]");
    });
    QSignalSpy failed(&mm, &ModelManagerController::loadFailed);
    mm.load(kJanusTiny);
    ASSERT_TRUE(waitFor([&] { return failed.count() == 1; }));
    EXPECT_TRUE(failed.at(0).at(1).toString().contains("config expects"));
    EXPECT_EQ(studio.generator(), nullptr);
}

TEST(ModelManager, ShowsTheModelCardOfTheSelectedModel) {
    test::app();
    QTemporaryDir dir;
    const QString folder = dir.filePath("shapes-like");
    ASSERT_TRUE(QDir().mkpath(folder));
    for (const char* f : {"config.json", "model.safetensors"})
        ASSERT_TRUE(QFile::copy(kJanusTiny + "/" + f, folder + "/" + f));
    EXPECT_TRUE(probeModel(folder).card.isEmpty());
    {
        QFile card(folder + "/MODEL.md");
        ASSERT_TRUE(card.open(QIODevice::WriteOnly));
        card.write("# shapes-like\n\nText to image over the Shapes world.\n\n## Figures\n\n"
                   "- test: found rate 0.5\n");
    }
    const ModelProbe m = probeModel(folder);
    ASSERT_TRUE(m.error.isEmpty()) << m.error.toStdString();
    EXPECT_TRUE(m.card.contains("found rate 0.5"));
    EXPECT_EQ(m.cardSummary(), "Text to image over the Shapes world.");

    EngineBridge bridge;
    StudioController studio(&bridge);
    ModelManagerController mm(&studio, [](const std::string&) -> Expected<std::shared_ptr<Generator>> {
        return Status::error("not loaded in this test");
    });
    ModelManagerPanel panel(&mm);
    ASSERT_TRUE(mm.addFolder(kJanusTiny));
    ASSERT_TRUE(mm.addFolder(folder));
    ASSERT_EQ(panel.list()->count(), 2);
    panel.list()->setCurrentRow(1);
    EXPECT_FALSE(panel.card()->isHidden());
    EXPECT_TRUE(panel.card()->toPlainText().contains("found rate 0.5"));
    EXPECT_TRUE(panel.list()->item(1)->toolTip().contains("Text to image over the Shapes world."));
    panel.list()->setCurrentRow(0); // janus_tiny has no card
    EXPECT_TRUE(panel.card()->isHidden());
}
