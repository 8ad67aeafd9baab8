// VideoController: the studio's model of video generations. It gives the loaded VideoGenerator a
// VideoFeed, folds the feed's reports (each step's grid, each decoded latent frame, the finished clip)
// and the bridge's TokenSampled events into VideoRecords, and hands the finished clip to the
// StudioController (whose finished() then lets the history record the whole video). It also makes
// records for videos restored from a history source.
//
// Thread affinity: GUI thread only; it never waits on a job (everything arrives queued).
#pragma once

#include "tessera/widgets/generation.h"
#include "tessera/widgets/video_generator.h"

#include <QObject>
#include <map>
#include <memory>
#include <vector>

namespace tessera::widgets {

class StudioController;

struct VideoRecord {
    int64_t id = 0;
    int lat_h = 0, lat_w = 0, latent_frames = 0, given_frames = 0, steps = 0, fps = 0;
    bool decodes = false; // frames are Cosmos decodes
    // [latent frame][step − 1]: the step's draw of every cell and what was kept (-1 = masked). Empty
    // for a video restored from the history (only its final codes are known).
    std::vector<std::vector<std::vector<int32_t>>> sampled, kept;
    // [latent frame][cell]: the committed token and its statistics (token -1 until committed).
    std::vector<std::vector<TokenRecord>> cells;
    // [latent frame][cell]: the step (1-based) at which the cell was committed, 0 = not yet.
    std::vector<std::vector<int>> committed_at;
    std::vector<QImage> frames; // pixel frames that have arrived, in clip order
    bool done = false, cancelled = false;
    std::shared_ptr<const VideoClip> clip; // once done

    int cellCount() const { return lat_h * lat_w; }
    // Pixel frames of the whole clip: 1 + 4 · (latent frames − 1).
    int clipFrames() const { return latent_frames > 0 ? 1 + 4 * (latent_frames - 1) : 0; }
    // The latent frame a clip frame belongs to (Cosmos: frame 0 alone, then groups of 4).
    static int latentOf(int clip_frame) { return clip_frame <= 0 ? 0 : 1 + (clip_frame - 1) / 4; }
    // Steps recorded for a latent frame (0 = none yet).
    int stepsDone(int latent) const;
};

class VideoController : public QObject {
    Q_OBJECT
public:
    explicit VideoController(StudioController* studio, QObject* parent = nullptr);
    ~VideoController() override;

    const VideoRecord* record(int64_t id) const;
    std::shared_ptr<VideoFeed> feed() const { return feed_; }

signals:
    void videoStarted(qint64 id);
    void stepArrived(qint64 id, int latent_frame, int step);
    void framesArrived(qint64 id, int first_clip_frame, int count);
    void videoFinished(qint64 id);

private:
    void apply(const VideoUpdate& u);
    void onToken(const TokenSampled& e);
    void adoptStored(qint64 id);

    StudioController* studio_;
    std::shared_ptr<VideoFeed> feed_;
    std::map<int64_t, VideoRecord> records_;
    std::map<int64_t, std::vector<TokenSampled>> early_tokens_;
};

} // namespace tessera::widgets
