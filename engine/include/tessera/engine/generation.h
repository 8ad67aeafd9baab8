// The generation core: one loop for every method and every backend.
//
// The loop owns what all methods share — the step sequence of a DecodeOrder, classifier-free guidance
// rows and their per-step weight, sampling as a backend op (only ids and statistics reach the host),
// forced tokens for replay and branching, TokenSampled/StepTiming events, cancel between steps, and
// the split of time between decoding and whatever the method does after a step (previews). A method
// supplies a StepModel: the forward pass that turns "what was committed last step" into logits for
// the positions of this step. Janus is RasterOrder + one LM step per token; Token-Shuffle is
// WindowOrder + one step per window; Lumos-1 is FrameMaskOrder + one frame forward per MaskGIT step.
//
// Branches: each sequence has `branches` logits rows per predicted position, laid out
// [sequence·branches + branch, position, vocab]; CFG uses cond_branch and uncond_branch (EAR's
// three-branch objective uses three).
//
// Thread affinity: run() on the job's worker thread; failures come back as a Status.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/decode_order.h"
#include "tessera/engine/sampling.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/speculative.h"
#include "tessera/engine/status.h"

namespace tessera {

// How the guidance weight varies over the visual tokens (t of T): constant w; linear 1 → w;
// half-linear 1 → w over the first half then w (Token-Shuffle's default); cosine 1 → w on a half cosine.
enum class CfgSchedule { Constant, Linear, HalfLinear, Cosine };
float cfgWeightAt(CfgSchedule schedule, float weight, int64_t t, int64_t total);
const char* cfgScheduleName(CfgSchedule schedule);
std::optional<CfgSchedule> cfgScheduleFromName(std::string_view name);

struct GenerationSettings {
    SampleParams sampling;
    float cfg = 1.0f;
    CfgSchedule cfg_schedule = CfgSchedule::Constant;
    int branches = 1;      // logits rows per sequence and position
    int cond_branch = 0;   // the branch sampled from (guided when uncond_branch >= 0)
    int uncond_branch = -1;
    // Per sequence, tokens taken as given, in decode order (replay and branching; raster and window
    // orders only).
    std::vector<std::vector<int32_t>> forced;
    // For oracles: the guided logits of the first N steps are read back (the one path that copies
    // logits to the host) into GenerationOutcome::guided_logits.
    int capture_guided_steps = 0;
    // Plain or speculative Jacobi decoding (speculative.h). SJD needs a RasterOrder and a StepModel with
    // supportsWindows(); it reads each window's logits back to the host (V floats per row and cell).
    DecodeSettings decode;
    // SJD's acceptance probability; empty = min(1, p/q). Only to study lossy rules.
    SjdAcceptRule sjd_accept;
    // LANTERN (decode.lantern_k > 0): the codes' latent neighbours, at least lantern_k per code.
    std::shared_ptr<const LatentNeighbours> latent_neighbours;
};

class StepModel {
public:
    virtual ~StepModel() = default;
    // Logits [sequences·branches, positions.size(), V] for this step's positions, after feeding what
    // the previous step committed (read it from `order`'s grids; nothing on step 0).
    virtual Tensor stepLogits(const std::vector<int64_t>& positions, const DecodeOrder& order) = 0;
    // Windows of cells (speculative decoding over a raster order). A model that supports them:
    //   windowLogits(first, drafts, order) returns logits [sequences·branches, m + 1, V] for cells
    //   [first, first + m] of every sequence (m = drafts[seq].size(), the same for all), feeding cell
    //   first − 1 (committed in every sequence's grid; nothing for first = 0) and then drafts[seq] as
    //   cells [first, first + m). Its state must hold exactly cells [0, max(0, first − 1)) before, and
    //   holds cells [0, first + m) after (anything else throws Error).
    //   cropTo(n) forgets the state of cells >= n (n no more than it holds).
    // The defaults throw Error: such a model can only be decoded plainly.
    virtual bool supportsWindows() const { return false; }
    virtual Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts, const DecodeOrder& order);
    virtual void cropTo(int64_t cells);
    virtual size_t kvCacheBytes() const { return 0; }
    virtual size_t modelBytes() const { return 0; }
};

struct GenerationOutcome {
    bool cancelled = false;
    int64_t steps = 0;   // forward passes (one per decode-order step; fewer than cells with SJD)
    int64_t drafts_accepted = 0; // SJD: drafts that passed the acceptance test, all sequences
    double decode_ms = 0; // the loop without after-step work
    double after_ms = 0;  // after-step work (previews)
    std::vector<std::vector<float>> guided_logits; // [step][sequence · V + v]
};

class GenerationLoop {
public:
    GenerationLoop(Backend& backend, DecodeOrder& order, StepModel& model, GenerationSettings settings,
                   JobContext& ctx);
    // Runs to the end of the order (or cancel). `after_step(step)` runs after each step's events, with
    // its time counted apart from decoding; a non-ok Status stops the run and is returned. With SJD the
    // order's step() (and `step`) is the number of cells every sequence has committed.
    Expected<GenerationOutcome> run(const std::function<Status(int64_t step)>& after_step = {});
    // The pipeline reports when it showed its first preview (StepTiming carries it).
    void notePreview(double since_start_ms) {
        if (first_preview_ms_ < 0) first_preview_ms_ = since_start_ms;
    }
    double elapsedMs() const;
    // The last step's draw for every position it predicted (kept or not), for previews of orders that
    // re-mask (MaskGIT shows the whole grid sharpening). Valid inside after_step.
    const SampleResult& lastSampled() const { return sampled_; }

private:
    Expected<GenerationOutcome> runSpeculative(const std::function<Status(int64_t step)>& after_step);
    void emitTiming(GenerationOutcome& out, double t_step);

    Backend& backend_;
    DecodeOrder& order_;
    StepModel& model_;
    GenerationSettings settings_;
    JobContext& ctx_;
    double first_preview_ms_ = -1;
    double start_ms_ = 0;
    SampleResult sampled_;
};

} // namespace tessera
