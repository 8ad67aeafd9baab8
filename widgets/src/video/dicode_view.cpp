// The DiCoDe view. Sections: layout; following a record; the video side; the previews.
#include "tessera/widgets/dicode_view.h"

#include "tessera/widgets/clip_timeline.h"
#include "tessera/widgets/dicode_controller.h"

#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

namespace tessera::widgets {

namespace {
constexpr int kStripCell = 12; // pixels per deep token in the strips picture
} // namespace

// ---- layout ---------------------------------------------------------------------------------------------

DicodeView::DicodeView(DicodeController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
    progress_ = new QLabel(tr("No DiCoDe run"), this);
    progress_->setObjectName("dicodeProgress");
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName("dicodeCancel");
    cancel_->setToolTip(tr("Stop the run within the current step; the clips finished so far are kept"));
    cancel_->setEnabled(false);
    frame_ = new QLabel(this);
    frame_->setObjectName("dicodeFrame");
    frame_->setMinimumSize(240, 160);
    frame_->setAlignment(Qt::AlignCenter);
    frame_->setStyleSheet("background: #111; color: #aaa;");
    frame_status_ = new QLabel(this);
    play_ = new QToolButton(this);
    play_->setObjectName("dicodePlay");
    play_->setCheckable(true);
    play_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    play_->setToolTip(tr("Play / pause"));
    frame_scrubber_ = new QSlider(Qt::Horizontal, this);
    frame_scrubber_->setObjectName("dicodeFrameScrubber");
    frame_scrubber_->setRange(0, 0);
    timer_ = new QTimer(this);
    timeline_ = new ClipTimeline(this);
    strips_ = new QLabel(this);
    strips_->setObjectName("dicodeStrips");
    strips_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    strips_->setMinimumSize(160, 60);
    strips_->setToolTip(
        tr("Each keyframe's deep tokens (one row per keyframe), coloured by their first three "
           "principal components: a picture of how the tokens differ, not a decode"));
    x0_ = new QLabel(this);
    x0_->setObjectName("dicodeX0");
    x0_->setAlignment(Qt::AlignCenter);
    x0_->setMinimumSize(160, 60);
    x0_->setToolTip(tr("The current DDIM step's x0 prediction through the decoder's cheap latent→RGB map"));

    auto* top = new QHBoxLayout;
    top->addWidget(progress_, 1);
    top->addWidget(cancel_);

    auto* video = new QWidget(this);
    auto* video_layout = new QVBoxLayout(video);
    video_layout->setContentsMargins(0, 0, 0, 0);
    video_layout->addWidget(frame_, 1);
    auto* transport = new QHBoxLayout;
    transport->addWidget(play_);
    transport->addWidget(frame_scrubber_, 1);
    video_layout->addLayout(transport);
    video_layout->addWidget(timeline_);
    video_layout->addWidget(frame_status_);

    auto* previews = new QWidget(this);
    auto* preview_layout = new QVBoxLayout(previews);
    preview_layout->setContentsMargins(0, 0, 0, 0);
    auto* strips_box = new QGroupBox(tr("Keyframes (deep tokens)"), previews);
    (new QVBoxLayout(strips_box))->addWidget(strips_);
    auto* x0_box = new QGroupBox(tr("DDIM step x0"), previews);
    (new QVBoxLayout(x0_box))->addWidget(x0_);
    preview_layout->addWidget(strips_box, 1);
    preview_layout->addWidget(x0_box, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(video);
    split->addWidget(previews);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(cancel_, &QPushButton::clicked, this, [this] {
        if (id_) Q_EMIT cancelRequested(id_);
    });
    connect(play_, &QToolButton::toggled, this, &DicodeView::setPlaying);
    connect(timer_, &QTimer::timeout, this, &DicodeView::advance);
    connect(frame_scrubber_, &QSlider::valueChanged, this, [this](int v) {
        const DicodeRecord* r = current();
        follow_ = r && !r->done && v >= static_cast<int>(r->frames.size()) - 1;
        showFrame(v);
    });
    connect(timeline_, &ClipTimeline::clipClicked, this, &DicodeView::seekClip);

    // ---- following a record
    auto mine = [this](qint64 id) {
        if (id == id_) refresh();
    };
    connect(controller_, &DicodeController::runStarted, this, mine);
    connect(controller_, &DicodeController::progressed, this, mine);
    connect(controller_, &DicodeController::runFinished, this, mine);
    connect(controller_, &DicodeController::clipArrived, this, [this](qint64 id, int) {
        if (id != id_) return;
        const DicodeRecord* r = current();
        if (r && follow_ && !r->frames.empty()) {
            refresh();
            QSignalBlocker block(frame_scrubber_);
            frame_scrubber_->setValue(static_cast<int>(r->frames.size()) - 1);
            showFrame(frame_scrubber_->value());
        }
    });
}

// ---- following a record ---------------------------------------------------------------------------------

const DicodeRecord* DicodeView::current() const {
    return id_ ? controller_->record(id_) : nullptr;
}

void DicodeView::showVideo(int64_t id) {
    if (id == id_) return;
    id_ = id;
    follow_ = true;
    setPlaying(false);
    timeline_->setClipCount(0);
    refresh();
    QSignalBlocker block(frame_scrubber_);
    frame_scrubber_->setValue(0);
    showFrame(0);
}

void DicodeView::refresh() {
    const DicodeRecord* r = current();
    cancel_->setEnabled(r && !r->done);
    if (!r) {
        progress_->setText(id_ ? tr("Waiting for the run to start…") : tr("No DiCoDe run"));
        frame_->clear();
        strips_->clear();
        x0_->clear();
        strips_image_ = QImage();
        return;
    }
    QString text = r->progressText();
    if (r->done)
        text += !r->error.isEmpty() ? tr(" · failed: %1").arg(r->error)
                : r->cancelled      ? tr(" · cancelled")
                                    : tr(" · done");
    progress_->setText(text);

    // Timeline: finished clips solid, the clip being decoded by its step.
    if (timeline_->clipCount() != r->clips) timeline_->setClipCount(r->clips);
    for (int c = 0; c < r->clips; ++c) {
        double f = c < r->clips_done ? 1.0 : 0.0;
        if (!r->done && c == r->clips_done && r->clip == c + 1 && r->steps > 0)
            f = static_cast<double>(r->step) / r->steps * 0.999; // decoding: not solid until it exists
        timeline_->setFill(c, f);
    }

    // Keyframe strips: one row per keyframe, kStripCell pixels per token.
    if (!r->strips.empty()) {
        int w = 0;
        for (const QImage& s : r->strips) w = std::max(w, s.width());
        QImage img(w * kStripCell, static_cast<int>(r->strips.size()) * kStripCell, QImage::Format_RGB888);
        img.fill(QColor(40, 40, 40));
        QPainter p(&img);
        for (size_t k = 0; k < r->strips.size(); ++k)
            p.drawImage(
                QRect(0, static_cast<int>(k) * kStripCell, r->strips[k].width() * kStripCell, kStripCell),
                r->strips[k]);
        p.end();
        strips_image_ = img;
        strips_->setPixmap(QPixmap::fromImage(img));
    } else {
        strips_image_ = QImage();
        strips_->setText(r->done ? tr("(not stored with the video)") : tr("waiting for the first keyframe…"));
    }
    if (!r->x0.isNull()) {
        x0_->setPixmap(QPixmap::fromImage(
            r->x0.scaled(x0_->size() - QSize(4, 4), Qt::KeepAspectRatio, Qt::FastTransformation)));
    } else {
        x0_->setText(r->done ? tr("(not stored with the video)") : tr("no DDIM step yet"));
    }

    {
        QSignalBlocker block(frame_scrubber_);
        frame_scrubber_->setRange(0, std::max(0, static_cast<int>(r->frames.size()) - 1));
    }
    showFrame(frame_scrubber_->value());
}

// ---- the video side -------------------------------------------------------------------------------------

int DicodeView::frame() const {
    return frame_scrubber_->value();
}

QImage DicodeView::frameImage() const {
    return shown_image_;
}

bool DicodeView::playing() const {
    return timer_->isActive();
}

void DicodeView::setPlaying(bool playing) {
    const DicodeRecord* r = current();
    if (playing && (!r || r->frames.empty())) playing = false;
    {
        QSignalBlocker block(play_);
        play_->setChecked(playing);
    }
    play_->setIcon(style()->standardIcon(playing ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay));
    if (playing)
        timer_->start(std::max(10, 1000 / std::max(1, r->fps)));
    else
        timer_->stop();
}

void DicodeView::advance() {
    const DicodeRecord* r = current();
    if (!r || r->frames.empty()) return setPlaying(false);
    frame_scrubber_->setValue((frame_scrubber_->value() + 1) % static_cast<int>(r->frames.size()));
}

void DicodeView::seekClip(int clip) {
    const DicodeRecord* r = current();
    if (!r || clip < 0 || clip >= static_cast<int>(r->clip_first_frame.size())) return;
    follow_ = false;
    frame_scrubber_->setValue(r->clip_first_frame[static_cast<size_t>(clip)]);
    showFrame(frame_scrubber_->value());
}

void DicodeView::showFrame(int frame) {
    const DicodeRecord* r = current();
    if (!r) return;
    const bool have = frame >= 0 && frame < static_cast<int>(r->frames.size()) &&
                      !r->frames[static_cast<size_t>(frame)].isNull();
    shown_image_ = have ? r->frames[static_cast<size_t>(frame)] : QImage();
    if (have)
        frame_->setPixmap(QPixmap::fromImage(
            shown_image_.scaled(frame_->size() - QSize(4, 4), Qt::KeepAspectRatio, Qt::FastTransformation)));
    else
        frame_->setText(r->done ? tr("no frames (cancelled before the first clip)")
                                : tr("the first clip appears once keyframe 2 exists"));
    const int clip = r->clipOf(frame);
    if (clip >= 0) {
        const int count = r->clipFrameCount(clip);
        const int within = frame - r->clip_first_frame[static_cast<size_t>(clip)];
        timeline_->setPosition(clip, count > 1 ? static_cast<double>(within) / (count - 1) : 0.0);
        frame_status_->setText(tr("frame %1/%2 · clip %3/%4 · %5 fps")
                                   .arg(frame + 1)
                                   .arg(r->frames.size())
                                   .arg(clip + 1)
                                   .arg(r->clips)
                                   .arg(r->fps));
    } else {
        timeline_->setPosition(-1, 0);
        frame_status_->setText(tr("no frames yet"));
    }
}

} // namespace tessera::widgets
