// TokenMosaic overlays and legend; MosaicController's live follow, scrubber replay and cell clicks.
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QComboBox>
#include <QSignalSpy>
#include <QSlider>
#include <gtest/gtest.h>

using namespace tessera;
using namespace tessera::widgets;
using tessera::test::SyntheticGenerator;
using tessera::test::waitFor;

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
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    MosaicView view;
    view.resize(300, 340);
    MosaicController mc(&studio, &view);
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
    test::app();
    EngineBridge bridge;
    StudioController studio(&bridge);
    studio.setGenerator(std::make_shared<SyntheticGenerator>(4, 4));
    MosaicView view;
    view.resize(300, 340);
    MosaicController mc(&studio, &view);
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

TEST(MosaicView, OverlayPickerSetsTheMosaicOverlay) {
    test::app();
    MosaicView view;
    QSignalSpy spy(&view, &MosaicView::overlayChanged);
    view.overlayPicker()->setCurrentIndex(
        view.overlayPicker()->findData(static_cast<int>(MosaicOverlay::Rank)));
    EXPECT_EQ(view.mosaic()->overlay(), MosaicOverlay::Rank);
    EXPECT_EQ(spy.count(), 1);
}
