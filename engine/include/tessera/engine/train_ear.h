// EAR's trained weights: full-rank copies of q_proj, k_proj, v_proj and o_proj of the first N decoder
// layers (spec: ../shared/specs/ear.md). This header covers choosing and freezing those tensors and
// the file that carries them, the ESD-style target, and Windowed Gradient Accumulation with
// Thresholded Loss Masking, and the EAR training loop (EarTrainer) with its three-branch CFG rollout.
//
// File: safetensors, one tensor per projection under the official release's names,
// "layers.<i>.self_attn.<q|k|v|o>_proj.weight" (no model prefix), f32 when written here, any float
// dtype when read. The tensors replace the model's own (they are weights, not differences), so a
// loaded file becomes a WeightOverlay in Replace mode under the checkpoint's names for `layout`.
// Failure modes: unreadable files, unexpected names or dtypes come back as a Status naming them.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/train.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::train {

// Checkpoint names of the trained projections, layer by layer: "<prefix>layers.<i>.self_attn.q_proj.weight",
// ….
std::vector<std::string> earTrainedNames(const LmLayout& layout, int layers);
// Makes exactly those tensors trainable and freezes every other; returns how many stay trainable.
int earSelectTrainable(std::vector<Parameter<float>>& params, const LmLayout& layout, int layers);
// Writes the trained projections under the official names.
Status saveEarWeights(const std::string& path, const std::vector<Parameter<float>>& params,
                      const LmLayout& layout, int layers);
// Reads an EAR file as an overlay for a model with `layout`, its tensors on `backend`.
Expected<WeightOverlay> loadEarOverlay(const std::string& path, const LmLayout& layout, Backend& backend);

// The ESD-style target of EAR's objective, from the frozen model's hidden states (values, no
// gradient): h*(safe_target) − η·(h*(unsafe) − h*(safe_neutral)). All three the same size.
std::vector<float> earTarget(const std::vector<float>& safe_target, const std::vector<float>& unsafe,
                             const std::vector<float>& safe_neutral, float eta);

// Windowed Gradient Accumulation with Thresholded Loss Masking. The caller runs backward() on every
// step's loss (gradients add up in the parameters, which equals one backward of their sum) and reports
// the loss here; after every `window` steps it gets a decision: update (Adam step) when the window's
// summed loss is above `threshold`, else skip (zero the gradients, no step). Either way the caller
// clears the gradients before the next window.
class WindowedAccumulation {
public:
    WindowedAccumulation(int window, double threshold);
    struct Decision {
        int64_t window = 0; // 0-based index of the window that just closed
        double loss_sum = 0;
        bool update = false;
    };
    std::optional<Decision> add(double step_loss);
    // Closes a window that holds fewer than `window` steps (the end of a rollout) by the same rule;
    // nothing when the window is empty.
    std::optional<Decision> flush();
    int window() const { return window_; }
    double threshold() const { return threshold_; }

private:
    int window_;
    double threshold_;
    int steps_in_window_ = 0;
    int64_t windows_ = 0;
    double sum_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The EAR training loop (engine/src/train/ear_trainer.cpp; docs/EAR.md).
//
// One iteration takes one prompt pair (iteration i uses pair i mod count) and rolls out one image:
// three frozen branches (unsafe, safe-neutral, safe-target prompt), each with its conditional and
// unconditional CFG row, sample their own image tokens with CFG from the frozen model; the model being
// trained is fed the unsafe branch's tokens, and each rollout step's loss is
//   MSE(h_θ(unsafe), h*(safe_target) − η·(h*(unsafe) − h*(safe_neutral)))
// over the step's hidden states (both CFG rows). Gradients accumulate over windows of W steps; a
// window whose summed loss is above τ makes one Adam step, one at or under τ is dropped (WGA + TLM); a
// rollout's last, shorter window is closed by the same rule. Randomness: the token of branch b at
// position t of iteration i uses Philox(seed, stream 3·i + b, index t), so a resumed run samples what an
// uninterrupted one would have.
//
// Modes (spec ../shared/specs/ear.md):
//   Faithful  — as the reference training code: the raw prompt (no chat template; BOS, the text, the
//               image-start tag) and no KV cache, so after step 0 every forward pass (frozen branches and
//               the trained model) sees only the newest image-token embedding, at position 0.
//   Corrected — what inference does: the chat template (janusGenerationPrompt) and the whole sequence
//               so far as context; each step's loss covers the newest position only.
// Safe prompts are aligned to the unsafe prompt's token length: shorter ones get pad tokens after the
// first token (BOS), longer ones keep the first token and the last len−1 (so the image-start tag stays).
//
// Checkpoints (options.checkpoint_path, written atomically after every iteration): the trained
// projections, Adam's moments, every step's loss, every window's summed loss and decision; metadata
// "tessera.ear.format" = "1" and the iteration count. Cancel stops within one rollout step; the
// iteration in progress is dropped and redone on resume.
//
// Ownership: an EarTrainer owns its models (the frozen Janus model on the given backend, an f32 copy of
// the LM for training). Thread affinity: one thread at a time (the job's worker). Failure modes: load()
// and run() return a Status naming the file, tensor or prompt; nothing throws across the boundary.

enum class EarMode { Faithful, Corrected };
const char* earModeName(EarMode mode);

struct EarPair {
    std::string unsafe;       // the concept's prompt ("a church")
    std::string safe_neutral; // the same prompt without the concept ("a building")
    std::string safe_target;  // what to draw instead ("a cinema")
};

// The pairs file (docs/examples/erase_pairs.json):
//   {"concept": "church", "description": "…", "pairs": [{"unsafe": "…", "safe_neutral": "…",
//    "safe_target": "…"}, …]}
// "concept" and "description" are optional text; any other key is refused (a typo would otherwise be
// silently ignored). Errors name the place: "<source>:<line>:<column>: …" for JSON syntax, "<source>:
// pairs[2].safe_target …" for content.
struct EarPairs {
    std::string concept_name;
    std::string description;
    std::vector<EarPair> pairs;
};
Expected<EarPairs> parseEarPairs(const std::string& text, const std::string& source);
Expected<EarPairs> readEarPairs(const std::string& path);
// The same format back (for the studio's pair editor and job records).
std::string earPairsJson(const EarPairs& pairs);

struct EarOptions {
    int layers = 5;            // trained: q/k/v/o of the first `layers` decoder layers (clamped)
    int window = 48;           // W: rollout steps per accumulation window
    double threshold = 0.05;   // τ: a window's summed loss at or under it skips the update
    float eta = 1.0f;          // η of the ESD-style target
    float cfg = 5.0f;          // guidance of the three frozen branches
    float temperature = 1.0f;  // their sampling temperature
    double lr = 1e-4;          // Adam, default betas, no weight decay
    EarMode mode = EarMode::Corrected;
    uint64_t seed = 0;
    int64_t iterations = 1;    // prompt-pair rollouts
    int rollout_tokens = 0;    // image tokens per rollout; 0 = the whole grid
    std::string checkpoint_path; // empty: no checkpoints
};

// One rollout step's record (the loss curve), with the window decision when the step closed one.
struct EarStep {
    int64_t step = 0;      // 1-based over the whole run
    int64_t iteration = 0; // 1-based
    float loss = 0;
    std::optional<WindowedAccumulation::Decision> window; // window index is over the whole run
};

class EarTrainer {
public:
    // Loads a Janus checkpoint (transformers layout, Llama LM) twice: frozen for the branches and as
    // f32 training parameters. `backend` runs the frozen model and must outlive the trainer. Pairs
    // must be non-empty with no empty prompt.
    static Expected<std::unique_ptr<EarTrainer>> load(const std::string& dir, std::vector<EarPair> pairs,
                                                      EarOptions options, Backend& backend);
    ~EarTrainer();

    const EarOptions& options() const { return options_; }
    // Non-empty when options.layers was clamped to the model's layer count (a sentence to show users).
    const std::string& note() const { return note_; }
    int64_t stepsPerIteration() const;
    int64_t totalSteps() const { return stepsPerIteration() * options_.iterations; }
    int64_t iterationsDone() const { return iterations_done_; }
    const std::vector<float>& losses() const { return losses_; }
    const std::vector<WindowedAccumulation::Decision>& windows() const { return windows_; }
    // The three branches' image tokens of the last finished iteration (unsafe, neutral, target).
    const std::vector<std::vector<int32_t>>& lastRollout() const { return last_rollout_; }
    // The training parameters (all of the LM's; only the chosen projections are trainable).
    std::vector<Parameter<float>>& parameters();
    const LmLayout& layout() const;

    // Restores from options.checkpoint_path when that file exists: true when restored.
    Expected<bool> resume();
    // Runs iterations until options.iterations are done, calling on_step after every rollout step.
    // Emits TrainingProgress and StepTiming through ctx; stops within one step when ctx is cancelled.
    Status run(const JobContext* ctx = nullptr, const std::function<void(const EarStep&)>& on_step = {});
    Status saveCheckpoint() const;
    // The trained projections under the official names (saveEarWeights).
    Status saveDelta(const std::string& path) const;

private:
    EarTrainer();
    struct Impl;
    std::unique_ptr<Impl> impl_;
    EarOptions options_;
    std::string note_;
    int64_t iterations_done_ = 0;
    std::vector<float> losses_;
    std::vector<WindowedAccumulation::Decision> windows_;
    std::vector<std::vector<int32_t>> last_rollout_;
};

// A Scheduler job: resumes from the trainer's checkpoint when one exists, runs it, and calls on_step
// (on the worker thread; keep it quick) for every rollout step.
JobFn earJob(std::shared_ptr<EarTrainer> trainer, std::function<void(const EarStep&)> on_step = {});

} // namespace tessera::train
