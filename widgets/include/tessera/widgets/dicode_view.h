// DicodeView: one DiCoDe run up close. Top: progress "keyframe k/N · clip c/C · step s/S" and a cancel
// button. Left: the video (each clip's frames as soon as the clip exists) with play/pause, a frame
// scrubber and the clip timeline (one segment per clip; a click seeks to that clip). Right: the
// keyframes' deep-token strips as they stream (one row per keyframe, one cell per token, coloured by
// their first three principal components) and the current DDIM step's x0 preview. While the shown run
// goes on, the view follows the newest clip unless the user scrubbed away.
//
// Thread affinity: GUI thread only. It reads DicodeController's records and never waits on a job.
#pragma once

#include <QImage>
#include <QWidget>
#include <cstdint>

class QLabel;
class QPushButton;
class QSlider;
class QTimer;
class QToolButton;

namespace tessera::widgets {

class ClipTimeline;
class DicodeController;
struct DicodeRecord;

class DicodeView : public QWidget {
    Q_OBJECT
public:
    explicit DicodeView(DicodeController* controller, QWidget* parent = nullptr);

    // Shows a DiCoDe run (0 = none). Unknown ids show nothing until their record appears.
    void showVideo(int64_t id);
    int64_t shown() const { return id_; }
    int frame() const;         // the video frame shown
    QImage frameImage() const; // as shown (null before it exists)
    bool playing() const;
    // The keyframe strips as drawn: one row per keyframe, each token a cell (null before any).
    QImage stripsImage() const { return strips_image_; }

    ClipTimeline* timeline() const { return timeline_; }
    QSlider* frameScrubber() const { return frame_scrubber_; }
    QToolButton* playButton() const { return play_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* progressLabel() const { return progress_; }
    QLabel* frameLabel() const { return frame_; }
    QLabel* x0Label() const { return x0_; }

signals:
    void cancelRequested(qint64 id);

public slots:
    void setPlaying(bool playing);
    void seekClip(int clip); // to the clip's first frame (0-based clip)

private:
    const DicodeRecord* current() const;
    void refresh();
    void showFrame(int frame);
    void advance();

    DicodeController* controller_;
    int64_t id_ = 0;
    bool follow_ = true;
    QLabel* progress_;
    QPushButton* cancel_;
    QLabel* frame_;
    QLabel* frame_status_;
    QToolButton* play_;
    QSlider* frame_scrubber_;
    QTimer* timer_;
    ClipTimeline* timeline_;
    QLabel* strips_;
    QLabel* x0_;
    QImage shown_image_, strips_image_;
};

} // namespace tessera::widgets
