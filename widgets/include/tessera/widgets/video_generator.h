// VideoGenerator: a Generator whose jobs make videos (Lumos-1 over the engine's LumosPipeline), and
// VideoFeed, the channel its jobs report video-only facts through (each MaskGIT step's grid, each
// latent frame decoded to pixels, the finished clip). Tokens, previews, timing and state still travel
// as engine events through the EngineBridge like every job's.
//
// Thread affinity: VideoFeed::post may be called from any thread; the handler runs on the thread of
// the feed's context object (the GUI thread), never after detach(). The generator's contract is
// Generator's (generator.h).
#pragma once

#include "tessera/widgets/generator.h"

#include <QByteArray>
#include <QImage>
#include <QObject>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tessera::widgets {

// One report from a running video job.
struct VideoUpdate {
    enum class Kind { Started, Step, Frame, Done };
    Kind kind = Kind::Started;
    int64_t job = 0;
    // Started: the clip's shape.
    int lat_h = 0, lat_w = 0, latent_frames = 0, given_frames = 0, steps = 0, fps = 0;
    bool decodes = false; // frames will be Cosmos decodes (false: code-digit pictures)
    // Step: latent frame `frame` after step `step` (1-based) of `steps`.
    int frame = 0, step = 0;
    std::vector<int32_t> sampled, grid; // this step's draw of every cell; what is kept (-1 = masked)
    // Frame: latent frame `frame`'s pixel frames, the first being clip frame `first_video_frame`.
    int first_video_frame = 0;
    std::vector<QImage> images;
    // Frame: that latent frame's codes; Done: every latent frame's.
    std::vector<int32_t> codes;
    // Done: the recipe and whether the run was cancelled.
    QByteArray recipe;
    bool cancelled = false;
};

class VideoFeed {
public:
    using Handler = std::function<void(const VideoUpdate&)>;
    // `context` (GUI thread) owns the handler's lifetime: call detach() before it goes away.
    VideoFeed(QObject* context, Handler handler);
    void post(VideoUpdate update); // any thread; dropped after detach()
    void detach();                 // the context's thread

private:
    std::mutex mutex_;
    QObject* context_;
    Handler handler_;
};

class VideoGenerator : public Generator {
public:
    // Where this generator's jobs report (jobs made before keep the feed they were made with).
    // GUI thread.
    virtual void setFeed(std::shared_ptr<VideoFeed> feed) = 0;
};

struct LumosGeneratorOptions {
    int width = 448, height = 256; // pixels, multiples of 32
    int fps = 12, duration_s = 2;
    int64_t latent_frames = 0; // 0: as many as fps · duration needs
    int64_t steps = 50;        // MaskGIT steps per latent frame
    // Cosmos DV4x8x8 tokenizer folder; empty: the checkpoint's `cosmos/` subfolder when it has one.
    // Without a tokenizer frames are shown as code-digit pictures.
    std::string tokenizer_dir;
};

// Whether `folder` holds a Lumos-1 checkpoint (config.json: a Chameleon model with mm_rope). Reads
// config.json only; any thread.
bool isLumosCheckpoint(const std::string& folder);

// Loads a Lumos-1 checkpoint (and its tokenizer) on the given backend. Call on a worker: it reads the
// whole checkpoint. The prompt is tokenized with the checkpoint's tokenizer.json; checkpoints without
// one (random test weights) take the prompt's UTF-8 bytes as text token ids. Guidance uses the
// reference weights (15 video, 16 image); the image settings' CFG does not apply.
Expected<std::shared_ptr<VideoGenerator>> loadLumosGenerator(const std::string& folder,
                                                             const LumosGeneratorOptions& options = {},
                                                             const std::string& backend = "cpu");

} // namespace tessera::widgets
