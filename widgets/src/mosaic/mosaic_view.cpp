#include "tessera/widgets/mosaic_view.h"

#include "tessera/widgets/token_mosaic.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

namespace tessera::widgets {

MosaicView::MosaicView(QWidget* parent) : QWidget(parent) {
    mosaic_ = new TokenMosaic(this);
    overlay_ = new QComboBox(this);
    overlay_->setObjectName("overlayPicker");
    for (auto o : {MosaicOverlay::None, MosaicOverlay::Probability, MosaicOverlay::Entropy,
                   MosaicOverlay::Rank, MosaicOverlay::Guidance, MosaicOverlay::AcceptedStep})
        overlay_->addItem(overlayName(o), static_cast<int>(o));
    overlay_->setToolTip(tr("Colour the sampled cells by a statistic of their sampling step"));
    scrubber_ = new QSlider(Qt::Horizontal, this);
    scrubber_->setObjectName("scrubber");
    scrubber_->setToolTip(tr("Replay the decode order: drag to show the first N sampled tokens"));
    scrubber_->setRange(0, 0);
    play_ = new QToolButton(this);
    play_->setText(tr("Play"));
    play_->setCheckable(true);
    play_->setToolTip(tr("Replay this generation's decode order from the start"));
    image_ = new QSpinBox(this);
    image_->setObjectName("imagePicker");
    image_->setRange(1, 1);
    image_->setToolTip(tr("Which picture of the batch the mosaic, its overlays, the scrubber and the "
                          "cell inspector show"));
    image_label_ = new QLabel(tr("Image:"), this);
    image_label_->setBuddy(image_);
    image_->setVisible(false);
    image_label_->setVisible(false);
    status_ = new QLabel(this);
    status_->setObjectName("mosaicStatus");
    status_->setMinimumWidth(120);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Overlay:"), this));
    bar->addWidget(overlay_);
    bar->addWidget(image_label_);
    bar->addWidget(image_);
    bar->addSpacing(12);
    bar->addWidget(play_);
    bar->addWidget(scrubber_, 1);
    bar->addWidget(status_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(mosaic_, 1);
    layout->addLayout(bar);

    connect(scrubber_, &QSlider::valueChanged, this, &MosaicView::scrubbed);
    connect(overlay_, &QComboBox::currentIndexChanged, this, [this](int) {
        const auto o = static_cast<MosaicOverlay>(overlay_->currentData().toInt());
        mosaic_->setOverlay(o);
        Q_EMIT overlayChanged(o);
    });
    connect(image_, &QSpinBox::valueChanged, this, [this](int v) { Q_EMIT imageChosen(v - 1); });
    connect(play_, &QToolButton::toggled, this, [this](bool on) {
        play_->setText(on ? tr("Stop") : tr("Play"));
        Q_EMIT playToggled(on);
    });
}

void MosaicView::setOverlay(MosaicOverlay overlay) {
    const int i = overlay_->findData(static_cast<int>(overlay));
    if (i >= 0) overlay_->setCurrentIndex(i);
}

void MosaicView::setScrubRange(int steps, int value) {
    QSignalBlocker block(scrubber_);
    scrubber_->setRange(0, steps);
    scrubber_->setValue(value);
}

void MosaicView::setImageCount(int count, int image) {
    count = std::max(1, count);
    QSignalBlocker block(image_);
    image_->setRange(1, count);
    image_->setSuffix(tr(" / %1").arg(count));
    image_->setValue(std::clamp(image, 0, count - 1) + 1);
    // isHidden(), not isVisible(): the view itself may not be shown yet.
    image_->setHidden(count < 2);
    image_label_->setHidden(count < 2);
}

void MosaicView::setStatus(const QString& text) {
    status_->setText(text);
}

} // namespace tessera::widgets
