// Janus-Pro text→image generation: the official method (prompt template, interleaved CFG rows,
// generation head and aligner, raster decode order), with per-token events and partial previews.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/image.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/speculative.h"
#include "tessera/engine/status.h"

namespace tessera {

struct SamplerSettings {
    float temperature = 1.0f; // 0 = greedy
    int top_k = 0;            // 0 = off
    float top_p = 1.0f;       // 1 = off
    float min_p = 0.0f;       // 0 = off
    float cfg = 5.0f;         // classifier-free guidance weight (1 = conditional only)
};

struct JanusRequest {
    std::string prompt;
    uint64_t seed = 0;
    SamplerSettings sampler;
    int images = 1;
    // Preview cadence in tokens (0 = once per grid row); previews are partial VQ decodes.
    int preview_every = 0;
    bool previews = true;
    int report_top_k = 5; // alternatives reported per token
    // Forced tokens for replay/branching: image i's first forced[i].size() tokens are taken as given.
    std::vector<std::vector<int32_t>> forced;
    // For oracles: the guided logits (after CFG, before temperature) of the first N steps are read back
    // into JanusResult::guided_logits.
    int capture_logits_steps = 0;
    // Plain decoding (one LM step per token) or speculative Jacobi decoding (speculative.h).
    DecodeSettings decode;
};

struct JanusResult {
    std::vector<std::vector<int32_t>> tokens; // per image, raster order (may be partial when cancelled)
    std::vector<ImageRgb8> images;
    bool cancelled = false;
    double generate_ms = 0;  // sampling loop, previews excluded
    double preview_ms = 0;   // time spent on previews (decodes, colour-map fitting, mosaics)
    int64_t decode_steps = 0;    // LM forward passes after the prompt (= tokens when decoding plainly)
    int64_t drafts_accepted = 0; // speculative decoding: draft tokens that passed the test, all images
    int previews_decoded = 0;     // full partial decodes shown
    int previews_approximate = 0; // fast colour mosaics shown
    int grid_h = 0, grid_w = 0;
    std::vector<std::vector<float>> guided_logits; // [step][image * vocab + v], first capture_logits_steps steps
};

struct JanusInfo {
    std::string dir;
    std::string layout; // "transformers" or "deepseek"
    int grid_h = 0, grid_w = 0, image_size = 0, codebook = 0;
    size_t weight_bytes = 0;
    int64_t context = 0;
    double preview_calibration_ms = 0; // load-time cost of fitting the fast-preview colour map
};

class JanusModel;
class Tokenizer;
struct WeightOverlay;
struct LmLayout;

// The text the official generation script feeds for `prompt`: the SFT template with an empty system
// prompt (stripped as Python's str.strip does), then the image-start tag. Training (EAR) builds the
// same prompt as generation through this function.
std::string janusGenerationPrompt(const std::string& prompt);
// The pad id of the unconditional CFG rows: the vocabulary's <｜▁pad▁｜>, else tokenizer_config's pad
// token, else config.json's pad_token_id (`config_pad`, -1 when absent); an error naming `dir` when
// none exists.
Expected<int32_t> janusPadId(const Tokenizer& tokenizer, int64_t config_pad, const std::string& dir);

class JanusPipeline {
public:
    // Loads a Janus checkpoint folder (transformers or original DeepSeek layout) with its tokenizer.
    static Expected<std::unique_ptr<JanusPipeline>> load(const std::string& dir, Backend& backend);
    ~JanusPipeline();

    const JanusInfo& info() const { return info_; }
    // Runs the whole generation; emits TokenSampled/PreviewReady/StepTiming through ctx; stops within
    // one step when ctx is cancelled (the partial result comes back with cancelled = true).
    Expected<JanusResult> generate(const JanusRequest& request, JobContext& ctx);
    // Decodes a full or partial token grid (missing cells shown as mid-grey) to RGB.
    Expected<ImageRgb8> decode(const std::vector<int32_t>& tokens);
    // Fast approximate preview: every sampled cell painted with its code's colour under a linear
    // code→RGB map fitted once per loaded model from a small calibration decode; missing cells grey.
    Expected<ImageRgb8> mosaic(const std::vector<int32_t>& tokens);
    // For LANTERN: each code's k nearest other codes in the VQ latent space (computed once, kept).
    Expected<std::shared_ptr<const LatentNeighbours>> latentNeighbours(int k);
    // Where the LM's tensors sit in the checkpoint, for weight overlays (EAR deltas).
    const LmLayout& lmLayout() const;
    // Generates from then on with `overlay` applied to the LM (EAR's trained projections, say): the
    // model plus its delta is a model. Fails, leaving the pipeline as it was, on unknown tensor names or
    // wrong shapes. Not while a generation runs.
    Status applyOverlay(const WeightOverlay& overlay);

private:
    JanusPipeline() = default;
    Status fitColourMap();
    JanusInfo info_;
    std::unique_ptr<JanusModel> model_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace tessera
