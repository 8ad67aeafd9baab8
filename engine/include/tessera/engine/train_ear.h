// EAR's trained weights: full-rank copies of q_proj, k_proj, v_proj and o_proj of the first N decoder
// layers (spec: ../shared/specs/ear.md). This header covers choosing and freezing those tensors and
// the file that carries them; the EAR objective, rollout and windowed accumulation are not here yet.
//
// File: safetensors, one tensor per projection under the official release's names,
// "layers.<i>.self_attn.<q|k|v|o>_proj.weight" (no model prefix), f32 when written here, any float
// dtype when read. The tensors replace the model's own (they are weights, not differences), so a
// loaded file becomes a WeightOverlay in Replace mode under the checkpoint's names for `layout`.
// Failure modes: unreadable files, unexpected names or dtypes come back as a Status naming them.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/train.h"

#include <string>
#include <vector>

namespace tessera::train {

// Checkpoint names of the trained projections, layer by layer: "<prefix>layers.<i>.self_attn.q_proj.weight", ….
std::vector<std::string> earTrainedNames(const LmLayout& layout, int layers);
// Makes exactly those tensors trainable and freezes every other; returns how many stay trainable.
int earSelectTrainable(std::vector<Parameter<float>>& params, const LmLayout& layout, int layers);
// Writes the trained projections under the official names.
Status saveEarWeights(const std::string& path, const std::vector<Parameter<float>>& params, const LmLayout& layout,
                      int layers);
// Reads an EAR file as an overlay for a model with `layout`, its tensors on `backend`.
Expected<WeightOverlay> loadEarOverlay(const std::string& path, const LmLayout& layout, Backend& backend);

} // namespace tessera::train
