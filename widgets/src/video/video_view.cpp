// The video view. Sections: layout; following a record; the clip side; the mosaic side.
#include "tessera/widgets/video_view.h"

#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/token_mosaic.h"
#include "tessera/widgets/video_controller.h"
#include "tessera/widgets/video_strip.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

namespace tessera::widgets {

// ---- layout ---------------------------------------------------------------------------------------------

VideoView::VideoView(VideoController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
    frame_ = new QLabel(this);
    frame_->setObjectName("videoFrame");
    frame_->setMinimumSize(320, 180);
    frame_->setAlignment(Qt::AlignCenter);
    frame_->setStyleSheet("background: #111;");
    frame_status_ = new QLabel(tr("No video"), this);
    play_ = new QToolButton(this);
    play_->setObjectName("videoPlay");
    play_->setCheckable(true);
    play_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    play_->setToolTip(tr("Play / pause"));
    frame_scrubber_ = new QSlider(Qt::Horizontal, this);
    frame_scrubber_->setObjectName("videoFrameScrubber");
    frame_scrubber_->setRange(0, 0);
    timer_ = new QTimer(this);

    mosaic_ = new TokenMosaic(this);
    mosaic_->setObjectName("videoMosaic");
    overlay_ = new QComboBox(this);
    for (MosaicOverlay o : {MosaicOverlay::None, MosaicOverlay::Probability, MosaicOverlay::Entropy,
                            MosaicOverlay::Rank, MosaicOverlay::Guidance})
        overlay_->addItem(overlayName(o), static_cast<int>(o));
    step_scrubber_ = new QSlider(Qt::Horizontal, this);
    step_scrubber_->setObjectName("videoStepScrubber");
    step_scrubber_->setRange(0, 0);
    step_status_ = new QLabel(this);
    draw_ = new QLabel(this);
    draw_->setToolTip(tr("This step's draw of every cell (code colours): the grid before re-masking"));
    draw_->setFixedSize(112, 64);
    draw_->setAlignment(Qt::AlignCenter);
    inspector_ = new CellInspector(this);
    inspector_->branchButton()->setEnabled(false);
    inspector_->branchButton()->setToolTip(tr("Branching is for images; a video re-runs from its recipe"));

    auto* clip = new QWidget(this);
    auto* clip_layout = new QVBoxLayout(clip);
    clip_layout->setContentsMargins(0, 0, 0, 0);
    clip_layout->addWidget(frame_, 1);
    auto* transport = new QHBoxLayout;
    transport->addWidget(play_);
    transport->addWidget(frame_scrubber_, 1);
    clip_layout->addLayout(transport);
    clip_layout->addWidget(frame_status_);

    auto* tokens = new QWidget(this);
    auto* grid = new QGridLayout(tokens);
    grid->setContentsMargins(0, 0, 0, 0);
    mosaic_->setMinimumSize(200, 120);
    grid->addWidget(mosaic_, 0, 0, 1, 3);
    grid->setRowStretch(0, 1);
    grid->addWidget(new QLabel(tr("Overlay"), tokens), 1, 0);
    grid->addWidget(overlay_, 1, 1);
    grid->addWidget(draw_, 1, 2, 3, 1);
    grid->addWidget(new QLabel(tr("Step"), tokens), 2, 0);
    grid->addWidget(step_scrubber_, 2, 1);
    grid->addWidget(step_status_, 3, 0, 1, 2);
    inspector_->setMinimumWidth(260);
    grid->addWidget(inspector_, 0, 3, 4, 1);
    grid->setColumnStretch(1, 1);
    grid->setColumnStretch(3, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(clip);
    split->addWidget(tokens);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);

    connect(play_, &QToolButton::toggled, this, &VideoView::setPlaying);
    connect(timer_, &QTimer::timeout, this, &VideoView::advance);
    connect(frame_scrubber_, &QSlider::valueChanged, this, [this](int v) {
        const VideoRecord* r = current();
        follow_frames_ = r && v >= static_cast<int>(r->frames.size()) - 1 && !r->done;
        showFrame(v);
    });
    connect(step_scrubber_, &QSlider::valueChanged, this, [this](int v) {
        const VideoRecord* r = current();
        follow_steps_ = r && v >= r->stepsDone(latentFrame());
        showMosaic();
    });
    connect(overlay_, &QComboBox::currentIndexChanged, this,
            [this] { mosaic_->setOverlay(static_cast<MosaicOverlay>(overlay_->currentData().toInt())); });
    connect(mosaic_, &TokenMosaic::cellClicked, this, &VideoView::onCellClicked);

    // ---- following a record
    connect(controller_, &VideoController::videoStarted, this, [this](qint64 id) {
        if (id == id_) refresh();
    });
    connect(controller_, &VideoController::stepArrived, this, [this](qint64 id, int latent, int) {
        if (id != id_) return;
        // Following live, the mosaic shows the latent frame being made while the picture keeps the
        // newest decoded frame.
        live_latent_ = latent;
        if (latent == latentFrame() || follow_frames_) refresh();
    });
    connect(controller_, &VideoController::framesArrived, this, [this](qint64 id, int first, int count) {
        if (id != id_) return;
        if (follow_frames_) {
            QSignalBlocker block(frame_scrubber_);
            frame_scrubber_->setValue(first + count - 1);
        }
        refresh();
    });
    connect(controller_, &VideoController::videoFinished, this, [this](qint64 id) {
        if (id == id_) refresh();
    });
}

// ---- following a record ---------------------------------------------------------------------------------

const VideoRecord* VideoView::current() const {
    return id_ ? controller_->record(id_) : nullptr;
}

void VideoView::showVideo(int64_t id) {
    if (id == id_) return;
    id_ = id;
    follow_frames_ = follow_steps_ = true;
    live_latent_ = shown_latent_ = -1;
    setPlaying(false);
    inspector_->clear();
    mosaic_->setSelected(-1);
    refresh();
    if (const VideoRecord* r = current(); r && r->done) {
        QSignalBlocker block(frame_scrubber_);
        frame_scrubber_->setValue(0);
        showFrame(0);
    }
}

int VideoView::clipFrame() const {
    return frame_scrubber_->value();
}

int VideoView::latentFrame() const {
    return shown_latent_ >= 0 ? shown_latent_ : VideoRecord::latentOf(clipFrame());
}

int VideoView::step() const {
    return step_scrubber_->value();
}

QImage VideoView::frameImage() const {
    return shown_image_;
}

bool VideoView::playing() const {
    return timer_->isActive();
}

void VideoView::refresh() {
    const VideoRecord* r = current();
    if (!r) {
        frame_->clear();
        frame_status_->setText(id_ ? tr("Waiting for the video to start…") : tr("No video"));
        mosaic_->setGrid(0, 0);
        return;
    }
    {
        QSignalBlocker block(frame_scrubber_);
        frame_scrubber_->setRange(0, std::max(0, r->clipFrames() - 1));
        if (follow_frames_ && !r->frames.empty() && !r->done)
            frame_scrubber_->setValue(static_cast<int>(r->frames.size()) - 1);
    }
    showFrame(frame_scrubber_->value());
}

// ---- the clip side --------------------------------------------------------------------------------------

void VideoView::setPlaying(bool playing) {
    const VideoRecord* r = current();
    if (playing && (!r || r->frames.empty())) playing = false;
    {
        QSignalBlocker block(play_);
        play_->setChecked(playing);
    }
    play_->setIcon(style()->standardIcon(playing ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay));
    if (playing) {
        timer_->start(std::max(10, 1000 / std::max(1, r->fps)));
    } else {
        timer_->stop();
    }
}

void VideoView::advance() {
    const VideoRecord* r = current();
    if (!r || r->frames.empty()) return setPlaying(false);
    const int count = static_cast<int>(r->frames.size());
    frame_scrubber_->setValue((frame_scrubber_->value() + 1) % count);
}

void VideoView::showFrame(int clip_frame) {
    const VideoRecord* r = current();
    if (!r) return;
    const int latent_before = shown_latent_;
    const bool have = clip_frame >= 0 && clip_frame < static_cast<int>(r->frames.size()) &&
                      !r->frames[static_cast<size_t>(clip_frame)].isNull();
    shown_image_ = have ? r->frames[static_cast<size_t>(clip_frame)] : QImage();
    if (have) {
        frame_->setPixmap(QPixmap::fromImage(
            shown_image_.scaled(frame_->size() - QSize(4, 4), Qt::KeepAspectRatio, Qt::FastTransformation)));
    } else {
        frame_->setText(tr("frame %1 not decoded yet").arg(clip_frame + 1));
    }
    const bool live = follow_frames_ && !r->done && live_latent_ >= 0;
    const int latent = live ? live_latent_ : VideoRecord::latentOf(clip_frame);
    QString status = tr("frame %1/%2 · latent frame %3/%4")
                         .arg(clip_frame + 1)
                         .arg(r->clipFrames())
                         .arg(latent + 1)
                         .arg(r->latent_frames);
    if (live)
        status += tr(" · generating latent frame %1, step %2/%3")
                      .arg(latent + 1)
                      .arg(r->stepsDone(latent))
                      .arg(r->steps);
    if (!r->decodes) status += tr(" · code-digit pictures (no Cosmos tokenizer)");
    if (r->cancelled) status += tr(" · cancelled");
    frame_status_->setText(status);

    // The step scrubber belongs to the latent frame.
    const int steps = r->stepsDone(latent);
    {
        QSignalBlocker block(step_scrubber_);
        step_scrubber_->setRange(steps > 0 ? 1 : 0, steps);
        if (latent != latent_before) follow_steps_ = true;
        if (follow_steps_) step_scrubber_->setValue(steps);
    }
    shown_latent_ = latent;
    showMosaic();
}

// ---- the mosaic side ------------------------------------------------------------------------------------

void VideoView::showMosaic() {
    const VideoRecord* r = current();
    if (!r) return;
    const int latent = latentFrame();
    if (latent >= r->latent_frames) return;
    const size_t f = static_cast<size_t>(latent);
    const int steps_done = r->stepsDone(latent);
    const int s = std::clamp(step(), 0, steps_done);
    if (mosaic_->rows() != r->lat_h || mosaic_->cols() != r->lat_w) mosaic_->setGrid(r->lat_h, r->lat_w);
    mosaic_->reset();
    const auto& cells = r->cells[f];
    const bool final_codes = s == 0 || s == r->steps;
    for (int i = 0; i < r->cellCount(); ++i) {
        const size_t k = static_cast<size_t>(i);
        // At step s the cells committed by then, with their statistics.
        const bool known =
            final_codes ? cells[k].token >= 0 : r->committed_at[f][k] > 0 && r->committed_at[f][k] <= s;
        if (known) mosaic_->setCell(i, cells[k]);
    }
    // Under the cells: the decoded frame once the latent frame is final, else the step's draw.
    const int first_clip = latent == 0 ? 0 : 1 + 4 * (latent - 1);
    QImage under;
    if (final_codes && first_clip < static_cast<int>(r->frames.size()))
        under = r->frames[static_cast<size_t>(first_clip)];
    QImage draw;
    if (s > 0) draw = codeDigitImage(r->sampled[f][static_cast<size_t>(s - 1)], r->lat_h, r->lat_w);
    if (under.isNull()) under = draw;
    mosaic_->setPreview(under);
    draw_->setPixmap(draw.isNull() ? QPixmap()
                                   : QPixmap::fromImage(draw.scaled(draw_->size(), Qt::KeepAspectRatio,
                                                                    Qt::FastTransformation)));
    const int kept = s > 0 ? static_cast<int>(std::count_if(r->kept[f][static_cast<size_t>(s - 1)].begin(),
                                                            r->kept[f][static_cast<size_t>(s - 1)].end(),
                                                            [](int32_t t) { return t >= 0; }))
                           : mosaic_->sampledCount();
    step_status_->setText(
        s > 0 ? tr("step %1/%2 · %3 of %4 cells kept").arg(s).arg(r->steps).arg(kept).arg(r->cellCount())
              : tr("final codes · %1 cells").arg(kept));
}

void VideoView::onCellClicked(int position) {
    const VideoRecord* r = current();
    if (!r || position < 0 || position >= r->cellCount()) return;
    const int latent = latentFrame();
    const TokenRecord& cell = r->cells[static_cast<size_t>(latent)][static_cast<size_t>(position)];
    mosaic_->setSelected(position);
    if (cell.token < 0) return inspector_->clear();
    const int at = r->committed_at[static_cast<size_t>(latent)][static_cast<size_t>(position)];
    inspector_->showCell(position / r->lat_w, position % r->lat_w, std::max(0, at - 1), cell);
    // Alternatives' patches: their code colours (a video code has no picture of its own).
    for (int i = 0; i < inspector_->alternativeCount() && i < static_cast<int>(cell.top_ids.size()); ++i)
        inspector_->setPatch(i, codeDigitImage({cell.top_ids[static_cast<size_t>(i)]}, 1, 1).scaled(32, 32));
    inspector_->branchButton()->setEnabled(false);
}

} // namespace tessera::widgets
