// QueuePanel + QueueController over the real Scheduler: order, drag to reorder, priority, pause, cancel.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/queue_panel.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {
std::vector<int64_t> queuedIds(Scheduler& s) {
    std::vector<int64_t> out;
    for (const auto& j : s.jobs())
        if (j.state == JobState::Queued) out.push_back(j.id);
    return out;
}
int rowOf(QListWidget* list, int64_t id) {
    for (int r = 0; r < list->count(); ++r)
        if (list->item(r)->data(Qt::UserRole).toLongLong() == id) return r;
    return -1;
}
} // namespace

TEST(Queue, ListsJobsAndReordersPrioritisesPausesAndCancels) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    auto gen = std::make_shared<SyntheticGenerator>(4, 4);
    gen->hold(); // the first job blocks the single worker; the rest stay queued
    studio.setGenerator(gen);
    QueuePanel panel;
    QueueController qc(&bridge, &panel);
    panel.show();
    const int64_t a = studio.generate(GenerationSettings{});
    ASSERT_TRUE(waitFor([&] { return bridge.scheduler().state(a) == JobState::Running; }));
    const int64_t b = studio.generate(GenerationSettings{});
    const int64_t c = studio.generate(GenerationSettings{});
    const int64_t d = studio.generate(GenerationSettings{});
    ASSERT_TRUE(waitFor([&] { return panel.list()->count() == 4; }));
    EXPECT_EQ(rowOf(panel.list(), a), 0); // running first
    EXPECT_EQ(queuedIds(bridge.scheduler()), (std::vector<int64_t>{b, c, d}));

    // Drag d to the top of the queued jobs (row 1, just under the running one).
    QListWidget* list = panel.list();
    list->setCurrentRow(rowOf(list, d));
    list->model()->moveRow(QModelIndex(), rowOf(list, d), QModelIndex(), 1);
    EXPECT_EQ(queuedIds(bridge.scheduler()), (std::vector<int64_t>{d, b, c}));
    EXPECT_EQ(rowOf(panel.list(), d), 1);

    // Priority: c above everything.
    list->setCurrentRow(rowOf(list, c));
    panel.priority()->setValue(panel.priority()->value() + 5);
    EXPECT_EQ(queuedIds(bridge.scheduler()).front(), c);

    // Cancel one.
    list->setCurrentRow(rowOf(list, b));
    panel.cancelButton()->click();
    EXPECT_EQ(bridge.scheduler().state(b), JobState::Cancelled);
    EXPECT_EQ(queuedIds(bridge.scheduler()), (std::vector<int64_t>{c, d}));

    // Pause: the running job finishes, nothing new starts.
    panel.pauseButton()->click();
    EXPECT_TRUE(bridge.scheduler().paused());
    gen->release();
    ASSERT_TRUE(waitFor([&] { return bridge.scheduler().state(a) == JobState::Finished; }));
    QTest::qWait(50);
    EXPECT_EQ(bridge.scheduler().state(c), JobState::Queued);
    panel.pauseButton()->click();
    EXPECT_FALSE(bridge.scheduler().paused());
    ASSERT_TRUE(waitFor([&] { return bridge.scheduler().state(d) == JobState::Finished; }));
    EXPECT_EQ(bridge.scheduler().state(c), JobState::Finished);
}
