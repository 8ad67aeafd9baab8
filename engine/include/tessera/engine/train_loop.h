// The training loop: optimizer steps over micro-batches, freezing, checkpoints that survive a kill,
// and the engine job that runs it.
//
// A Trainer drives parameters it does not own (a LlamaTrainModel's, say; they must outlive it). The
// caller supplies the loss of one micro-batch as a function of (step, micro-batch index), so the data a
// step sees depends only on its position in training and a resumed run sees what an uninterrupted one
// would have seen. Everything else that decides the next step (trainable weights, Adam moments and step
// count, the loss history) is in the checkpoint; with the same loss function a resumed run continues
// bit for bit (tests/engine/train_loop_test.cpp).
//
// Checkpoint file: safetensors, f32. Trainable parameters under their own names, Adam moments under
// "optimizer.exp_avg.<name>" and "optimizer.exp_avg_sq.<name>", the per-step losses as
// "trainer.losses" [steps]; metadata "tessera.train.format" = "1" and "tessera.train.step". Frozen
// parameters are not written (they come from the base checkpoint). Written to "<path>.tmp", flushed
// to disk and renamed over <path>, so a kill at any moment leaves the previous checkpoint or the new
// one, never a torn file.
//
// Thread affinity: a Trainer is used by one thread at a time (the job's worker). Failure modes: bad
// or mismatched checkpoints, write errors and errors the loss function throws come back as a Status.
#pragma once

#include "tessera/engine/scheduler.h"
#include "tessera/engine/train.h"

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tessera::train {

struct TrainerOptions {
    AdamOptions adam;
    int accumulate = 1;              // micro-batches per optimizer step (their gradients are averaged)
    std::vector<std::string> freeze; // tensor-name globs to keep fixed (freezeMatching)
    std::string checkpoint_path;     // empty: no checkpoints
    int checkpoint_every = 1;        // steps between checkpoints, plus the last step; 0: only on cancel
    // Learning-rate schedule over the run's total steps, a function of the step alone so that a resumed
    // run follows the same curve; transformers' conventions: step s < warmup_steps uses
    // adam.lr * s / warmup_steps, then adam.lr (constant) or a cosine from adam.lr towards
    // adam.lr * min_lr_ratio at total_steps (get_cosine_with_min_lr_schedule_with_warmup).
    int64_t warmup_steps = 0;
    bool cosine = false;
    double min_lr_ratio = 0.1;
    // Global gradient-norm clipping (PyTorch's clip_grad_norm_): when the L2 norm of every trainable
    // gradient together exceeds clip_norm, all are scaled by clip_norm / (norm + 1e-6). 0: no clipping.
    double clip_norm = 0.0;
};

// The learning rate of optimizer step `step` (0-based) of `total_steps` under `o`'s schedule.
double scheduledLr(const TrainerOptions& o, int64_t step, int64_t total_steps);
// Clips the trainable gradients to a global L2 norm of `max_norm` as clip_grad_norm_ does; returns the
// norm before clipping.
double clipGradNorm(std::vector<Parameter<float>>& params, double max_norm);

// The loss of micro-batch `micro` of optimizer step `step` (0-based), built on `tape`.
using LossFn = std::function<Var(Tape<float>& tape, int64_t step, int micro)>;

struct StepRecord {
    int64_t step = 0; // 1-based count of optimizer steps done
    int64_t total = 0;
    float loss = 0; // mean over the step's micro-batches
    double step_ms = 0;
    double lr = 0;        // the learning rate this step used
    double grad_norm = 0; // global L2 norm of the gradients before clipping
};

class Trainer {
public:
    Trainer(std::vector<Parameter<float>>& params, TrainerOptions options, LossFn loss);

    // Loads weights, optimizer state and loss history from options.checkpoint_path when that file
    // exists: true when restored, false when there was nothing to restore.
    Expected<bool> resume();
    // Runs optimizer steps until `total_steps` are done (restored steps count), calling `on_step` after
    // each. Stops early, with a checkpoint, when `ctx` is cancelled (and emits StepTiming through it).
    // A non-finite loss fails the run before that step changes any weight.
    Status run(int64_t total_steps, const JobContext* ctx = nullptr,
               const std::function<void(const StepRecord&)>& on_step = {});
    Status saveCheckpoint() const;

    int64_t step() const { return adam_.step(); }
    const std::vector<float>& losses() const { return losses_; }
    const Adam& optimizer() const { return adam_; }
    const TrainerOptions& options() const { return options_; }

private:
    std::vector<Parameter<float>>& params_;
    TrainerOptions options_;
    LossFn loss_;
    Adam adam_;
    std::vector<float> losses_;
};

// A Scheduler job running `trainer` to `total_steps`: StepTiming events per step, `on_step` (on the
// worker thread; keep it quick) for the loss curve, cancel between steps with a checkpoint written.
// The job first resumes from the trainer's checkpoint when that file exists.
JobFn trainingJob(std::shared_ptr<Trainer> trainer, int64_t total_steps,
                  std::function<void(const StepRecord&)> on_step = {});

// Writes `pieces` one after another to `path` atomically: a temporary file beside it, fsynced, then
// renamed over `path`; on failure the temporary file is removed and `path` is left as it was.
Status writeFileAtomically(const std::string& path, const std::vector<std::pair<const void*, size_t>>& pieces);

// Writes tensors held in f32 as one safetensors file, atomically, in the order given; each tensor is
// stored as `dtype` (F32, BF16 or F16; the narrow ones rounded to nearest even).
struct NamedF32 {
    std::string name;
    Shape shape;
    const std::vector<float>* values = nullptr;
    DType dtype = DType::F32;
};
Status writeSafetensorsF32(const std::string& path, const std::vector<NamedF32>& tensors,
                           const std::map<std::string, std::string>& metadata = {});

} // namespace tessera::train
