// Token-Shuffle text→image (up to 2048²): a Llama LM stepping one s×s window of VQ tokens per decoder
// step, classifier-free guidance with a per-step schedule, live previews, and a tiled VQ decode whose
// memory does not grow with the image. Checkpoint schema: docs/TOKEN_SHUFFLE.md.
//
// Thread affinity: load() and every method on one worker thread at a time (the job's); events are
// emitted on it. Failures (bad folder, bad request, out of memory) come back as a Status, never an abort.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/image.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/status.h"

#include <memory>
#include <string>
#include <vector>

namespace tessera {

struct TokenShuffleRequest {
    std::string prompt;
    uint64_t seed = 0;
    SamplerSettings sampler;                            // cfg is the schedule's final weight w
    CfgSchedule cfg_schedule = CfgSchedule::HalfLinear; // the paper's default
    int images = 1;
    int64_t grid = 0; // tokens per image side, a multiple of the window (0 = the config's grid)
    // Preview cadence in windows (0 = once per row of windows); previews are partial VQ decodes when
    // they fit 3% of the generation time so far, otherwise colour mosaics (PreviewReady::approximate).
    int preview_every = 0;
    bool previews = true;
    int report_top_k = 5;
    // Replay/branching: image i's first forced[i].size() tokens, in decode order (window after window,
    // slots row-major inside a window), are taken as given.
    std::vector<std::vector<int32_t>> forced;
    // VQ decode tiling for grids larger than one tile (VqModel::decodeCodesTiled).
    int64_t vq_tile = 24, vq_halo = 8;
    int capture_logits_steps = 0; // oracles: guided logits of the first N steps
    // false: tokens only, no final VQ decode (and no final PreviewReady); `images` stays empty. For
    // token-level studies (sampler statistics) where the pictures are not looked at.
    bool decode_images = true;
    // Plain decoding or SJD over windows (speculative.h): decode.window counts s×s windows, and a
    // window is accepted when all its s² drafts pass (each slot tested against its own distribution).
    DecodeSettings decode;
};

struct TokenShuffleResult {
    // Per image, in decode order (what `forced` takes); fewer than grid² when cancelled.
    std::vector<std::vector<int32_t>> tokens;
    // Per image, raster order over the grid, -1 where not sampled.
    std::vector<std::vector<int32_t>> grids;
    std::vector<ImageRgb8> images;
    bool cancelled = false;
    int64_t grid = 0, window = 0, steps = 0; // steps: LM forwards (windows, fewer with SJD)
    int64_t drafts_accepted = 0;              // SJD: draft tokens that passed, all images
    double generate_ms = 0; // the decode loop, previews excluded
    double preview_ms = 0;
    double vq_decode_ms = 0;      // final decodes
    int previews_decoded = 0;     // partial VQ decodes shown
    int previews_approximate = 0; // colour mosaics shown
    std::vector<std::vector<float>> guided_logits;
};

// What a run will cost, known before it starts.
struct TokenShuffleEstimate {
    int64_t grid = 0, window = 0, image_size = 0;
    int64_t steps = 0; // decoder steps: (grid / window)²
    int64_t prompt_tokens = 0;
    size_t weight_bytes = 0; // LM + shuffle tensors as resident
    size_t vq_weight_bytes = 0;
    size_t kv_cache_bytes = 0; // 2 CFG rows per image, prompt + steps positions
    size_t vq_window_bytes =
        0;                   // bound on one VQ decode window's activations (see token_shuffle_pipeline.cpp)
    size_t output_bytes = 0; // the image being decoded (f32 and blend weights) and the RGB8 results
    size_t runtime_bytes = 0; // per thread: BLAS packing buffers and malloc slack (an allowance)
    // All of the above together: what is live at once, the tiled decode returning the allocator's
    // cached blocks after every decoder level (docs/TOKEN_SHUFFLE.md, "Memory, time and seams").
    size_t peak_bytes_bound = 0;
    double step_floor_ms = 0; // weights read once per step at `bandwidth_gbs`
    double bandwidth_gbs = 0;
    double decode_floor_ms = 0; // steps × step_floor_ms
};

struct TokenShuffleInfo {
    std::string dir;
    int64_t window = 0, grid = 0, image_size = 0, codebook = 0, downsample = 16;
    size_t weight_bytes = 0, vq_weight_bytes = 0;
    int64_t context = 0;
};

namespace models {
class TokenShuffleModel;
}

class TokenShufflePipeline {
public:
    // A folder in the docs/TOKEN_SHUFFLE.md layout (config.json with a "token_shuffle" object).
    static Expected<std::unique_ptr<TokenShufflePipeline>> load(const std::string& dir, Backend& backend);
    // Whether `dir`'s config.json names Token-Shuffle (false for unreadable folders).
    static bool isTokenShuffleFolder(const std::string& dir);
    ~TokenShufflePipeline();
    const TokenShuffleInfo& info() const { return info_; }

    // Cost of a request before running it (errors: bad grid, prompt too long). `bandwidth_gbs` is the
    // memory bandwidth the step floor assumes (bench memory measures it).
    Expected<TokenShuffleEstimate> estimate(const TokenShuffleRequest& request, double bandwidth_gbs = 20.0);
    // Runs the whole generation; TokenSampled/PreviewReady/StepTiming through ctx; stops within one
    // step when cancelled (the partial result comes back with cancelled = true, unsampled cells grey).
    Expected<TokenShuffleResult> generate(const TokenShuffleRequest& request, JobContext& ctx);
    // Decodes a raster grid (cells < 0 painted mid-grey) of side `grid`, tiled above one tile.
    Expected<ImageRgb8> decode(const std::vector<int32_t>& raster, int64_t grid, int64_t tile = 24,
                               int64_t halo = 8);

    // Fast approximate preview: every sampled cell painted with its code's colour under a linear
    // code→RGB map fitted at load on a 4×4-token calibration decode; cells < 0 mid-grey.
    ImageRgb8 mosaic(const std::vector<int32_t>& raster, int64_t grid) const;
    // Each code's k nearest codes in the VQ's latent space (LANTERN), computed once and kept.
    Expected<std::shared_ptr<const LatentNeighbours>> latentNeighbours(int k);

private:
    TokenShufflePipeline() = default;
    Status fitColourMap(const ImageRgb8& calibration, const std::vector<int32_t>& cells);
    TokenShuffleInfo info_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace tessera
