// Lumos-1: text→image, text→video and image→video by AR-DF decoding (MaskGIT steps inside each latent
// frame, frames autoregressive) on a Chameleon backbone with MM-RoPE.
//
// Sections: vocabulary and request; the sequence builder (pure functions, testable alone); progress
// reported each step; the pipeline; recipes; random checkpoints for tests and benchmarks.
//
// What the pipeline does per latent frame (the official inference code, read, not copied):
//   * the conditional sequence is `[0] tok(q) [8710] [9004] [8804+dur] [8804+fps]` then frames
//     `[8197] [8804+H/32] [8804+W/32] (rows of codes, each ended by 8803) [8196]`; the unconditional
//     sequence is the same sequence from `[9004]` on (the prompt dropped), so both branches see the same
//     frame contents and each has its own KV cache and its own P0 (index of frame 0's first code);
//   * S steps over the whole frame segment, both caches cropped back to the frame start after each;
//     guided logits l_u + g·(l_c − l_u) over the video codes only (ids 65536+k), T = 1;
//     FrameMaskOrder keeps known cells, re-masks the least confident by the cosine schedule with
//     Gumbel noise whose temperature decays and (by default, like the reference) is never reset;
//   * once a frame is complete it is written into both caches with MASK at 70% of its
//     L = h·(w+1) content positions, evenly spaced (round(k·L/n), n = round(0.7·L), newlines included).
// I2V puts one encoded latent frame (the first picture) in the sequence, history-masked the same way.
//
// Thread affinity: a LumosPipeline runs one generate() at a time on the caller's (worker) thread;
// events and the progress callback fire on that thread. Failures come back as Status; cancel is checked
// before every step (so a run stops within one step).
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/causal_lm.h"
#include "tessera/engine/cosmos.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera {

// ---- vocabulary ------------------------------------------------------------------------------------

struct LumosVocab {
    static constexpr int64_t kBos = 0;
    static constexpr int64_t kFrameStart = 8197;
    static constexpr int64_t kFrameEnd = 8196;
    static constexpr int64_t kSeparator = 8710;
    static constexpr int64_t kNewline = 8803;
    static constexpr int64_t kNumberBase = 8804; // 8804 + n is the integer n
    static constexpr int64_t kMask = 9003;
    static constexpr int64_t kVideoStart = 9004;
    static constexpr int64_t kVideoEnd = 9005;
    static constexpr int64_t kCodeBase = 65536; // 65536 + k is video code k
    static constexpr int64_t kMaxCodes = 64000;
    static constexpr int64_t kPixelsPerGrid = 32; // the resolution tokens count 32-pixel units
    static constexpr int64_t kSpatialCompression = 8;
    static constexpr int64_t kTemporalCompression = 4;
};

enum class LumosTask { TextToImage, TextToVideo, ImageToVideo };
const char* lumosTaskName(LumosTask task);

struct LumosRequest {
    LumosTask task = LumosTask::TextToVideo;
    std::string prompt;
    // Token ids of the prompt text (without BOS). When empty the pipeline tokenizes `prompt` with the
    // checkpoint's tokenizer.json (an error when the checkpoint has none).
    std::vector<int32_t> prompt_ids;
    int width = 448, height = 256; // pixels, multiples of 32
    int fps = 12, duration_s = 2;  // T2I: both 1
    // Latent frames to generate, counting an I2V first frame; 0 = ceil((fps·duration − 1)/4) + 1.
    int64_t latent_frames = 0;
    int64_t steps = 50; // MaskGIT steps per latent frame
    float cfg = 0;      // 0 = the reference's weight: 15 for video, 16 for T2I
    uint64_t seed = 0;
    double gumbel_temperature = 1.0;
    bool reset_temperature_per_frame = false; // false = the reference (decayed to 0 after frame 0)
    double history_mask_ratio = 0.7;          // share of a committed frame's positions written as MASK
    // I2V: the first latent frame's codes (h_lat·w_lat, row-major), from the Cosmos encoder.
    std::vector<int32_t> first_frame_codes;
    // For oracles: the guided logits of the first N steps come back in LumosResult::guided_logits.
    int capture_guided_steps = 0;
};

// Derived sizes of a request (validated by lumosShape).
struct LumosShape {
    int64_t lat_h = 0, lat_w = 0;
    int64_t latent_frames = 0; // in the sequence, I2V's given frame included
    int64_t given_frames = 0;  // 1 for I2V
    int fps = 0, duration_s = 0;
    float cfg = 0;
    int64_t frameCells() const { return lat_h * lat_w; }
    int64_t frameContent() const { return lat_h * (lat_w + 1); } // L: codes plus newline columns
    int64_t frameSegment() const { return frameContent() + 4; }  // with [8197 gridH gridW] and [8196]
};
// Validates sizes, counts and weights; the message names the offending field.
Expected<LumosShape> lumosShape(const LumosRequest& request);

// ---- sequence builder ------------------------------------------------------------------------------

// "Generate a video with a resolution of {W}x{H}, consisting of {dur·fps} frames at {fps} frames per
// second, according to the following prompt:\n " + caption.
std::string lumosPromptText(const std::string& caption, int width, int height, int fps, int duration_s);
// [0] text [8710] [9004] [8804+duration] [8804+fps].
std::vector<int64_t> lumosPrefix(const std::vector<int32_t>& text_ids, int duration_s, int fps);
// One frame segment: [8197] [8804+H/32] [8804+W/32] (rows of lat_w ids then 8803) [8196]. codes[i] < 0
// is MASK, otherwise the id 65536 + codes[i]. codes may be null (all MASK).
std::vector<int64_t> lumosFrameSegment(const int32_t* codes, int64_t lat_h, int64_t lat_w, int height,
                                       int width);
// Content offsets (0-based inside the L = h·(w+1) content positions) written as MASK when a frame is
// committed: round(k·L/n) for k < n, n = max(1, round(ratio·L)), rounding half to even.
std::vector<int64_t> lumosHistoryMask(int64_t content_length, double ratio);
// The two branches of classifier-free guidance and the P0 of each (index of frame 0's first content
// token, -1 before any frame). The unconditional branch is the sequence from [9004] on.
struct LumosBranches {
    std::vector<int64_t> cond, uncond;
    int64_t cond_p0 = -1, uncond_p0 = -1;
    int64_t uncond_offset = 0; // cond index of uncond[0]
};
Expected<LumosBranches> lumosBranches(const std::vector<int64_t>& cond);

// ---- progress --------------------------------------------------------------------------------------

// After every step (on the worker thread; keep it quick). `sampled` holds this step's draw for every
// cell of the frame (known cells keep their code), `grid` what is final (-1 = still masked).
struct LumosProgress {
    int64_t frame = 0, frames = 0; // latent frame being generated (I2V's given frame is frame 0)
    int64_t step = 0, steps = 0;   // 1-based step inside the frame
    int64_t masked = 0;            // cells of the frame still masked after the step
    double gumbel_temperature = 0; // the re-masking temperature carried into the next step
    int64_t cond_cache_length = 0, uncond_cache_length = 0; // after the crop back to the frame start
    int64_t cond_frame_start = 0; // index of this frame's [8197] in the conditional sequence
    std::vector<int32_t> sampled, grid;
};

// A committed frame as it went into a branch's cache.
struct LumosCommittedFrame {
    int64_t frame = 0;
    std::vector<int64_t> cond, uncond; // the fed segments ([8197] … [8196])
};

struct LumosResult {
    LumosShape shape;
    std::vector<int32_t> codes;    // latent_frames·lat_h·lat_w codes k (fewer cells final if cancelled)
    std::vector<int64_t> sequence; // the final conditional sequence, [9005] included when complete
    std::vector<LumosCommittedFrame> committed;
    int64_t cond_p0 = -1, uncond_p0 = -1;
    bool cancelled = false;
    int64_t steps = 0;
    double decode_ms = 0, preview_ms = 0;
    std::vector<std::vector<float>> guided_logits; // [step][cell · codes + k] (capture_guided_steps)
};

// A coarse picture of a code grid for live previews: each cell painted from its code's first three
// FSQ digits (levels 8, 8, 8) as red, green, blue; masked cells grey. Not a decode.
std::vector<uint8_t> lumosCodeDigitColours(const std::vector<int32_t>& codes);

// A latent frame decoded to pixels as soon as it is committed. Cosmos is causal in time, so latent
// frame t's pixels depend only on latent frames <= t: the pipeline decodes the prefix 0..t and keeps
// the frames t adds (1 for t = 0, 4 after), which equal those of a decode of the whole clip at the end
// (tests/engine/lumos_pipeline_test.cpp compares them). I2V's given frame is reported first.
struct LumosDecodedFrame {
    int64_t latent_frame = 0, latent_frames = 0; // I2V's given frame is latent frame 0
    int64_t first_video_frame = 0;              // index of pixels' first frame in the whole clip
    std::vector<int32_t> codes;                 // this latent frame's lat_h·lat_w codes
    VideoF32 pixels;                            // 1 (t = 0) or 4 frames, RGB in [-1, 1], not clamped
};

// Where committed frames get decoded (null tokenizer: not at all). The tokenizer's weights must live
// on the pipeline's backend. The prefix decode costs O(t) per frame (O(T²) over a clip): fine for the
// studio's live view of short clips; the CLI decodes the clip once at the end. `on_frame` runs on the
// worker thread (keep it quick); a decode failure ends the run with that Status.
struct LumosFrameDecoding {
    const CosmosTokenizer* tokenizer = nullptr;
    std::function<void(const LumosDecodedFrame&)> on_frame;
};

// ---- the pipeline ----------------------------------------------------------------------------------

class LumosPipeline {
public:
    // A Chameleon checkpoint with MM-RoPE (head_dim a multiple of 16, vocabulary past 65536). Reads
    // tokenizer.json when the folder has one.
    static Expected<std::unique_ptr<LumosPipeline>> load(const std::string& model_dir, Backend& backend);
    ~LumosPipeline();

    // Runs the request. Events: StepTiming every step, PreviewReady (approximate, code-digit colours of
    // the current frame's sampled grid) every step. `on_step` gets a LumosProgress after every step;
    // with `frames.tokenizer` set, every committed latent frame is decoded and given to
    // `frames.on_frame` (its time counts as preview time). Tokens do not depend on `frames`.
    Expected<LumosResult> generate(const LumosRequest& request, JobContext& ctx,
                                   const std::function<void(const LumosProgress&)>& on_step = {},
                                   const LumosFrameDecoding& frames = {});
    Backend& backend() const;

    const TransformerConfig& config() const;
    int64_t codes() const { return codes_; } // video codes the checkpoint's vocabulary holds
    bool hasTokenizer() const;

private:
    LumosPipeline() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int64_t codes_ = 0;
};

// ---- recipes ---------------------------------------------------------------------------------------

// method "lumos-1": the request, the model's identity and the codes, so that regenerating from it
// reproduces the codes exactly (same backend and precision).
struct LumosRecipeInfo {
    std::string model_dir, model_hash, backend;
    int threads = 0;
};
nlohmann::json lumosRecipe(const LumosRequest& request, const LumosResult& result,
                           const LumosRecipeInfo& info);
struct LumosRecipe {
    LumosRequest request;
    LumosRecipeInfo info;
    std::vector<int32_t> codes;
    bool cancelled = false;
};
Expected<LumosRecipe> parseLumosRecipe(const nlohmann::json& recipe);

// ---- random checkpoints ----------------------------------------------------------------------------

// Chameleon + MM-RoPE configs in Lumos-1 shapes for tests and benchmarks: "lumos-tiny" (2 layers,
// d 32, the full 129,536-token vocabulary) and "lumos-1b" (Llama-3.2-1B dimensions, the full 129,536-token
// vocabulary).
std::vector<std::string> lumosPresets();
Expected<nlohmann::json> lumosPresetConfig(const std::string& name);

// ---- benchmark -------------------------------------------------------------------------------------

// Random weights in a preset's shape (a scratch checkpoint, removed afterwards), one T2V run: prints
// time per AR-DF step (both branches' frame forwards, guidance, sampling, re-masking) and the preview
// work (code-digit colours of the whole grid every step, events) as a share of the same run.
struct LumosBenchOptions {
    std::string preset = "lumos-tiny";
    int width = 0, height = 0; // 0: the preset's default (64x32 tiny, 128x64 for lumos-1b)
    int64_t latent_frames = 2;
    int64_t steps = 8;
    int threads = 0;
    DType dtype = DType::F32; // how the random weights are stored (bf16 halves the scratch file)
    std::string scratch_dir;
    uint64_t seed = 1;
};
Expected<nlohmann::json> runLumosBench(const LumosBenchOptions& options);

} // namespace tessera
