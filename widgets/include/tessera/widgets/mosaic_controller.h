// MosaicController: shows the StudioController's current generation in a MosaicView. While the
// scrubber sits at the end it follows new tokens live; moved back, it shows the first N decode
// steps, and play replays the decode order step by step. Of a batch it shows one picture at a time,
// the one chosen in the view's image picker.
//
// Thread affinity: GUI thread only.
#pragma once

#include <QObject>
#include <QTimer>

namespace tessera::widgets {

class MosaicView;
class StudioController;

class MosaicController : public QObject {
    Q_OBJECT
public:
    MosaicController(StudioController* studio, MosaicView* view, QObject* parent = nullptr);
    int64_t shown() const { return shown_; }
    int steps() const { return steps_; }
    void show(int64_t id);
    // Which picture of the shown generation's batch is shown (0 = the first).
    int image() const { return image_; }
    void showImage(int image);
    // Shows the first `steps` decode steps of the shown generation.
    void scrubTo(int steps);
    void setPlaying(bool playing);
    bool playing() const { return timer_.isActive(); }

signals:
    // Also re-sent for the selected cell when another picture of the batch is chosen.
    void cellSelected(qint64 id, int position, int image);

private:
    void onToken(qint64 id, int image, int position);
    void onImage(qint64 id, int image);
    void onState(qint64 id);
    void refreshStatus();

    StudioController* studio_;
    MosaicView* view_;
    int64_t shown_ = 0;
    int image_ = 0;
    int steps_ = 0;
    QTimer timer_;
};

} // namespace tessera::widgets
