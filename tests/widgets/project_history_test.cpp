// The History dock over a real project folder (tessera::projects): records, search, load, branches
// and soft delete, all answered on the GUI thread from the project's own thread.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QElapsedTimer>
#include <QLineEdit>
#include <QThread>
#include <QThreadPool>
#include <QtTest/QTest>
#include <QTimer>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QUndoStack>
#include <gtest/gtest.h>
#include <sqlite3.h>

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

// The studio opens projects on a pool thread: a project whose database another process holds locked
// (Project::open then waits up to its busy timeout) must not stop the GUI event loop, and the result
// arrives on the GUI thread once the lock goes.
TEST(ProjectHistory, OpeningALockedProjectNeverBlocksTheGuiThread) {
    test::app();
    QTemporaryDir dir;
    const QString folder = dir.filePath("p");
    ASSERT_TRUE(openProjectHistory(folder, true).ok());
    QThreadPool::globalInstance()->waitForDone(); // that source closes its project on the pool
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((folder + "/project.db").toUtf8().constData(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    // In WAL mode only the exclusive locking mode keeps readers out as well.
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);

    QObject receiver;
    bool answered = false, opened = false;
    QThread* answered_on = nullptr;
    openProjectHistoryAsync(folder, false, &receiver, [&](Expected<std::unique_ptr<HistorySource>> s) {
        answered = true;
        opened = s.ok();
        answered_on = QThread::currentThread();
    });
    // The event loop keeps turning while the open waits on the lock.
    QElapsedTimer clock;
    clock.start();
    qint64 last = 0, worst = 0;
    QTimer tick;
    tick.setInterval(5);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        worst = std::max(worst, clock.elapsed() - last);
        last = clock.elapsed();
    });
    tick.start();
    // An exclusive-mode connection keeps its lock until it closes.
    QTimer::singleShot(400, [&] {
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        db = nullptr;
    });
    ASSERT_TRUE(waitFor([&] { return answered; }, 20000));
    tick.stop();
    if (db) sqlite3_close(db);
    EXPECT_GE(clock.elapsed(), 400) << "the open did not wait for the lock: the test proves nothing";
    EXPECT_TRUE(opened);
    EXPECT_EQ(answered_on, QThread::currentThread());
    EXPECT_LE(worst, 100) << "the GUI thread stalled " << worst << " ms while the project opened";
}

TEST(ProjectHistory, AsyncOpenReportsErrorsAndDropsAnswersForAGoneReceiver) {
    test::app();
    QTemporaryDir dir;
    QObject receiver;
    bool answered = false;
    std::string error;
    openProjectHistoryAsync(dir.filePath("nothing-here"), false, &receiver,
                            [&](Expected<std::unique_ptr<HistorySource>> s) {
                                answered = true;
                                if (!s) error = s.error();
                            });
    ASSERT_TRUE(waitFor([&] { return answered; }));
    EXPECT_FALSE(error.empty());

    bool late = false;
    {
        QObject gone;
        openProjectHistoryAsync(dir.filePath("p"), true, &gone,
                                [&](Expected<std::unique_ptr<HistorySource>>) { late = true; });
    }
    QThreadPool::globalInstance()->waitForDone();
    QTest::qWait(50);
    EXPECT_FALSE(late);
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
