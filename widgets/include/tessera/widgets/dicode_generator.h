// DicodeGenerator: a VideoGenerator whose jobs run the engine's DicodePipeline (docs/DICODE.md), and
// DicodeFeed, the channel its jobs report DiCoDe-only facts through: each keyframe's deep tokens as a
// PCA-coloured strip, each DDIM step's x0 preview, each finished clip's frames, and the finished video
// (recipe, deep tokens). The DiCoDe options travel in GenerationSettings::dicode (keys as the recipe
// names them: keyframes, ddim_steps, eta, cfg, rescale, fs, llm_cfg, var_scale, do_sample), so a
// history entry's settings re-run the same request.
//
// Thread affinity: DicodeFeed::post may be called from any thread; the handler runs on the thread of
// the feed's context object (the GUI thread), never after detach(). The generator's contract is
// Generator's (generator.h): its jobs run on a scheduler worker, one at a time. probeDicode() reads
// config.json and safetensors headers only, on any thread.
#pragma once

#include "tessera/engine/dicode_pipeline.h"
#include "tessera/widgets/video_generator.h"

#include <QByteArray>
#include <QImage>
#include <QJsonObject>
#include <QObject>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tessera::widgets {

// ---- options ---------------------------------------------------------------------------------------

// The DiCoDe request fields of `settings` (GenerationSettings::dicode; missing fields keep the
// pipeline's defaults, the demo's) with the prompt and seed. Does not validate (the job does).
DicodeRequest dicodeRequestFrom(const GenerationSettings& settings);
// The `dicode` object for a request (the inverse of the above for the option fields).
QJsonObject dicodeOptionsJson(const DicodeRequest& request);
// The option fields of a DiCoDe recipe (method "dicode", as the CLI and the studio store it); empty
// for any other recipe.
QJsonObject dicodeOptionsFromRecipe(const QJsonObject& recipe);

// ---- reports ---------------------------------------------------------------------------------------

struct DicodeUpdate {
    enum class Kind { Started, Keyframe, Step, Clip, Done };
    Kind kind = Kind::Started;
    int64_t job = 0;
    // Every kind: where the run is (DicodeProgress's counts; 1-based clip and step).
    int keyframe = 0, keyframes = 0, clip = 0, clips = 0, step = 0, steps = 0;
    int fps = 0; // Started
    // Keyframe: its deep tokens' PCA strip (n × 1). Step: the x0 preview (the clip's frames side by side).
    QImage picture;
    // Clip: its frames, the first being video frame `first_frame`.
    int first_frame = 0;
    std::vector<QImage> frames;
    // Done: the recipe (JSON), the deep tokens' f32 bit patterns (as the CLI stores them) and whether
    // the run was cancelled.
    QByteArray recipe;
    std::vector<int32_t> token_bits;
    bool cancelled = false;
};

class DicodeFeed {
public:
    using Handler = std::function<void(const DicodeUpdate&)>;
    // `context` (GUI thread) owns the handler's lifetime: call detach() before it goes away.
    DicodeFeed(QObject* context, Handler handler);
    void post(DicodeUpdate update); // any thread; dropped after detach()
    void detach();                  // the context's thread

private:
    std::mutex mutex_;
    QObject* context_;
    Handler handler_;
};

class DicodeGenerator : public VideoGenerator {
public:
    // Where this generator's jobs report (jobs made before keep the feed they were made with).
    // GUI thread.
    virtual void setDicodeFeed(std::shared_ptr<DicodeFeed> feed) = 0;
    // Keyframes one prompt can produce with this model.
    virtual int maxKeyframes() const = 0;
};

// ---- folders ---------------------------------------------------------------------------------------

// What the model manager lists for a DiCoDe folder without loading it.
struct DicodeProbe {
    bool dicode = false;     // config.json describes a DiCoDe folder
    int max_keyframes = 0;   // per prompt (max_length, frame embeddings, positions)
    int frames_per_clip = 0; // latent frames = video frames per clip
    int width = 0, height = 0;
    int64_t kv_cache_bytes = 0; // the GPT-2 KV cache at max_length, two rows (LLM guidance)
    QString error;              // non-empty: a DiCoDe folder that cannot be used, and why
};
DicodeProbe probeDicode(const std::string& folder);

// Loads a DiCoDe folder (LLM, decoder, constants) on the given backend. Call on a worker: it reads
// the whole checkpoint. Errors name the missing file or tensor.
Expected<std::shared_ptr<DicodeGenerator>> loadDicodeGenerator(const std::string& folder,
                                                               const std::string& backend = "cpu");

} // namespace tessera::widgets
