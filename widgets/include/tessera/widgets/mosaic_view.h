// MosaicView: the centre of the studio: the TokenMosaic with an overlay picker, and a scrubber that
// replays the decode order of the shown generation (with a play button), and a picker for which
// picture of a batch ("Images" > 1) is shown; it hides while there is only one.
//
// Thread affinity: GUI thread only. MosaicController drives it.
#pragma once

#include <QWidget>

class QComboBox;
class QLabel;
class QSlider;
class QSpinBox;
class QToolButton;

namespace tessera::widgets {

class TokenMosaic;
enum class MosaicOverlay;

class MosaicView : public QWidget {
    Q_OBJECT
public:
    explicit MosaicView(QWidget* parent = nullptr);
    TokenMosaic* mosaic() const { return mosaic_; }
    QSlider* scrubber() const { return scrubber_; }
    QComboBox* overlayPicker() const { return overlay_; }
    QToolButton* playButton() const { return play_; }
    QSpinBox* imagePicker() const { return image_; }
    void setOverlay(MosaicOverlay overlay);
    // Sets the scrubber's range without emitting scrubbed().
    void setScrubRange(int steps, int value);
    // Sets the picker to `count` pictures with `image` (0-based) chosen, without emitting
    // imageChosen().
    void setImageCount(int count, int image);
    void setStatus(const QString& text);

signals:
    void scrubbed(int steps);
    void overlayChanged(tessera::widgets::MosaicOverlay overlay);
    void playToggled(bool playing);
    void imageChosen(int image); // 0-based

private:
    TokenMosaic* mosaic_;
    QComboBox* overlay_;
    QSlider* scrubber_;
    QToolButton* play_;
    QSpinBox* image_;
    QLabel* image_label_;
    QLabel* status_;
};

} // namespace tessera::widgets
