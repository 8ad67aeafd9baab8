// The History dock over a real project folder (tessera::projects): records, search, load, branches
// and soft delete, all answered on the GUI thread from the project's own thread.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QLineEdit>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QUndoStack>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {

// A studio whose History dock is backed by a new project in a temporary folder.
struct ProjectStudio {
    bool app_ready = (test::app(), true); // QApplication before any widget
    QTemporaryDir dir;
    EngineBridge bridge;
    StudioController studio{&bridge};
    HistoryPanel panel;
    QUndoStack undo;
    HistoryController hc{&studio, &panel, &undo};

    // Creates the project and hands it to the History controller; returns the error text on failure.
    std::string open() {
        auto opened = openProjectHistory(dir.filePath("p"), true);
        if (!opened.ok()) return opened.error().empty() ? std::string("failed") : opened.error();
        studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
        hc.setSource(opened->release());
        return {};
    }
};

} // namespace

TEST(ProjectHistory, RefusesAFolderThatIsNoProject) {
    QTemporaryDir dir;
    auto s = openProjectHistory(dir.filePath("nothing-here"));
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(s.error().empty());
}

TEST(ProjectHistory, RecordsLoadsSearchesBranchesAndHides) {
    ProjectStudio rig;
    ASSERT_EQ(rig.open(), "");
    StudioController& studio = rig.studio;
    HistoryPanel& panel = rig.panel;
    QUndoStack& undo = rig.undo;
    HistoryController& hc = rig.hc;

    GenerationSettings s;
    s.prompt = "an orange submarine";
    s.seed = 5;
    const int64_t a = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return studio.generation(a)->stored_id != 0; }));
    const int64_t stored_a = studio.generation(a)->stored_id;
    const int64_t child = studio.branch(a, 4, 9);
    ASSERT_TRUE(waitFor([&] { return studio.generation(child)->stored_id != 0; }));
    ASSERT_TRUE(waitFor([&] { return panel.count() == 2; }));
    ASSERT_EQ(panel.tree()->topLevelItemCount(), 1);
    ASSERT_EQ(panel.tree()->topLevelItem(0)->childCount(), 1); // the branch, under its parent
    EXPECT_FALSE(panel.tree()->topLevelItem(0)->icon(0).isNull());

    // Load back what was stored: tokens, statistics, candidates, picture.
    std::optional<Generation> loaded;
    bool answered = false;
    hc.source()->load(stored_a, [&](std::optional<Generation> g) {
        loaded = std::move(g);
        answered = true;
    });
    ASSERT_TRUE(waitFor([&] { return answered; }));
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->settings.prompt, "an orange submarine");
    EXPECT_EQ(loaded->settings.seed, 5u);
    EXPECT_EQ(loaded->rows, 4);
    EXPECT_EQ(loaded->tokens(), studio.generation(a)->tokens());
    EXPECT_FLOAT_EQ(loaded->cells[1].probability, 0.5f);
    EXPECT_EQ(loaded->cells[2].top_ids.size(), 3u);
    EXPECT_EQ(loaded->cells[3].rank, 3);
    EXPECT_FALSE(loaded->image.isNull());

    // Opening a stored generation that this session did not make adopts it for replay.
    hc.open(stored_a); // known locally: just selected
    EXPECT_EQ(studio.current(), a);

    panel.search()->setText("submarine");
    ASSERT_TRUE(waitFor([&] { return panel.count() == 2; }));
    panel.search()->setText("zeppelin");
    ASSERT_TRUE(waitFor([&] { return panel.count() == 0; }));
    panel.search()->setText("");
    ASSERT_TRUE(waitFor([&] { return panel.count() == 2; }));

    hc.remove(studio.generation(child)->stored_id);
    ASSERT_TRUE(waitFor([&] { return panel.count() == 1; }));
    undo.undo();
    ASSERT_TRUE(waitFor([&] { return panel.count() == 2; }));
}

TEST(ProjectHistory, RatingNotesAndTagsAreWrittenToTheProjectAndUndoable) {
    ProjectStudio rig;
    ASSERT_EQ(rig.open(), "");
    StudioController& studio = rig.studio;
    HistoryPanel& panel = rig.panel;
    QUndoStack& undo = rig.undo;
    HistoryController& hc = rig.hc;
    GenerationSettings s;
    s.prompt = "a paper crane";
    s.seed = 8;
    const int64_t a = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return studio.generation(a)->stored_id != 0; }));
    const int64_t stored = studio.generation(a)->stored_id;
    ASSERT_TRUE(waitFor([&] { return panel.count() == 1; }));

    // What the dock shows after each step is read back from the project database.
    const HistoryNotes edited{3, "fold again", {"origami", "white"}};
    hc.annotate(stored, edited);
    ASSERT_TRUE(waitFor([&] { return panel.notesOf(stored) == edited; }));
    undo.undo();
    ASSERT_TRUE(waitFor([&] { return panel.notesOf(stored) == HistoryNotes{}; }));
    undo.redo();
    ASSERT_TRUE(waitFor([&] { return panel.notesOf(stored) == edited; }));
    // Deleting still hides it, and undo of the delete keeps the notes.
    hc.remove(stored);
    ASSERT_TRUE(waitFor([&] { return panel.count() == 0; }));
    undo.undo();
    ASSERT_TRUE(waitFor([&] { return panel.count() == 1; }));
    EXPECT_EQ(panel.notesOf(stored), edited);
}
