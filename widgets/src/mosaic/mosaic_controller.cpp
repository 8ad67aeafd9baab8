#include "tessera/widgets/mosaic_controller.h"

#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"

#include <QSignalBlocker>
#include <QSlider>
#include <QToolButton>
#include <algorithm>

namespace tessera::widgets {

MosaicController::MosaicController(StudioController* studio, MosaicView* view, QObject* parent)
    : QObject(parent), studio_(studio), view_(view) {
    connect(studio_, &StudioController::currentChanged, this, [this](qint64 id) { show(id); });
    connect(studio_, &StudioController::batchTokenArrived, this, &MosaicController::onToken);
    connect(studio_, &StudioController::batchImageChanged, this, &MosaicController::onImage);
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
    connect(view_, &MosaicView::imageChosen, this, &MosaicController::showImage);
    connect(view_->mosaic(), &TokenMosaic::cellClicked, this, [this](int position) {
        view_->mosaic()->setSelected(position);
        if (shown_) Q_EMIT cellSelected(shown_, position, image_);
    });
    timer_.setInterval(60);
    connect(&timer_, &QTimer::timeout, this, [this] {
        const Generation* g = studio_->generation(shown_);
        if (!g || steps_ >= g->sampledOf(image_)) {
            setPlaying(false);
            return;
        }
        scrubTo(steps_ + 1);
    });
}

void MosaicController::show(int64_t id) {
    const Generation* g = studio_->generation(id);
    if (!g) return;
    if (id != shown_) image_ = 0;
    shown_ = id;
    image_ = std::clamp(image_, 0, g->imageCount() - 1);
    view_->setImageCount(g->imageCount(), image_);
    TokenMosaic* m = view_->mosaic();
    m->setGrid(g->rows, g->cols);
    m->setPreview(g->imageOf(image_));
    steps_ = -1; // force a full refill
    scrubTo(g->sampledOf(image_));
}

void MosaicController::showImage(int image) {
    const Generation* g = studio_->generation(shown_);
    if (!g) return;
    image = std::clamp(image, 0, g->imageCount() - 1);
    view_->setImageCount(g->imageCount(), image);
    if (image == image_) return;
    setPlaying(false);
    image_ = image;
    // The same cell stays selected, so the inspector can compare it across the batch.
    const int selected = view_->mosaic()->selected();
    view_->mosaic()->setPreview(g->imageOf(image_));
    steps_ = -1;
    scrubTo(g->sampledOf(image_));
    if (selected >= 0) Q_EMIT cellSelected(shown_, selected, image_);
}

void MosaicController::scrubTo(int steps) {
    const Generation* g = studio_->generation(shown_);
    if (!g) return;
    const std::vector<TokenRecord>& cells = g->cellsOf(image_);
    const std::vector<int>& order = g->decodeOrderOf(image_);
    const int sampled = static_cast<int>(order.size());
    steps = std::clamp(steps, 0, sampled);
    TokenMosaic* m = view_->mosaic();
    if (steps_ < 0 || steps < steps_) {
        const QImage preview = g->imageOf(image_);
        const int selected = m->selected();
        m->setGrid(g->rows, g->cols);
        m->setPreview(preview);
        m->setSelected(selected);
        steps_ = 0;
    }
    for (int i = steps_; i < steps; ++i) {
        const int pos = order[static_cast<size_t>(i)];
        m->setCell(pos, cells[static_cast<size_t>(pos)]);
    }
    steps_ = steps;
    view_->setScrubRange(sampled, steps_);
    refreshStatus();
}

void MosaicController::setPlaying(bool playing) {
    if (playing == timer_.isActive()) return;
    if (playing) {
        const Generation* g = studio_->generation(shown_);
        if (g && steps_ >= g->sampledOf(image_)) scrubTo(0);
        timer_.start();
    } else {
        timer_.stop();
    }
    QSignalBlocker block(view_->playButton());
    view_->playButton()->setChecked(playing);
    view_->playButton()->setText(playing ? tr("Stop") : tr("Play"));
}

void MosaicController::onToken(qint64 id, int image, int position) {
    if (id != shown_ || image != image_) return;
    const Generation* g = studio_->generation(id);
    if (!g) return;
    const int sampled = g->sampledOf(image_);
    const bool live = !timer_.isActive() && steps_ == sampled - 1;
    if (live) {
        view_->mosaic()->setCell(position, g->cellsOf(image_)[static_cast<size_t>(position)]);
        steps_ = sampled;
    }
    view_->setScrubRange(sampled, steps_);
    refreshStatus();
}

void MosaicController::onImage(qint64 id, int image) {
    if (id != shown_ || image != image_) return;
    if (const Generation* g = studio_->generation(id)) view_->mosaic()->setPreview(g->imageOf(image_));
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
