#include "tessera/widgets/acceptance_strip.h"

#include <QPainter>
#include <algorithm>

namespace tessera::widgets {

namespace {
// A step index beyond this is a malformed event, not a grid (the largest grids have 128² cells).
constexpr int kMaxSteps = 1 << 20;
} // namespace

AcceptanceStrip::AcceptanceStrip(QWidget* parent) : QWidget(parent) {
    setObjectName("acceptanceStrip");
    setMinimumSize(120, 18);
    setToolTip(tr("Tokens accepted per decode step of the running job (bars, one per step) against plain "
                  "decoding's tokens per step (line: one token per image, one window per image for "
                  "Token-Shuffle). Speculative decoding's bars rise "
                  "above the line."));
}

void AcceptanceStrip::clear() {
    job_ = 0;
    per_step_.clear();
    tokens_ = drafts_ = peak_ = 0;
    images_ = 1;
    update();
}

void AcceptanceStrip::onToken(const TokenSampled& e) {
    if (e.step < 0 || e.step >= kMaxSteps || e.image < 0) return;
    if (e.job_id != job_) {
        clear();
        job_ = e.job_id;
    }
    if (static_cast<size_t>(e.step) >= per_step_.size()) per_step_.resize(static_cast<size_t>(e.step) + 1, 0);
    int& n = per_step_[static_cast<size_t>(e.step)];
    ++n;
    peak_ = std::max(peak_, n);
    ++tokens_;
    if (e.accepted_draft) ++drafts_;
    images_ = std::max(images_, e.image + 1);
    update();
}

QString AcceptanceStrip::summary() const {
    if (per_step_.empty()) return tr("tokens/step —");
    return tr("%1 tokens in %2 steps, %3 per step (plain: %4)")
        .arg(tokens_)
        .arg(steps())
        .arg(static_cast<double>(tokens_) / steps(), 0, 'f', 2)
        .arg(baseline());
}

void AcceptanceStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QColor base = palette().color(QPalette::Window);
    p.fillRect(rect(), base.lightness() > 128 ? base.darker(110) : base.lighter(130));
    if (per_step_.empty()) return;
    // Scale: the baseline sits at most half way up so that a step above it stays visible.
    const int plain = baseline();
    const double top = std::max({peak_, 2 * plain, 1});
    const QRectF area = QRectF(rect()).adjusted(1, 2, -1, -1);
    const double w = area.width() / static_cast<double>(per_step_.size());
    const QColor above(33, 145, 140), at(120, 120, 130);
    for (size_t s = 0; s < per_step_.size(); ++s) {
        const int n = per_step_[s];
        if (n == 0) continue;
        const double h = area.height() * n / top;
        p.fillRect(QRectF(area.left() + w * static_cast<double>(s), area.bottom() - h, std::max(w, 1.0), h),
                   n > plain ? above : at);
    }
    const double y = area.bottom() - area.height() * plain / top;
    p.setPen(QPen(QColor(220, 90, 40), 1, Qt::DashLine));
    p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y));
}

} // namespace tessera::widgets
