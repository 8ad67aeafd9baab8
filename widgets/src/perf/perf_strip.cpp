#include "tessera/widgets/perf_strip.h"

#include "tessera/widgets/acceptance_strip.h"

#include <QHBoxLayout>
#include <QLabel>

namespace tessera::widgets {

QString formatBytes(size_t bytes) {
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024 * 1024) return QString::number(b / (1024.0 * 1024 * 1024), 'f', 2) + " GiB";
    if (b >= 1024.0 * 1024) return QString::number(b / (1024.0 * 1024), 'f', 1) + " MiB";
    if (b >= 1024.0) return QString::number(b / 1024.0, 'f', 1) + " KiB";
    return QString::number(bytes) + " B";
}

PerfStrip::PerfStrip(QWidget* parent) : QWidget(parent) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(6, 2, 6, 2);
    const auto add = [&](const QString& tip) {
        auto* l = new QLabel(this);
        l->setToolTip(tip);
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        // Fixed widths: changing digits must not relayout the status bar at every step.
        l->setFixedWidth(l->fontMetrics().horizontalAdvance(QStringLiteral("first preview 00000 ms")) + 8);
        layout->addWidget(l);
        return l;
    };
    tps_ = add(tr("Sampled tokens per second over the running job"));
    ms_ = add(tr("Duration of the last decode step"));
    first_ = add(tr("Time from the job's start to its first preview"));
    model_ = add(tr("Memory held by the model's weights"));
    kv_ = add(tr("Memory held by the KV cache"));
    threads_ = add(tr("CPU threads the engine computes on; while the window is in front on a machine with "
                      "few cores, one core is left to the interface so it never stalls"));
    per_step_ = add(tr("Tokens made final per decode step (forward pass) of the running job; plain decoding "
                       "makes one per image"));
    per_step_->setObjectName("tokensPerStep");
    acceptance_ = new AcceptanceStrip(this);
    acceptance_->setFixedWidth(per_step_->width());
    layout->addWidget(acceptance_);
    threads_->setFixedWidth(
        threads_->fontMetrics().horizontalAdvance(QStringLiteral("engine 00 of 00 threads (1 core left to the window)")) + 8);
    layout->addStretch(1);
    clear();
}

void PerfStrip::clear() {
    tps_->setText(tr("— tok/s"));
    ms_->setText(tr("— ms/token"));
    first_->setText(tr("first preview —"));
    model_->setText(tr("model —"));
    kv_->setText(tr("KV cache —"));
    threads_->setText(tr("engine threads —"));
    per_step_->setText(tr("— tok/step"));
    acceptance_->clear();
}

void PerfStrip::onToken(const TokenSampled& t) {
    acceptance_->onToken(t);
    if (acceptance_->steps() == 0) return;
    per_step_->setText(
        tr("%1 tok/step").arg(static_cast<double>(acceptance_->tokens()) / acceptance_->steps(), 0, 'f', 2));
    per_step_->setToolTip(acceptance_->summary());
}

void PerfStrip::setEngineThreads(int active, int available, bool yielded) {
    if (available <= 0) return threads_->setText(tr("engine threads —"));
    threads_->setText(yielded ? tr("engine %1 of %2 threads (1 core left to the window)").arg(active).arg(available)
                              : tr("engine %1 of %2 threads").arg(active).arg(available));
}

void PerfStrip::onTiming(const StepTiming& t) {
    tps_->setText(tr("%1 tok/s").arg(t.tokens_per_s, 0, 'f', 1));
    ms_->setText(tr("%1 ms/token").arg(t.step_ms, 0, 'f', 2));
    if (t.first_preview_ms >= 0)
        first_->setText(tr("first preview %1 ms").arg(t.first_preview_ms, 0, 'f', 0));
    model_->setText(tr("model %1").arg(formatBytes(t.model_bytes)));
    kv_->setText(tr("KV cache %1").arg(formatBytes(t.kv_cache_bytes)));
}

QString PerfStrip::text() const {
    return QStringList{tps_->text(), ms_->text(), first_->text(), model_->text(), kv_->text(), threads_->text(),
                       per_step_->text()}
        .join("  ·  ");
}

} // namespace tessera::widgets
