// CellInspector + InspectorController: alternatives of a clicked cell, decoded patches, branching.
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/studio_controller.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

TEST(CellInspector, ShowsTheAlternativesOfTheClickedCellAndBranchesFromIt) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    auto gen = std::make_shared<SyntheticGenerator>(4, 4);
    studio.setGenerator(gen);
    CellInspector view;
    InspectorController ic(&studio, &view);
    view.show();
    GenerationSettings s;
    s.seed = 2;
    const int64_t id = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return studio.generation(id)->state == JobState::Finished; }));

    ic.inspect(id, 6);
    const int32_t sampled = SyntheticGenerator::tokenAt(2, 6, 64);
    ASSERT_EQ(view.alternativeCount(), 3);
    EXPECT_EQ(view.table()->item(0, 1)->data(Qt::UserRole).toInt(), sampled);
    EXPECT_EQ(view.table()->item(1, 1)->data(Qt::UserRole).toInt(), (sampled + 1) % 64);
    // The first alternative that is not the sampled token is preselected for branching.
    EXPECT_EQ(view.chosenToken(), (sampled + 1) % 64);
    // Three alternatives: three decodes for their patches (the grid is small).
    ASSERT_TRUE(waitFor([&] { return gen->decodes() == 3; }));

    QSignalSpy branched(&ic, &InspectorController::branched);
    view.branchButton()->click();
    ASSERT_EQ(branched.count(), 1);
    const int64_t child = branched.at(0).at(0).toLongLong();
    ASSERT_TRUE(waitFor([&] { return studio.generation(child)->state == JobState::Finished; }));
    const Generation* c = studio.generation(child);
    EXPECT_EQ(c->parent_id, id);
    EXPECT_EQ(c->branch_token, 6);
    EXPECT_EQ(c->cells[6].token, (sampled + 1) % 64);
    EXPECT_EQ(c->cells[5].token, SyntheticGenerator::tokenAt(2, 5, 64));
}

TEST(CellInspector, AnUnsampledCellShowsNothingToBranchFrom) {
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    CellInspector view;
    InspectorController ic(&studio, &view);
    ic.inspect(12345, 0);
    EXPECT_EQ(view.alternativeCount(), 0);
    EXPECT_FALSE(view.branchButton()->isEnabled());
}
