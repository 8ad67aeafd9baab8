// DicodeController: the studio's model of DiCoDe runs. It gives the loaded DicodeGenerator a
// DicodeFeed and folds the feed's reports into DicodeRecords: where the run is (keyframe k/N, clip c/C,
// step s/S), each keyframe's deep-token strip, the newest DDIM step's x0 preview, and the frames of
// every finished clip. On the last report it hands the whole video to the StudioController
// (attachVideo), whose finished() lets the history store it. It also makes records for DiCoDe videos
// restored from a history source (their recipe names method "dicode").
//
// Thread affinity: GUI thread only; it never waits on a job (everything arrives queued).
#pragma once

#include "tessera/widgets/dicode_generator.h"
#include "tessera/widgets/generation.h"

#include <QImage>
#include <QObject>
#include <map>
#include <memory>
#include <vector>

namespace tessera::widgets {

class StudioController;

struct DicodeRecord {
    int64_t id = 0;
    int keyframes = 0, clips = 0, steps = 0, fps = 0;
    int keyframe = 0; // keyframes finished
    int clip = 0;     // the clip being decoded (1-based; 0 before the first)
    int step = 0;     // its DDIM step (1-based)
    int clips_done = 0;
    DicodeUpdate::Kind last = DicodeUpdate::Kind::Started; // the newest report's kind
    std::vector<QImage> strips;                            // [keyframe]: n × 1 PCA strip of its deep tokens
    QImage x0;                         // the newest step's x0 preview (the clip's frames side by side)
    std::vector<QImage> frames;        // the video's frames that exist, in order
    std::vector<int> clip_first_frame; // [clip]: its first frame in `frames` (finished clips only)
    bool done = false, cancelled = false;
    QString error;                                // the job failed (done is then true, with no video)
    std::shared_ptr<const VideoClip> clip_record; // once done

    // Frames of clip c (0-based), or 0 while it is not decoded.
    int clipFrameCount(int c) const;
    // The clip (0-based) that video frame `frame` belongs to; -1 when none.
    int clipOf(int frame) const;
    // "keyframe k/N · clip c/C · step s/S".
    QString progressText() const;
};

class DicodeController : public QObject {
    Q_OBJECT
public:
    explicit DicodeController(StudioController* studio, QObject* parent = nullptr);
    ~DicodeController() override;

    const DicodeRecord* record(int64_t id) const;
    std::shared_ptr<DicodeFeed> feed() const { return feed_; }

signals:
    void runStarted(qint64 id);
    void progressed(qint64 id); // keyframe, step or clip
    void clipArrived(qint64 id, int clip);
    void runFinished(qint64 id);

private:
    void apply(const DicodeUpdate& u);
    void adoptStored(qint64 id);
    void onState(qint64 id);

    StudioController* studio_;
    std::shared_ptr<DicodeFeed> feed_;
    std::map<int64_t, DicodeRecord> records_;
};

} // namespace tessera::widgets
