#include "tessera/widgets/clip_timeline.h"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>

namespace tessera::widgets {

namespace {
constexpr int kGap = 3; // pixels between segments
} // namespace

ClipTimeline::ClipTimeline(QWidget* parent) : QWidget(parent) {
    setObjectName("clipTimeline");
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setToolTip(tr("Clips between consecutive keyframes: a segment fills as its clip decodes; click one "
                  "to jump to it"));
}

void ClipTimeline::setClipCount(int clips) {
    fill_.assign(static_cast<size_t>(std::max(0, clips)), 0.0);
    position_clip_ = -1;
    update();
}

void ClipTimeline::setFill(int clip, double fraction) {
    if (clip < 0 || clip >= clipCount()) return;
    fill_[static_cast<size_t>(clip)] = std::clamp(fraction, 0.0, 1.0);
    update();
}

double ClipTimeline::fill(int clip) const {
    return clip >= 0 && clip < clipCount() ? fill_[static_cast<size_t>(clip)] : 0.0;
}

void ClipTimeline::setPosition(int clip, double within) {
    position_clip_ = clip;
    position_within_ = std::clamp(within, 0.0, 1.0);
    update();
}

QRect ClipTimeline::segmentRect(int clip) const {
    const int n = clipCount();
    if (clip < 0 || clip >= n) return {};
    const int usable = width() - 2 - kGap * (n - 1);
    const int x0 = 1 + clip * (usable / std::max(1, n) + kGap) + std::min(clip, usable % std::max(1, n));
    const int w = usable / std::max(1, n) + (clip < usable % std::max(1, n) ? 1 : 0);
    return QRect(x0, 2, std::max(1, w), height() - 4);
}

int ClipTimeline::clipAt(int x) const {
    for (int c = 0; c < clipCount(); ++c) {
        const QRect r = segmentRect(c);
        if (x >= r.left() && x <= r.right()) return c;
    }
    return -1;
}

QSize ClipTimeline::sizeHint() const {
    return {320, 22};
}

QSize ClipTimeline::minimumSizeHint() const {
    return {60, 22};
}

void ClipTimeline::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    for (int c = 0; c < clipCount(); ++c) {
        const QRect r = segmentRect(c);
        p.fillRect(r, QColor(60, 60, 60));
        const double f = fill_[static_cast<size_t>(c)];
        if (f > 0) {
            QRect done = r;
            done.setWidth(std::max(1, static_cast<int>(r.width() * f)));
            p.fillRect(done, f >= 1.0 ? QColor(70, 150, 220) : QColor(200, 150, 60));
        }
        p.setPen(QColor(20, 20, 20));
        p.drawRect(r.adjusted(0, 0, -1, -1));
        p.setPen(Qt::white);
        p.drawText(r, Qt::AlignCenter, QString::number(c + 1));
    }
    if (position_clip_ >= 0 && position_clip_ < clipCount()) {
        const QRect r = segmentRect(position_clip_);
        const int x = r.left() + static_cast<int>((r.width() - 1) * position_within_);
        p.fillRect(QRect(x - 1, 0, 3, height()), QColor(240, 60, 60));
    }
}

void ClipTimeline::mousePressEvent(QMouseEvent* event) {
    const int c = clipAt(static_cast<int>(event->position().x()));
    if (c >= 0) Q_EMIT clipClicked(c);
}

} // namespace tessera::widgets
