#include "tessera/widgets/token_mosaic.h"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>

namespace tessera::widgets {

TokenMosaic::TokenMosaic(QWidget* parent) : QWidget(parent) {
    setMinimumSize(64, 64);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void TokenMosaic::setGrid(int rows, int cols) {
    rows_ = std::max(0, rows);
    cols_ = std::max(0, cols);
    tokens_.assign(static_cast<size_t>(rows_ * cols_), -1);
    update();
}

int TokenMosaic::sampledCount() const {
    return static_cast<int>(std::count_if(tokens_.begin(), tokens_.end(), [](int t) { return t >= 0; }));
}

void TokenMosaic::setPreview(const QImage& image) {
    preview_ = image;
    update();
}

void TokenMosaic::markSampled(int position, int token_id) {
    if (position < 0 || position >= static_cast<int>(tokens_.size())) return;
    tokens_[static_cast<size_t>(position)] = token_id;
    update(cellRect(position).toAlignedRect());
}

void TokenMosaic::reset() {
    std::fill(tokens_.begin(), tokens_.end(), -1);
    preview_ = QImage();
    update();
}

QRectF TokenMosaic::cellRect(int position) const {
    if (cols_ == 0 || rows_ == 0) return {};
    const qreal side = std::min(width() / static_cast<qreal>(cols_), height() / static_cast<qreal>(rows_));
    const qreal x0 = (width() - side * cols_) / 2, y0 = (height() - side * rows_) / 2;
    return {x0 + (position % cols_) * side, y0 + (position / cols_) * side, side, side};
}

void TokenMosaic::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Window).darker(160));
    for (int i = 0; i < static_cast<int>(tokens_.size()); ++i) {
        const QRectF r = cellRect(i);
        const int tok = tokens_[static_cast<size_t>(i)];
        if (tok < 0) {
            p.fillRect(r.adjusted(0.5, 0.5, -0.5, -0.5), QColor(40, 40, 46));
            continue;
        }
        if (!preview_.isNull()) {
            const QRectF src(preview_.width() * (i % cols_) / static_cast<qreal>(cols_),
                             preview_.height() * (i / cols_) / static_cast<qreal>(rows_),
                             preview_.width() / static_cast<qreal>(cols_), preview_.height() / static_cast<qreal>(rows_));
            p.drawImage(r, preview_, src);
        } else {
            p.fillRect(r, QColor::fromHsv((tok * 47) % 360, 140, 200));
        }
    }
}

void TokenMosaic::mousePressEvent(QMouseEvent* event) {
    for (int i = 0; i < static_cast<int>(tokens_.size()); ++i) {
        if (cellRect(i).contains(event->position())) {
            emit cellClicked(i);
            return;
        }
    }
}

} // namespace tessera::widgets
