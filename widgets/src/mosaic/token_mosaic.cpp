#include "tessera/widgets/token_mosaic.h"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>
#include <cmath>

namespace tessera::widgets {

QString overlayName(MosaicOverlay overlay) {
    switch (overlay) {
    case MosaicOverlay::None:
        return QObject::tr("No overlay");
    case MosaicOverlay::Probability:
        return QObject::tr("Probability");
    case MosaicOverlay::Entropy:
        return QObject::tr("Entropy (nats)");
    case MosaicOverlay::Rank:
        return QObject::tr("Rank");
    case MosaicOverlay::Guidance:
        return QObject::tr("Guidance shift (KL)");
    case MosaicOverlay::AcceptedStep:
        return QObject::tr("Accepted at step");
    }
    return {};
}

QColor overlayColor(float t) {
    // Three stops of a perceptually ordered ramp; readable on light and dark palettes.
    t = std::clamp(std::isfinite(t) ? t : 0.f, 0.f, 1.f);
    const QColor a(48, 18, 110), b(33, 145, 140), c(250, 230, 35);
    const auto mix = [](const QColor& x, const QColor& y, float u) {
        return QColor::fromRgbF(x.redF() + (y.redF() - x.redF()) * u,
                                x.greenF() + (y.greenF() - x.greenF()) * u,
                                x.blueF() + (y.blueF() - x.blueF()) * u);
    };
    return t < 0.5f ? mix(a, b, t * 2) : mix(b, c, (t - 0.5f) * 2);
}

TokenMosaic::TokenMosaic(QWidget* parent) : QWidget(parent) {
    setMinimumSize(64, 64);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void TokenMosaic::setGrid(int rows, int cols) {
    rows_ = std::max(0, rows);
    cols_ = std::max(0, cols);
    cells_.assign(static_cast<size_t>(rows_ * cols_), {});
    selected_ = -1;
    update();
}

int TokenMosaic::sampledCount() const {
    return static_cast<int>(
        std::count_if(cells_.begin(), cells_.end(), [](const TokenRecord& c) { return c.token >= 0; }));
}

void TokenMosaic::setPreview(const QImage& image) {
    preview_ = image;
    update();
}

void TokenMosaic::setOverlay(MosaicOverlay overlay) {
    overlay_ = overlay;
    update();
}

void TokenMosaic::setSelected(int position) {
    selected_ = (position >= 0 && position < static_cast<int>(cells_.size())) ? position : -1;
    update();
}

void TokenMosaic::setBanner(const QString& text) {
    banner_ = text;
    update();
}

void TokenMosaic::markSampled(int position, int token_id) {
    TokenRecord c;
    c.token = token_id;
    setCell(position, c);
}

void TokenMosaic::setCell(int position, const TokenRecord& cell) {
    if (position < 0 || position >= static_cast<int>(cells_.size())) return;
    cells_[static_cast<size_t>(position)] = cell;
    // With an overlay the legend's range may move: repaint everything.
    if (overlay_ == MosaicOverlay::None)
        update(cellRect(position).toAlignedRect().adjusted(-2, -2, 2, 2));
    else
        update();
}

void TokenMosaic::reset() {
    std::fill(cells_.begin(), cells_.end(), TokenRecord{});
    preview_ = QImage();
    update();
}

QRectF TokenMosaic::cellRect(int position) const {
    if (cols_ == 0 || rows_ == 0) return {};
    const qreal side = std::min(width() / static_cast<qreal>(cols_), height() / static_cast<qreal>(rows_));
    const qreal x0 = (width() - side * cols_) / 2, y0 = (height() - side * rows_) / 2;
    return {x0 + (position % cols_) * side, y0 + (position / cols_) * side, side, side};
}

QPoint TokenMosaic::cellCenter(int position) const {
    return cellRect(position).center().toPoint();
}

float TokenMosaic::statistic(const TokenRecord& c) const {
    switch (overlay_) {
    case MosaicOverlay::Probability:
        return c.probability;
    case MosaicOverlay::Entropy:
        return c.entropy;
    case MosaicOverlay::Rank:
        return std::log2(1.f + static_cast<float>(c.rank)); // ranks span decades
    case MosaicOverlay::Guidance:
        return c.guidance_kl;
    case MosaicOverlay::AcceptedStep:
        return static_cast<float>(std::max(0, c.step));
    case MosaicOverlay::None:
        break;
    }
    return 0;
}

std::optional<float> TokenMosaic::overlayValueAt(int position) const {
    if (overlay_ == MosaicOverlay::None || position < 0 || position >= static_cast<int>(cells_.size()))
        return std::nullopt;
    const TokenRecord& c = cells_[static_cast<size_t>(position)];
    if (c.token < 0 || (overlay_ == MosaicOverlay::AcceptedStep && c.step < 0)) return std::nullopt;
    return statistic(c);
}

std::pair<float, float> TokenMosaic::overlayRange() const {
    if (overlay_ == MosaicOverlay::Probability) return {0.f, 1.f};
    float hi = 0;
    for (const auto& c : cells_)
        if (c.token >= 0 && std::isfinite(statistic(c))) hi = std::max(hi, statistic(c));
    return {0.f, hi > 0 ? hi : 1.f};
}

void TokenMosaic::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QColor base = palette().color(QPalette::Window);
    p.fillRect(rect(), base.lightness() > 128 ? base.darker(115) : base.darker(160));
    const auto [lo, hi] = overlayRange();
    if (cells_.empty()) return;
    // The whole grid is painted with a few scaled images, one pixel per cell, rather than one call
    // per cell: a 48×48 grid repaints at every token and must stay cheap.
    const QRectF grid = cellRect(0).united(cellRect(static_cast<int>(cells_.size()) - 1));
    if (!preview_.isNull()) p.drawImage(grid, preview_);
    QImage cells(cols_, rows_, QImage::Format_ARGB32);
    for (int i = 0; i < static_cast<int>(cells_.size()); ++i) {
        const TokenRecord& c = cells_[static_cast<size_t>(i)];
        QColor colour(Qt::transparent);
        if (c.token < 0) {
            colour = QColor(40, 40, 46);
        } else if (overlay_ != MosaicOverlay::None) {
            colour = overlayColor((statistic(c) - lo) / std::max(1e-6f, hi - lo));
            colour.setAlpha(preview_.isNull() ? 255 : 200);
        } else if (preview_.isNull()) {
            colour = QColor::fromHsv((c.token * 47) % 360, 140, 200);
        }
        cells.setPixel(i % cols_, i / cols_, colour.rgba());
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(grid, cells);
    // Cell borders, where cells are large enough for them to help.
    const qreal side = grid.width() / cols_;
    if (side >= 8) {
        QColor line = base.lightness() > 128 ? base.darker(160) : base.darker(220);
        line.setAlpha(110);
        p.setPen(QPen(line, 1));
        for (int c = 1; c < cols_; ++c)
            p.drawLine(QPointF(grid.left() + c * side, grid.top()),
                       QPointF(grid.left() + c * side, grid.bottom()));
        for (int r = 1; r < rows_; ++r)
            p.drawLine(QPointF(grid.left(), grid.top() + r * side),
                       QPointF(grid.right(), grid.top() + r * side));
    }
    if (selected_ >= 0) {
        p.setPen(QPen(palette().color(QPalette::Highlight), 3));
        p.setBrush(Qt::NoBrush);
        p.drawRect(cellRect(selected_).adjusted(1.5, 1.5, -1.5, -1.5));
    }
    if (overlay_ != MosaicOverlay::None) paintLegend(p, lo, hi);
    if (!banner_.isEmpty()) {
        QFont f = font();
        f.setBold(true);
        p.setFont(f);
        const QRect band(0, 0, width(), p.fontMetrics().height() + 8);
        p.fillRect(band, QColor(150, 90, 0, 200));
        p.setPen(Qt::white);
        p.drawText(band, Qt::AlignCenter, p.fontMetrics().elidedText(banner_, Qt::ElideRight, width() - 8));
    }
}

void TokenMosaic::paintLegend(QPainter& p, float lo, float hi) {
    const int w = std::min(220, width() - 20), h = 12;
    const QRect bar(10, height() - h - 26, w, h);
    p.fillRect(bar.adjusted(-6, -20, 6, 22), QColor(0, 0, 0, 170));
    for (int x = 0; x < w; ++x)
        p.fillRect(bar.x() + x, bar.y(), 1, h, overlayColor(x / float(std::max(1, w - 1))));
    p.setPen(Qt::white);
    const auto label = [&](float v) {
        if (overlay_ == MosaicOverlay::Rank) return QString::number(std::exp2(v) - 1, 'f', 0);
        if (overlay_ == MosaicOverlay::AcceptedStep) return QString::number(std::lround(v) + 1); // 1-based as shown
        return QString::number(v, 'g', 3);
    };
    p.drawText(QRect(bar.x(), bar.y() - 18, w, 16), Qt::AlignLeft | Qt::AlignVCenter, overlayName(overlay_));
    p.drawText(QRect(bar.x(), bar.bottom() + 2, w, 16), Qt::AlignLeft | Qt::AlignVCenter, label(lo));
    p.drawText(QRect(bar.x(), bar.bottom() + 2, w, 16), Qt::AlignRight | Qt::AlignVCenter, label(hi));
}

void TokenMosaic::mousePressEvent(QMouseEvent* event) {
    for (int i = 0; i < static_cast<int>(cells_.size()); ++i) {
        if (cellRect(i).contains(event->position())) {
            Q_EMIT cellClicked(i);
            return;
        }
    }
}

} // namespace tessera::widgets
