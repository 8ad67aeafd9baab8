// TokenMosaic overlays and legend; MosaicController's live follow, scrubber replay, cell clicks and batch
// picker.
#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableWidget>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

namespace {

// The mosaic view and its controller over a studio running the 4x4 synthetic generator (not shown yet).
struct MosaicRig {
    bool app_ready = (test::app(), true); // QApplication before any widget
    EngineBridge bridge;
    StudioController studio{&bridge};
    MosaicView view;
    MosaicController mc{&studio, &view};

    MosaicRig() {
        studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
        view.resize(300, 340);
    }
};

} // namespace

TEST(TokenMosaic, SampledCellsChangeColourAndClicksReportTheCell) {
    test::app();
    TokenMosaic m;
    m.resize(100, 100);
    m.setGrid(4, 4);
    m.show();
    const QImage before = m.grab().toImage();
    m.markSampled(0, 5);
    EXPECT_EQ(m.sampledCount(), 1);
    const QImage after = m.grab().toImage();
    EXPECT_NE(before.pixel(12, 12), after.pixel(12, 12)); // first cell now coloured
    EXPECT_EQ(before.pixel(87, 87), after.pixel(87, 87)); // last cell untouched

    QSignalSpy spy(&m, &TokenMosaic::cellClicked);
    QTest::mouseClick(&m, Qt::LeftButton, {}, QPoint(87, 87));
    ASSERT_EQ(spy.count(), 1);
    EXPECT_EQ(spy.at(0).at(0).toInt(), 15);
}

TEST(TokenMosaic, OverlayColoursCellsByTheirStatistic) {
    test::app();
    TokenMosaic m;
    m.resize(200, 200);
    m.setGrid(2, 2);
    TokenRecord sure, unsure;
    sure.token = unsure.token = 7; // same token: without overlay both cells look alike
    sure.probability = 1.0f;
    unsure.probability = 0.0f;
    m.setCell(0, sure);
    m.setCell(1, unsure);
    m.show();
    const QImage plain = m.grab().toImage();
    EXPECT_EQ(plain.pixelColor(m.cellCenter(0)), plain.pixelColor(m.cellCenter(1)));
    m.setOverlay(MosaicOverlay::Probability);
    const auto [lo, hi] = m.overlayRange();
    EXPECT_FLOAT_EQ(lo, 0.f);
    EXPECT_FLOAT_EQ(hi, 1.f);
    const QImage o = m.grab().toImage();
    const QColor c0 = o.pixelColor(m.cellCenter(0)), c1 = o.pixelColor(m.cellCenter(1));
    EXPECT_NE(c0, c1);
    // High probability maps to the yellow end of the ramp, low to the dark blue end.
    EXPECT_GT(c0.green(), c1.green());
    EXPECT_GT(c0.red(), c1.red());
}

TEST(TokenMosaic, EntropyRangeFollowsTheSampledCells) {
    test::app();
    TokenMosaic m;
    m.setGrid(1, 3);
    m.setOverlay(MosaicOverlay::Entropy);
    TokenRecord a;
    a.token = 1;
    a.entropy = 0.5f;
    TokenRecord b = a;
    b.entropy = 2.5f;
    m.setCell(0, a);
    m.setCell(2, b);
    EXPECT_FLOAT_EQ(m.overlayRange().second, 2.5f);
}

TEST(MosaicController, FollowsLiveThenScrubsBackThroughTheDecodeOrder) {
    MosaicRig rig;
    StudioController& studio = rig.studio;
    MosaicView& view = rig.view;
    MosaicController& mc = rig.mc;
    view.show();
    GenerationSettings s;
    s.seed = 4;
    const int64_t id = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return studio.generation(id)->state == JobState::Finished; }));
    EXPECT_EQ(mc.shown(), id);
    EXPECT_EQ(view.mosaic()->sampledCount(), 16);
    EXPECT_EQ(view.scrubber()->maximum(), 16);
    EXPECT_EQ(view.scrubber()->value(), 16);

    view.scrubber()->setValue(3); // as a user drag would
    EXPECT_EQ(mc.steps(), 3);
    EXPECT_EQ(view.mosaic()->sampledCount(), 3);
    const QImage three = view.mosaic()->grab().toImage();
    // Raster decode order: cells 0..2 filled, cell 3 still dark.
    const QColor dark(40, 40, 46);
    EXPECT_NE(three.pixelColor(view.mosaic()->cellCenter(2)), dark);
    EXPECT_EQ(three.pixelColor(view.mosaic()->cellCenter(3)), dark);

    mc.setPlaying(true);
    ASSERT_TRUE(waitFor([&] { return !mc.playing(); }));
    EXPECT_EQ(mc.steps(), 16);
}

TEST(MosaicController, ClickingACellSelectsIt) {
    MosaicRig rig;
    StudioController& studio = rig.studio;
    MosaicView& view = rig.view;
    MosaicController& mc = rig.mc;
    view.show();
    const int64_t id = studio.generate(GenerationSettings{});
    ASSERT_TRUE(waitFor([&] { return studio.generation(id)->state == JobState::Finished; }));
    QSignalSpy spy(&mc, &MosaicController::cellSelected);
    QTest::mouseClick(view.mosaic(), Qt::LeftButton, {}, view.mosaic()->cellCenter(6));
    ASSERT_EQ(spy.count(), 1);
    EXPECT_EQ(spy.at(0).at(0).toLongLong(), id);
    EXPECT_EQ(spy.at(0).at(1).toInt(), 6);
    EXPECT_EQ(view.mosaic()->selected(), 6);
}

TEST(MosaicController, TheImagePickerSwitchesMosaicAndInspectorBetweenPicturesOfABatch) {
    MosaicRig rig;
    StudioController& studio = rig.studio;
    MosaicView& view = rig.view;
    MosaicController& mc = rig.mc;
    CellInspector inspector_view;
    InspectorController ic(&studio, &inspector_view);
    QObject::connect(&mc, &MosaicController::cellSelected, &ic, &InspectorController::inspect);
    view.show();
    EXPECT_TRUE(view.imagePicker()->isHidden()); // nothing to pick yet
    GenerationSettings s;
    s.seed = 4;
    s.images = 2;
    const int64_t id = studio.generate(s);
    ASSERT_TRUE(waitFor([&] { return studio.generation(id)->state == JobState::Finished; }));
    ASSERT_EQ(studio.generation(id)->imageCount(), 2);
    EXPECT_FALSE(view.imagePicker()->isHidden());
    EXPECT_EQ(view.imagePicker()->maximum(), 2);
    EXPECT_EQ(view.imagePicker()->value(), 1);
    // The synthetic generator's picture b uses seed + b: the two pictures differ in every cell.
    for (int i = 0; i < 16; ++i) EXPECT_EQ(view.mosaic()->tokenAt(i), SyntheticGenerator::tokenAt(4, i, 64));

    QTest::mouseClick(view.mosaic(), Qt::LeftButton, {}, view.mosaic()->cellCenter(6));
    ASSERT_EQ(inspector_view.alternativeCount(), 3);
    EXPECT_EQ(inspector_view.table()->item(0, 1)->data(Qt::UserRole).toInt(),
              SyntheticGenerator::tokenAt(4, 6, 64));

    view.imagePicker()->setValue(2); // as a user would
    EXPECT_EQ(mc.image(), 1);
    EXPECT_EQ(ic.image(), 1);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(view.mosaic()->tokenAt(i), SyntheticGenerator::tokenAt(5, i, 64));
    EXPECT_EQ(view.mosaic()->sampledCount(), 16);
    EXPECT_EQ(view.scrubber()->maximum(), 16);
    EXPECT_EQ(view.mosaic()->selected(), 6); // the same cell, now of the second picture
    const int32_t second = SyntheticGenerator::tokenAt(5, 6, 64);
    ASSERT_EQ(inspector_view.alternativeCount(), 3);
    EXPECT_EQ(inspector_view.table()->item(0, 1)->data(Qt::UserRole).toInt(), second);
    EXPECT_EQ(inspector_view.table()->item(1, 1)->data(Qt::UserRole).toInt(), (second + 1) % 64);

    // Scrubbing works on the chosen picture's decode order.
    view.scrubber()->setValue(3);
    EXPECT_EQ(view.mosaic()->sampledCount(), 3);
    EXPECT_EQ(view.mosaic()->tokenAt(2), SyntheticGenerator::tokenAt(5, 2, 64));

    // Branching from the second picture keeps that picture's first steps, as a single picture.
    QSignalSpy branched(&ic, &InspectorController::branched);
    inspector_view.branchButton()->click();
    ASSERT_EQ(branched.count(), 1);
    const int64_t child = branched.at(0).at(0).toLongLong();
    ASSERT_TRUE(waitFor([&] { return studio.generation(child)->state == JobState::Finished; }));
    const Generation* c = studio.generation(child);
    EXPECT_EQ(c->imageCount(), 1);
    EXPECT_EQ(c->cells[5].token, SyntheticGenerator::tokenAt(5, 5, 64));
    EXPECT_EQ(c->cells[6].token, (second + 1) % 64);

    // Back to the first picture.
    mc.show(id);
    view.imagePicker()->setValue(1);
    EXPECT_EQ(mc.image(), 0);
    EXPECT_EQ(view.mosaic()->tokenAt(6), SyntheticGenerator::tokenAt(4, 6, 64));
}

TEST(MosaicView, OverlayPickerSetsTheMosaicOverlay) {
    test::app();
    MosaicView view;
    QSignalSpy spy(&view, &MosaicView::overlayChanged);
    view.overlayPicker()->setCurrentIndex(
        view.overlayPicker()->findData(static_cast<int>(MosaicOverlay::Rank)));
    EXPECT_EQ(view.mosaic()->overlay(), MosaicOverlay::Rank);
    EXPECT_EQ(spy.count(), 1);
}
