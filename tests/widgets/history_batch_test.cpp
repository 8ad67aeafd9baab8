// The History dock over a merged batch project: generations carry their batch and shard, the batch
// filter appears once such entries are shown, and choosing a batch or a shard narrows the list to
// exactly the generations stored under it (known from how the project was filled).
#include "tessera/projects/project.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QUndoStack>
#include <gtest/gtest.h>
#include <set>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::waitFor;
namespace pj = tessera::projects;

namespace {

// Batch "eval": lines 0..5 over shards 0..2 (line % 3); batch "other": 2 lines in shard 0; and one
// generation that belongs to no batch.
void fill(const QString& folder) {
    auto p = pj::Project::create(folder.toStdString());
    ASSERT_TRUE(p.ok()) << p.error();
    auto add = [&](const std::string& prompt, const nlohmann::json& batch) {
        pj::GenerationRecord g;
        g.prompt = prompt;
        g.tokens = {1, 2, 3, 4};
        g.params = {{"grid", {2, 2}}};
        if (!batch.is_null()) g.params["batch"] = batch;
        ASSERT_TRUE(p->addGeneration(g).ok());
    };
    for (int line = 0; line < 6; ++line)
        add("eval " + std::to_string(line),
            {{"id", "eval"}, {"shard", line % 3}, {"shards", 3}, {"line", line}});
    for (int line = 0; line < 2; ++line)
        add("other " + std::to_string(line), {{"id", "other"}, {"shard", 0}, {"shards", 1}, {"line", line}});
    add("by hand", nullptr);
}

std::set<QString> shownPrompts(const HistoryPanel& panel) {
    std::set<QString> out;
    for (int i = 0; i < panel.tree()->topLevelItemCount(); ++i)
        out.insert(panel.tree()->topLevelItem(i)->text(0).section("  ", 1).trimmed());
    return out;
}

} // namespace

TEST(HistoryBatch, FiltersAMergedProjectByBatchAndShard) {
    test::app();
    QTemporaryDir dir;
    const QString folder = dir.filePath("merged");
    fill(folder);

    EngineBridge bridge;
    StudioController studio{&bridge};
    HistoryPanel panel;
    QUndoStack undo;
    HistoryController hc{&studio, &panel, &undo};
    auto source = openProjectHistory(folder);
    ASSERT_TRUE(source.ok()) << source.error();
    hc.setSource(source->release());
    ASSERT_TRUE(waitFor([&] { return panel.count() == 9; })) << panel.count();

    // Offered: any, batch eval, its shards 0..2, batch other, its shard 0.
    QComboBox* batch = panel.batchFilter();
    ASSERT_EQ(batch->count(), 7);
    EXPECT_FALSE(batch->isHidden());
    EXPECT_EQ(batch->itemText(1), "batch eval");
    EXPECT_EQ(batch->itemText(3), "batch eval · shard 1");
    EXPECT_EQ(batch->itemText(4), "batch eval · shard 2");
    EXPECT_EQ(batch->itemText(5), "batch other");
    EXPECT_EQ(batch->itemText(6), "batch other · shard 0");

    batch->setCurrentIndex(1);
    ASSERT_TRUE(waitFor([&] { return panel.count() == 6; })) << panel.count();
    EXPECT_EQ(panel.query().batch, "eval");
    EXPECT_EQ(panel.query().shard, -1);

    batch->setCurrentIndex(3); // shard 1: lines 1 and 4
    const std::set<QString> shard1{"eval 1", "eval 4"};
    EXPECT_TRUE(waitFor([&] { return shownPrompts(panel) == shard1; }));
    EXPECT_EQ(panel.count(), 2);
    EXPECT_EQ(batch->count(), 7); // the other batches stay on offer while one is shown

    batch->setCurrentIndex(6); // other, shard 0
    const std::set<QString> other{"other 0", "other 1"};
    EXPECT_TRUE(waitFor([&] { return shownPrompts(panel) == other; }));
    EXPECT_EQ(panel.count(), 2);

    batch->setCurrentIndex(0);
    ASSERT_TRUE(waitFor([&] { return panel.count() == 9; })) << panel.count();
}

TEST(HistoryBatch, NoBatchNoFilter) {
    test::app();
    HistoryPanel panel;
    HistoryEntry e;
    e.id = 1;
    e.state = "finished";
    panel.setEntries({e}, true);
    EXPECT_TRUE(panel.batchFilter()->isHidden());
    EXPECT_TRUE(panel.query().batch.isEmpty());
}
