// HistoryPanel + HistoryController over the in-memory source: records, search, filters, tree,
// restore, re-run, delete with undo, and rating/notes/tags edits with undo.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTreeWidget>
#include <QUndoStack>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {
struct Fixture {
    EngineBridge bridge;
    StudioController studio{&bridge};
    HistoryPanel panel;
    QUndoStack undo;
    HistoryController hc{&studio, &panel, &undo};

    int64_t run(const QString& prompt, uint64_t seed) {
        GenerationSettings s;
        s.prompt = prompt;
        s.seed = seed;
        const int64_t id = studio.generate(s);
        EXPECT_TRUE(waitFor([&] { return studio.generation(id)->stored_id != 0; }));
        return id;
    }
    void settle() {
        waitFor([] { return false; }, 200);
    } // let the debounced query run
};
} // namespace

TEST(History, RecordsSearchesFiltersAndShowsBranchesAsATree) {
    test::app();
    Fixture f;
    f.studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    const int64_t cat = f.run("a cat on a red sofa", 1);
    f.run("a lighthouse at dawn", 2);
    const int64_t child = f.studio.branch(cat, 3, 5);
    ASSERT_TRUE(waitFor([&] { return f.studio.generation(child)->stored_id != 0; }));
    f.settle();
    EXPECT_EQ(f.panel.count(), 3);
    EXPECT_EQ(f.panel.tree()->topLevelItemCount(), 2); // the branch hangs under its parent
    QTreeWidgetItem* parent_item = nullptr;
    for (int i = 0; i < f.panel.tree()->topLevelItemCount(); ++i)
        if (f.panel.tree()->topLevelItem(i)->data(0, Qt::UserRole).toLongLong() == cat)
            parent_item = f.panel.tree()->topLevelItem(i);
    ASSERT_NE(parent_item, nullptr);
    ASSERT_EQ(parent_item->childCount(), 1);
    EXPECT_EQ(parent_item->child(0)->data(0, Qt::UserRole).toLongLong(), child);
    EXPECT_FALSE(parent_item->icon(0).isNull());

    f.panel.search()->setText("lighthouse");
    f.settle();
    ASSERT_EQ(f.panel.count(), 1);
    EXPECT_TRUE(f.panel.tree()->topLevelItem(0)->text(0).contains("lighthouse"));
    f.panel.search()->setText("");
    f.panel.stateFilter()->setCurrentIndex(f.panel.stateFilter()->findData(QString("failed")));
    f.settle();
    EXPECT_EQ(f.panel.count(), 0);
}

TEST(History, DeleteIsUndoable) {
    test::app();
    Fixture f;
    f.studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    const int64_t a = f.run("first", 1);
    f.run("second", 2);
    f.settle();
    ASSERT_EQ(f.panel.count(), 2);
    f.hc.remove(a);
    f.settle();
    EXPECT_EQ(f.panel.count(), 1);
    EXPECT_TRUE(f.undo.canUndo());
    f.undo.undo();
    f.settle();
    EXPECT_EQ(f.panel.count(), 2);
    f.undo.redo();
    f.settle();
    EXPECT_EQ(f.panel.count(), 1);
}

TEST(History, RestoreGivesTheRecipeBackAndRerunQueuesIt) {
    test::app();
    Fixture f;
    f.studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    const int64_t a = f.run("a green teapot", 77);
    QSignalSpy restored(&f.hc, &HistoryController::settingsRestored);
    f.hc.restore(a);
    ASSERT_EQ(restored.count(), 1);
    const auto s = restored.at(0).at(0).value<GenerationSettings>();
    EXPECT_EQ(s.prompt, "a green teapot");
    EXPECT_EQ(s.seed, 77u);
    EXPECT_TRUE(s.seed_locked);

    const size_t before = f.studio.ids().size();
    f.hc.rerun(a);
    ASSERT_EQ(f.studio.ids().size(), before + 1);
    const int64_t again = f.studio.ids().back();
    ASSERT_TRUE(waitFor([&] { return f.studio.generation(again)->state == JobState::Finished; }));
    EXPECT_EQ(f.studio.generation(again)->tokens(),
              f.studio.generation(a)->tokens()); // same seed, same picture
}

TEST(History, RatingNotesAndTagsEditsAreUndoable) {
    test::app();
    Fixture f;
    f.studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    const int64_t a = f.run("a blue kite", 3);
    f.run("a brass bell", 4);
    f.settle();
    f.panel.select(a);
    ASSERT_TRUE(f.panel.applyNotesButton()->isEnabled());
    EXPECT_EQ(f.panel.ratingEditor()->value(), 0);

    // As a user would: fill the editor and apply.
    f.panel.ratingEditor()->setValue(4);
    f.panel.notesEditor()->setText("keep the sky");
    f.panel.tagsEditor()->setText("sky, kite , ,sky");
    f.panel.applyNotesButton()->click();
    f.settle();
    const HistoryNotes edited{4, "keep the sky", {"sky", "kite"}};
    EXPECT_EQ(f.panel.notesOf(a), edited);
    EXPECT_EQ(f.panel.ratingEditor()->value(), 4); // the editor shows the stored values
    EXPECT_EQ(f.panel.tagsEditor()->text(), "sky, kite");
    ASSERT_EQ(f.undo.count(), 1);
    // Notes and tags are searchable.
    f.panel.search()->setText("kite");
    f.settle();
    EXPECT_EQ(f.panel.count(), 1);
    f.panel.search()->setText("");
    f.settle();

    f.undo.undo();
    f.settle();
    EXPECT_EQ(f.panel.notesOf(a), HistoryNotes{});
    f.undo.redo();
    f.settle();
    EXPECT_EQ(f.panel.notesOf(a), edited);

    // A second edit undoes back to the first, not to nothing; an unchanged apply adds no command.
    f.hc.annotate(a, {2, "keep the sky", {"sky"}});
    f.settle();
    f.hc.annotate(a, {2, "keep the sky", {"sky"}});
    EXPECT_EQ(f.undo.count(), 2);
    f.undo.undo();
    f.settle();
    EXPECT_EQ(f.panel.notesOf(a), edited);
    // Out-of-range ratings are clamped.
    f.hc.annotate(a, {9, "", {}});
    f.settle();
    EXPECT_EQ(f.panel.notesOf(a).rating, 5);
}
