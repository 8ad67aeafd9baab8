#include "tessera/widgets/mosaic_controller.h"

#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"

#include <QSignalBlocker>
#include <QSlider>
#include <QToolButton>

namespace tessera::widgets {

MosaicController::MosaicController(StudioController* studio, MosaicView* view, QObject* parent)
    : QObject(parent), studio_(studio), view_(view) {
    connect(studio_, &StudioController::currentChanged, this, [this](qint64 id) { show(id); });
    connect(studio_, &StudioController::tokenArrived, this, &MosaicController::onToken);
    connect(studio_, &StudioController::imageChanged, this, &MosaicController::onImage);
    connect(studio_, &StudioController::stateChanged, this, &MosaicController::onState);
    connect(studio_, &StudioController::generatorChanged, this, [this] {
        auto g = studio_->generator();
        view_->mosaic()->setBanner(g ? g->info().note : QString());
    });
    connect(view_, &MosaicView::scrubbed, this, [this](int s) {
        setPlaying(false);
        scrubTo(s);
    });
    connect(view_, &MosaicView::playToggled, this, &MosaicController::setPlaying);
    connect(view_->mosaic(), &TokenMosaic::cellClicked, this, [this](int position) {
        view_->mosaic()->setSelected(position);
        if (shown_) Q_EMIT cellSelected(shown_, position);
    });
    timer_.setInterval(60);
    connect(&timer_, &QTimer::timeout, this, [this] {
        const Generation* g = studio_->generation(shown_);
        if (!g || steps_ >= g->sampled()) {
            setPlaying(false);
            return;
        }
        scrubTo(steps_ + 1);
    });
}

void MosaicController::show(int64_t id) {
    const Generation* g = studio_->generation(id);
    if (!g) return;
    shown_ = id;
    TokenMosaic* m = view_->mosaic();
    m->setGrid(g->rows, g->cols);
    m->setPreview(g->image);
    steps_ = -1; // force a full refill
    scrubTo(g->sampled());
}

void MosaicController::scrubTo(int steps) {
    const Generation* g = studio_->generation(shown_);
    if (!g) return;
    steps = std::clamp(steps, 0, g->sampled());
    TokenMosaic* m = view_->mosaic();
    if (steps_ < 0 || steps < steps_) {
        const QImage preview = g->image;
        const int selected = m->selected();
        m->setGrid(g->rows, g->cols);
        m->setPreview(preview);
        m->setSelected(selected);
        steps_ = 0;
    }
    for (int i = steps_; i < steps; ++i) {
        const int pos = g->decode_order[static_cast<size_t>(i)];
        m->setCell(pos, g->cells[static_cast<size_t>(pos)]);
    }
    steps_ = steps;
    view_->setScrubRange(g->sampled(), steps_);
    refreshStatus();
}

void MosaicController::setPlaying(bool playing) {
    if (playing == timer_.isActive()) return;
    if (playing) {
        const Generation* g = studio_->generation(shown_);
        if (g && steps_ >= g->sampled()) scrubTo(0);
        timer_.start();
    } else {
        timer_.stop();
    }
    QSignalBlocker block(view_->playButton());
    view_->playButton()->setChecked(playing);
    view_->playButton()->setText(playing ? tr("Stop") : tr("Play"));
}

void MosaicController::onToken(qint64 id, int position) {
    if (id != shown_) return;
    const Generation* g = studio_->generation(id);
    if (!g) return;
    const bool live = !timer_.isActive() && steps_ == g->sampled() - 1;
    if (live) {
        view_->mosaic()->setCell(position, g->cells[static_cast<size_t>(position)]);
        steps_ = g->sampled();
    }
    view_->setScrubRange(g->sampled(), steps_);
    refreshStatus();
}

void MosaicController::onImage(qint64 id) {
    if (id != shown_) return;
    if (const Generation* g = studio_->generation(id)) view_->mosaic()->setPreview(g->image);
}

void MosaicController::onState(qint64 id) {
    if (id == shown_) refreshStatus();
}

void MosaicController::refreshStatus() {
    const Generation* g = studio_->generation(shown_);
    if (!g) return;
    view_->setStatus(tr("#%1  %2 / %3 tokens  (%4)")
                         .arg(g->id)
                         .arg(steps_)
                         .arg(g->rows * g->cols)
                         .arg(QString::fromLatin1(jobStateName(g->state))));
}

} // namespace tessera::widgets
