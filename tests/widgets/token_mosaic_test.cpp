#include <gtest/gtest.h>

#include <QApplication>
#include <QImage>
#include <QSignalSpy>
#include <QTest>

#include "tessera/widgets/token_mosaic.h"

namespace {

int argc_ = 1;
char arg0_[] = "widgets_test";
char* argv_[] = {arg0_, nullptr};

QApplication& app() {
    // Never destroyed: Qt objects of other statics may outlive it at exit.
    static QApplication* a = new QApplication(argc_, argv_);
    return *a;
}

} // namespace

TEST(TokenMosaic, SampledCellsChangeColourAndClicksReportTheCell) {
    app();
    tessera::widgets::TokenMosaic m;
    m.resize(100, 100);
    m.setGrid(4, 4);
    m.show();
    const QImage before = m.grab().toImage();
    m.markSampled(0, 5);
    EXPECT_EQ(m.sampledCount(), 1);
    const QImage after = m.grab().toImage();
    EXPECT_NE(before.pixel(12, 12), after.pixel(12, 12)); // first cell now coloured
    EXPECT_EQ(before.pixel(87, 87), after.pixel(87, 87)); // last cell untouched

    QSignalSpy spy(&m, &tessera::widgets::TokenMosaic::cellClicked);
    QTest::mouseClick(&m, Qt::LeftButton, {}, QPoint(87, 87));
    ASSERT_EQ(spy.count(), 1);
    EXPECT_EQ(spy.at(0).at(0).toInt(), 15);
}
