// ClipTimeline: a long video's clips as a row of segments (DiCoDe: one clip per pair of consecutive
// keyframes). A segment fills as its clip decodes (the DDIM step over the steps), is solid once the
// clip exists, and a marker shows the frame on screen. Clicking a finished segment asks to seek to
// that clip's first frame.
//
// Thread affinity: GUI thread only.
#pragma once

#include <QWidget>
#include <vector>

namespace tessera::widgets {

class ClipTimeline : public QWidget {
    Q_OBJECT
public:
    explicit ClipTimeline(QWidget* parent = nullptr);

    // `clips` segments, none filled.
    void setClipCount(int clips);
    int clipCount() const { return static_cast<int>(fill_.size()); }
    // How much of clip `clip` (0-based) exists, 0..1 (1: decoded).
    void setFill(int clip, double fraction);
    double fill(int clip) const;
    // The shown position: clip `clip`, `within` 0..1 of its frames; -1 hides the marker.
    void setPosition(int clip, double within);
    // The clip whose segment holds x (widget coordinates), -1 outside.
    int clipAt(int x) const;
    QRect segmentRect(int clip) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

signals:
    void clipClicked(int clip);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    std::vector<double> fill_;
    int position_clip_ = -1;
    double position_within_ = 0;
};

} // namespace tessera::widgets
