// DiCoDe text→video: the prompt becomes keyframes of deep tokens (DicodeLlm), and every pair of
// consecutive keyframes becomes a clip of frames through the diffusion decoder, as soon as the pair
// exists. N keyframes give N−1 clips, concatenated in time (the duplicated boundary frames are kept,
// as the official demo does), saved at 8 fps.
//
// Sections: the request and progress; the clip decoder the pipeline drives; the pipeline; recipes.
//
// Constant inputs. The decoder's cross-attention needs two tensors that the official code computes
// with the frozen OpenCLIP towers, which Tessera does not run: the text tower's output for "" and the
// image tokens of an all-zero image. Both are constants of a checkpoint, so a DiCoDe folder stores
// them in `dicode_constants.safetensors` (kDicodeConstantsFile):
//   * `text_context`  [77, D] (or [1, 77, D]): the "" text context;
//   * `uc_img_tokens` [n, D]  (or [1, n, D]): the unconditional image tokens for decoder guidance;
// D is the decoder's context width, n the deep tokens per keyframe.
//
// Seeds: the LLM draws from the Philox stream keyed by the request's seed; clip c's x_T and eta noise
// use the key dicodeClipSeed(seed, c). A recipe therefore reproduces a video bit for bit on the same
// backend and thread count.
//
// Thread affinity: a DicodePipeline runs one generate() at a time on the caller's (worker) thread;
// events and the progress callback fire on that thread. Failures come back as a Status (bad folder,
// missing constants naming the file and tensor, bad request, decoder errors); a cancel is not an error:
// the result says `cancelled` and holds the clips finished before it. Cancel is polled between LLM steps
// and inside every DDIM step.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/dicode.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera {

inline constexpr const char* kDicodeConstantsFile = "dicode_constants.safetensors";
inline constexpr int kDicodeFps = 8; // the official save_video rate

// ---- request and progress ----------------------------------------------------------------------------

struct DicodeRequest {
    std::string prompt;
    // Text ids without special tokens; when empty the pipeline encodes the stripped prompt with the
    // folder's tokenizer.json (no special tokens, as the reference).
    std::vector<int32_t> prompt_ids;
    int64_t keyframes = 2; // N >= 2: N − 1 clips
    uint64_t seed = 0;
    // LLM side.
    bool do_sample = true;
    float var_scale = 0.01f;
    float llm_cfg = 1.0f; // > 1: guidance against the empty prompt in token space
    // Decoder side (the demo's values).
    int64_t ddim_steps = 50;
    double eta = 1.0;
    float cfg = 7.5f;
    float rescale = 0.7f;
    int64_t fs = 6;
    bool previews = true; // keyframe strips and each DDIM step's x0 preview
};
// Validates counts and ranges; the message names the field.
Status validateDicodeRequest(const DicodeRequest& request);
// Clip c's Philox key for the decoder's noise.
uint64_t dicodeClipSeed(uint64_t seed, int64_t clip);

struct DicodeProgress {
    enum class Stage { Keyframe, Step, Clip };
    Stage stage = Stage::Keyframe;
    int64_t keyframe = 0, keyframes = 0; // keyframes finished so far / asked for
    int64_t clip = 0, clips = 0;         // 1-based clip being decoded (Step) or finished (Clip)
    int64_t step = 0, steps = 0;         // 1-based DDIM step inside the clip
    // Keyframe: the PCA strip of its tokens (n cells, one RGB pixel each); Step: the x0 preview's
    // frames side by side; Clip: empty (the clip's frames are in `clip_frames`).
    int preview_width = 0, preview_height = 0;
    std::vector<uint8_t> preview_rgb;
    const DicodeFrames* clip_frames = nullptr; // Clip only; valid during the callback
};

// A keyframe's deep tokens [n, d] as a 1×n strip: each token projected on the first three principal
// components of the keyframe's tokens (power iteration on the d×d covariance, deterministic start),
// each component scaled to [0, 255] over the strip. A picture of how the tokens differ, not a decode.
std::vector<uint8_t> dicodePcaStrip(const std::vector<float>& tokens, int64_t n, int64_t d);

// ---- the clip decoder --------------------------------------------------------------------------------

// What the pipeline needs from the decoder side: a clip from two keyframes. DicodeDecoder is the real
// one; tests can drive the pipeline's order of work with their own.
class DicodeClipDecoder {
public:
    virtual ~DicodeClipDecoder() = default;
    virtual int64_t framesPerClip() const = 0;
    virtual int64_t contextDim() const = 0;
    virtual Expected<DicodeFrames>
    decodeClip(const std::vector<float>& keyframe_a, const std::vector<float>& keyframe_b,
               const std::vector<float>& text_context, const std::vector<float>& uc_tokens,
               const DicodeDecodeOptions& options, const DicodeCallbacks& callbacks) const = 0;
};

// ---- the pipeline ------------------------------------------------------------------------------------

struct DicodeResult {
    int64_t keyframes = 0;     // complete keyframes generated
    std::vector<float> tokens; // [keyframes, n, d] (row 0 when LLM guidance ran two rows)
    DicodeFrames video;        // the finished clips' frames, in order
    int64_t clips = 0;         // finished clips
    int fps = kDicodeFps;
    bool cancelled = false;
    double llm_ms = 0, decode_ms = 0; // wall time in the LLM and in clip decodes (previews included)
    double preview_ms = 0;            // keyframe strips and step previews handed on
};

class DicodePipeline {
public:
    // `dir`: a DiCoDe folder (config.json with `llm.agent`, model.safetensors, tokenizer.json for text
    // prompts, dicode_constants.safetensors). The decoder is given (it owns the decoder side's weights).
    static Expected<std::unique_ptr<DicodePipeline>> load(const std::string& dir, Backend& backend,
                                                          std::unique_ptr<DicodeClipDecoder> decoder);
    // The same with the folder's own decoder side (DicodeDecoder::load on `backend`).
    static Expected<std::unique_ptr<DicodePipeline>> load(const std::string& dir, Backend& backend);
    // True when `dir/config.json` describes a DiCoDe folder (`llm.agent` or `tokenizer_model`).
    static bool isDicodeFolder(const std::string& dir);
    ~DicodePipeline();

    const DicodeLlm& llm() const { return *llm_; }
    bool hasTokenizer() const;
    // Keyframes one prompt can produce.
    int64_t maxKeyframes() const;

    // Runs the request: keyframes stream from the LLM; clip c is decoded as soon as keyframe c + 1
    // exists, before the LLM goes on. Emits PreviewReady (approximate) for keyframe strips and step
    // previews when request.previews; `on_progress` gets every keyframe, step and finished clip.
    Expected<DicodeResult> generate(const DicodeRequest& request, JobContext& ctx,
                                    const std::function<void(const DicodeProgress&)>& on_progress = {});

private:
    DicodePipeline() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::unique_ptr<DicodeLlm> llm_;
};

// ---- recipes -----------------------------------------------------------------------------------------

// method "dicode": the request (prompt ids included), the model's identity and the run's outcome, so
// that regenerating from it reproduces the frames exactly (same backend and thread count).
struct DicodeRecipeInfo {
    std::string model_dir, model_hash, backend;
    int threads = 0;
};
nlohmann::json dicodeRecipe(const DicodeRequest& request, const DicodeResult& result,
                            const DicodeRecipeInfo& info);
struct DicodeRecipe {
    DicodeRequest request;
    DicodeRecipeInfo info;
    int64_t frames = 0, width = 0, height = 0;
    bool cancelled = false;
    std::string frames_sha256; // of the frames' RGB bytes, in order
};
// SHA-256 (hex) of the frames' RGB bytes: what a recipe records and a replay compares.
std::string dicodeFramesDigest(const DicodeFrames& frames);
Expected<DicodeRecipe> parseDicodeRecipe(const nlohmann::json& recipe);

} // namespace tessera
