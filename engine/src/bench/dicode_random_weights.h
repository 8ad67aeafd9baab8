// Random DiCoDe checkpoints for the benchmarks, seen by the two DiCoDe benchmark files and their tests:
// a tensor list (official names and shapes, with how each is filled) and a streaming safetensors
// writer, so a multi-gigabyte real-shape checkpoint is never held in memory.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::dicode_bench {

struct WeightSpec {
    std::string name;
    Shape shape;
    // FanIn: uniform in ±1/sqrt(fan-in) with the fan-in = every dimension but the first (Linear
    // [out, in], Conv [out, in, k…]); FanInRows: the fan-in is the first dimension (GPT-2's Conv1D
    // [in, out]); One/Zero: norms' weights and biases, biases; Embedding: uniform in ±0.05.
    enum class Fill { FanIn, FanInRows, One, Zero, Embedding } fill = Fill::FanIn;
};

// Writes `specs` as one f32 safetensors file at `path` (64-byte aligned data, so the CPU backend maps
// it in place). Values depend only on (seed, tensor index, element index). A Status names the file on
// any write failure.
Status writeRandomSafetensors(const std::string& path, const std::vector<WeightSpec>& specs, uint64_t seed);

// The decoder side's tensors (model.diffusion_model.*, first_stage_model.post_quant_conv and
// first_stage_model.decoder.*) as the official modules name and shape them for `params`, the
// tokenizer_model.params of a config.json (unet_config, first_stage_config). Throws tessera::Error on
// a config the engine's decoder cannot load.
std::vector<WeightSpec> decoderTensors(const nlohmann::json& params);

} // namespace tessera::dicode_bench
