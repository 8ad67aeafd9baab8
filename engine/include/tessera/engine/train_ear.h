// EAR's trained weights: full-rank copies of q_proj, k_proj, v_proj and o_proj of the first N decoder
// layers (spec: ../shared/specs/ear.md). This header covers choosing and freezing those tensors and
// the file that carries them, the ESD-style target, and Windowed Gradient Accumulation with
// Thresholded Loss Masking. The three-branch CFG rollout that produces the sequences is not here yet.
//
// File: safetensors, one tensor per projection under the official release's names,
// "layers.<i>.self_attn.<q|k|v|o>_proj.weight" (no model prefix), f32 when written here, any float
// dtype when read. The tensors replace the model's own (they are weights, not differences), so a
// loaded file becomes a WeightOverlay in Replace mode under the checkpoint's names for `layout`.
// Failure modes: unreadable files, unexpected names or dtypes come back as a Status naming them.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/train.h"

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
    int window() const { return window_; }
    double threshold() const { return threshold_; }

private:
    int window_;
    double threshold_;
    int steps_in_window_ = 0;
    int64_t windows_ = 0;
    double sum_ = 0;
};

} // namespace tessera::train
