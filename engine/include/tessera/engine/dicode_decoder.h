// DiCoDe's decoder side: two keyframes of deep tokens → a clip of RGB frames, through the 3D U-Net
// (v-prediction, zero-terminal-SNR schedule), DDIM with classifier-free guidance and guidance rescale,
// and the SD KL-f8 VAE decoder, as the official demo runs it.
//
// Ownership: a DicodeDecoder owns its weights on the backend it was loaded on (the CPU backend maps
// f32 weights without copying); the backend must outlive it. Thread affinity: decodeClip runs on the
// caller's thread (a job's worker) and drives that backend; one call at a time per backend.
// Failure modes: load() returns a Status for a missing or malformed config.json/model.safetensors
// (naming the tensor and both shapes); decodeClip returns a Status for tokens of the wrong shape, a
// backend without the video ops, a device error, or a cancel.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera {

namespace dicode {
class Unet;
class VaeDecoder;
struct Schedule;
} // namespace dicode

struct DicodeDecodeOptions {
    int64_t steps = 50;       // DDIM steps ("uniform" spacing)
    double eta = 1.0;         // 0: deterministic DDIM; the demo uses 1
    float cfg = 7.5f;         // guidance scale on v (1: no unconditional pass)
    float rescale = 0.7f;     // guidance_rescale (0: off)
    int64_t fs = 6;           // frame-stride condition
    uint64_t seed = 0;        // Philox key for x_T and the eta > 0 noise
    bool preview = true;      // compute the latent→RGB preview of each step's x0
    bool decode_frames = true; // false: stop after the last step (final_latent, no VAE pass, no frames)
    // true: the context's cross-attention keys and values (text and image tokens, both guidance
    // branches) are computed once per clip; false: at every U-Net call (the same values; for the
    // benchmark's before/after figure).
    bool reuse_context = true;
};

struct DicodeFrames {
    int64_t frames = 0, height = 0, width = 0;
    std::vector<uint8_t> rgb; // [frames][height][width][3]
};

struct DicodeStepEvent {
    int64_t step = 0;              // 0-based, in sampling order
    int64_t steps = 0;
    int64_t timestep = 0;          // DDPM timestep of this step
    std::vector<float> pred_x0;    // [1, C, T, h, w] x0 prediction of this step
    DicodeFrames preview;          // the latent→RGB map of pred_x0 (empty when options.preview is off)
};

struct DicodeCallbacks {
    // After each DDIM step, on the decoding thread.
    std::function<void(const DicodeStepEvent&)> on_step;
    // Checked between steps and between the U-Net calls of a step; set → decodeClip returns a
    // cancelled Status.
    const std::atomic<bool>* cancel = nullptr;
    // Test hook: the standard-normal draws of step i (shape of the latent) instead of the Philox
    // stream's, e.g. the reference set's stored noise. x_T can be given through `x_T`.
    std::function<std::vector<float>(int64_t step)> noise;
    std::vector<float> x_T;
};

struct DicodeClipResult {
    DicodeFrames frames;
    std::vector<float> final_latent;   // [1, C, T, h, w]
    std::vector<float> pixels;         // [1, 3, T, H, W] decoded, unclamped
    std::vector<std::vector<float>> x_steps, pred_x0_steps; // per step, [1, C, T, h, w]
};

class DicodeDecoder {
public:
    // `dir`: config.json (tokenizer_model.params as the official config.yaml) + model.safetensors with
    // the official state-dict names.
    static Expected<std::unique_ptr<DicodeDecoder>> load(const std::string& dir, Backend& backend);
    ~DicodeDecoder();

    int64_t frames() const { return frames_; }           // latent frames per clip
    int64_t latentHeight() const { return latent_h_; }
    int64_t latentWidth() const { return latent_w_; }
    int64_t latentChannels() const;
    int64_t contextDim() const;

    // keyframe tokens: [n, D] each (row-major f32). text_context: [77, D], the text tower's output for
    // "" (DiCoDe never encodes other text); uc_tokens: [n, D], the unconditional image tokens.
    Expected<DicodeClipResult> decodeClip(const std::vector<float>& keyframe_a, const std::vector<float>& keyframe_b,
                                          const std::vector<float>& text_context, const std::vector<float>& uc_tokens,
                                          const DicodeDecodeOptions& options, const DicodeCallbacks& callbacks = {}) const;

    // The official save's pixel mapping: clamp(−1, 1) → (x + 1)/2·255 → uint8 by truncation.
    // pixels [1, 3, T, H, W] → frames [T][H][W][3].
    static DicodeFrames toFrames(const std::vector<float>& pixels, int64_t t, int64_t h, int64_t w);
    // Cheap preview of a latent [1, 4, T, h, w] (not in the official code): each latent pixel becomes one
    // RGB pixel through a fixed 4→3 linear map of the SD latent (the widely used SD v1 latent→RGB
    // approximation), mapped like toFrames. No VAE pass; h×w per frame.
    static DicodeFrames previewFrames(const std::vector<float>& latent, int64_t t, int64_t h, int64_t w);

    // Components, for the reference-set runner and the benchmark.
    const dicode::Unet& unet() const { return *unet_; }
    const dicode::VaeDecoder& vae() const { return *vae_; }
    const dicode::Schedule& schedule() const { return *schedule_; }
    Backend& backend() const { return *backend_; }

private:
    DicodeDecoder() = default;
    Backend* backend_ = nullptr;
    std::unique_ptr<dicode::Unet> unet_;
    std::unique_ptr<dicode::VaeDecoder> vae_;
    std::unique_ptr<dicode::Schedule> schedule_;
    int64_t frames_ = 0, latent_h_ = 0, latent_w_ = 0;
};

// ---- random checkpoints and the decoder benchmark (src/bench/dicode_decoder_bench.cpp) -------------

// tokenizer_model.params (unet_config, first_stage_config, image_proj_stage_config, schedule) of the
// decoder side at "tiny" (reference/dicode_tiny's sizes) or "real" (the released config.yaml's) shape,
// with `frames` latent frames per clip (0: the shape's own, 4 or 16; otherwise even). An unknown shape
// or an odd frame count is a Status.
Expected<nlohmann::json> dicodeDecoderParams(const std::string& shape, int64_t frames = 0);

// Writes config.json (tokenizer_model.params = `params`) and model.safetensors with the U-Net
// (model.diffusion_model.*) and VAE decoder (first_stage_model.post_quant_conv, .decoder.*) under the
// official names, f32, into `dir` (created). Weights uniform in ±1/sqrt(fan-in), norms 1 and 0, biases
// and attention gates 0; deterministic per seed; streamed, so the real shape (6 GB) is never held in
// memory. Fails with a Status for a config it cannot lay out or a write error.
Status writeRandomDicodeDecoder(const nlohmann::json& params, const std::string& dir, uint64_t seed = 1);

struct DicodeDecoderBenchOptions {
    std::vector<std::string> shapes = {"tiny", "real"};
    int64_t real_frames = 2; // latent frames per clip at the real shape (the released clip has 16)
    int64_t ddim_steps = 2;  // per clip, at least 2: the first step of each clip is a warm-up
    int64_t rounds = 0;      // clips of each kind per shape (0: 3 at tiny, 1 at real); medians reported
    int threads = 0;         // CPU threads (0 = all)
    std::string scratch_dir; // where the random checkpoints go (removed afterwards)
    uint64_t seed = 1;
};
// Per shape, on the CPU backend with random weights and random keyframe tokens, three kinds of clip: ms
// per DDIM step (two U-Net calls: guidance as the demo runs it) with and without the x0 preview, and without it
// with the context's keys and values recomputed at every U-Net call (reuse_context off); the preview
// map's own time, the VAE decode of the clip, weight and peak resident bytes. One JSON object.
Expected<nlohmann::json> runDicodeDecoderBench(const DicodeDecoderBenchOptions& options);

} // namespace tessera
