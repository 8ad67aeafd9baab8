// VideoView: one video generation up close. Left: the clip (decoded frames as they arrive) with
// play/pause and a frame scrubber. Right: the token mosaic of the latent frame the shown clip frame
// belongs to, with the image mosaic's overlays and cell inspector, and a step scrubber inside that
// latent frame that replays its MaskGIT steps (the cells kept so far over that step's draw of the whole
// grid — the grid sharpening). While the shown generation runs, the view follows the newest step and
// frame unless the user scrubbed away.
//
// Thread affinity: GUI thread only. It reads VideoController's records and never waits on a job.
#pragma once

#include <QImage>
#include <QWidget>
#include <cstdint>

class QComboBox;
class QLabel;
class QSlider;
class QTimer;
class QToolButton;

namespace tessera::widgets {

class CellInspector;
class TokenMosaic;
class VideoController;
struct VideoRecord;

class VideoView : public QWidget {
    Q_OBJECT
public:
    explicit VideoView(VideoController* controller, QWidget* parent = nullptr);

    // Shows a video generation (0 = none). Unknown ids show nothing until their record appears.
    void showVideo(int64_t id);
    int64_t shown() const { return id_; }
    int clipFrame() const;     // the clip frame shown
    int latentFrame() const;   // the latent frame the mosaic shows
    int step() const;          // the step the mosaic shows (1-based; 0 = final codes only)
    QImage frameImage() const; // the clip frame as shown (null before it arrives)
    bool playing() const;

    QSlider* frameScrubber() const { return frame_scrubber_; }
    QSlider* stepScrubber() const { return step_scrubber_; }
    QToolButton* playButton() const { return play_; }
    TokenMosaic* mosaic() const { return mosaic_; }
    QComboBox* overlayPicker() const { return overlay_; }
    CellInspector* inspector() const { return inspector_; }
    QLabel* frameLabel() const { return frame_; }

public slots:
    void setPlaying(bool playing);

private:
    const VideoRecord* current() const;
    void refresh(); // scrubber ranges from the record, then the frame and mosaic
    void showFrame(int clip_frame);
    void showMosaic();
    void onCellClicked(int position);
    void advance(); // playback tick

    VideoController* controller_;
    int64_t id_ = 0;
    bool follow_frames_ = true, follow_steps_ = true;
    QLabel* frame_;
    QLabel* frame_status_;
    QToolButton* play_;
    QSlider* frame_scrubber_;
    QTimer* timer_;
    TokenMosaic* mosaic_;
    QComboBox* overlay_;
    QSlider* step_scrubber_;
    QLabel* step_status_;
    QLabel* draw_;
    CellInspector* inspector_;
    QImage shown_image_;
    int shown_latent_ = -1; // the latent frame the mosaic shows
    int live_latent_ = -1;  // the latent frame the running job works on
};

} // namespace tessera::widgets
