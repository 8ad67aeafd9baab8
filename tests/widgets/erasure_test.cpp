// The erasure widgets headless (offscreen): the pair dialog refuses incomplete pairs naming the cell and
// reads a pairs file into its table; the curve counts update and skip markers; the controller runs a short
// EAR job on janus_tiny through the scheduler, reports every step, writes the delta and the record, and a
// cancelled job ends as cancelled.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/erasure.h"
#include "widgets/erasure_request.h"
#include "widgets/test_app.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTableWidget>
#include <QTemporaryDir>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;

namespace {

const QString kModel = QString(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";
const std::string kPairs = std::string(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/erase_pairs.json";

TEST(ErasureWidgets, DialogNamesTheEmptyCellAndReadsAPairsFile) {
    test::app();
    ErasureDialog d(kModel, "/tmp/x.safetensors");
    auto empty = d.request();
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().find("at least one prompt pair"), std::string::npos) << empty.error();
    d.table()->insertRow(0);
    d.table()->setItem(0, 0, new QTableWidgetItem("a church"));
    d.table()->setItem(0, 2, new QTableWidgetItem("a cinema"));
    auto missing = d.request();
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error(), "pair 1: the safe_neutral prompt is empty");

    auto pairs = train::readEarPairs(kPairs);
    ASSERT_TRUE(pairs.ok()) << pairs.error();
    d.setPairs(*pairs);
    EXPECT_EQ(d.table()->rowCount(), static_cast<int>(pairs->pairs.size()));
    auto r = d.request();
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->pairs.pairs.size(), pairs->pairs.size());
    EXPECT_EQ(r->pairs.pairs[1].safe_target, pairs->pairs[1].safe_target);
    EXPECT_EQ(r->pairs.concept_name, "church");
    EXPECT_EQ(r->options.window, 48);
    EXPECT_EQ(r->options.layers, 5);
    EXPECT_EQ(r->options.mode, train::EarMode::Corrected);
}

TEST(ErasureWidgets, CurveCountsUpdatesAndSkips) {
    test::app();
    ErasureCurve c;
    TrainingProgress p;
    p.total = 4;
    for (int i = 1; i <= 4; ++i) {
        p.step = i;
        p.loss = 1.0f / static_cast<float>(i);
        p.window_closed = i % 2 == 0;
        p.updated = i == 2;
        c.add(p);
    }
    EXPECT_EQ(c.updates(), 1);
    EXPECT_EQ(c.skips(), 1);
    c.resize(400, 200);
    EXPECT_FALSE(c.grab().toImage().isNull());
}

TEST(ErasureWidgets, ControllerRunsAShortJobAndWritesTheDeltaAndRecord) {
    test::app();
    EngineBridge bridge(1);
    ErasureController controller(&bridge);
    QTemporaryDir tmp;
    ErasureRequest r;
    ASSERT_TRUE(test::churchErasure(r, kModel, 2, 4, 0, tmp.path() + "/d.safetensors"));
    int steps = 0, windows = 0;
    QObject::connect(&controller, &ErasureController::progress, [&](const TrainingProgress& p) {
        ++steps;
        windows += p.window_closed;
    });
    bool done = false, ok = false, compared = false;
    QObject::connect(&controller, &ErasureController::comparesReady, [&] { compared = !done; });
    QObject::connect(&controller, &ErasureController::finished, [&](bool success, const QString&) {
        done = true;
        ok = success;
    });
    controller.start(r);
    EXPECT_TRUE(controller.running());
    ASSERT_TRUE(waitFor([&] { return done; }, 120000));
    EXPECT_TRUE(ok);
    EXPECT_TRUE(compared) << "the compare results should arrive before the job's end";
    EXPECT_EQ(steps, 32);
    EXPECT_EQ(windows, 8);
    EXPECT_EQ(controller.compares().size(), 3u);
    EXPECT_TRUE(QFileInfo::exists(r.out_path));
    QFile record(r.out_path + ".erasure.json");
    ASSERT_TRUE(record.open(QIODevice::ReadOnly));
    const QJsonObject j = QJsonDocument::fromJson(record.readAll()).object();
    EXPECT_EQ(j["kind"].toString(), "erasure");
    EXPECT_EQ(j["losses"].toArray().size(), 32);
    EXPECT_EQ(j["windows"].toArray().size(), 8);
    EXPECT_EQ(j["compare"].toObject()["runs"].toArray().size(), 3);

    // Cancelled as soon as the first step is reported.
    ErasureRequest longer = r;
    longer.options.iterations = 500;
    longer.out_path = tmp.path() + "/c.safetensors";
    done = false;
    QString message;
    QObject::connect(&controller, &ErasureController::finished, [&](bool, const QString& m) { message = m; });
    QObject::connect(&controller, &ErasureController::progress, &controller, [&] { controller.cancel(); });
    controller.start(longer);
    ASSERT_TRUE(waitFor([&] { return done; }, 120000));
    EXPECT_FALSE(ok);
    EXPECT_TRUE(message.contains("cancelled")) << message.toStdString();
    EXPECT_FALSE(QFileInfo::exists(longer.out_path));
}

} // namespace
