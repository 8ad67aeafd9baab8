// The recipe an output carries: everything needed to regenerate it bit for bit. Stored in PNG text
// chunks as an A1111-style `parameters` line (for other tools) and a `tessera` JSON record.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tessera/engine/janus.h"
#include "tessera/engine/status.h"

namespace tessera {

struct Recipe {
    int version = 1;
    std::string method = "janus";   // pipeline
    std::string model_name;         // folder name
    std::string model_dir;          // as given
    std::string model_hash;         // sha256 over config.json and the safetensors headers and sizes
    std::string model_layout;       // "transformers" | "deepseek"
    std::string prompt;
    uint64_t seed = 0;
    SamplerSettings sampler;
    DecodeSettings decode; // plain or speculative (tokens depend on it); stored only when not plain
    int images = 1;       // batch size the tokens were drawn in (part of the numerics)
    int image_index = 0;  // which image of the batch this file holds
    int grid_h = 0, grid_w = 0;
    std::string backend;   // "cpu", "cuda"
    std::string precision; // "f32", "bf16"
    int threads = 0;
    bool cancelled = false;
    std::vector<int32_t> tokens; // raster order; fewer than grid_h*grid_w when cancelled
    // A weight overlay applied to the model (an EAR delta): the model plus it is the model that drew the
    // tokens. Empty when none; stored as {"overlay": {"path", "sha256"}} only when set.
    std::string overlay_path;
    std::string overlay_hash; // sha256 of the whole file

    std::map<std::string, std::string> toPngText() const;
    static Expected<Recipe> fromPngText(const std::map<std::string, std::string>& text);
    // The A1111-style one-paragraph summary.
    std::string parametersLine() const;
};

// Identity of a checkpoint folder without reading all of its weights: sha256 over config.json, each
// safetensors file's header and size. Changes whenever the weights' layout or any header changes.
Expected<std::string> modelIdentityHash(const std::string& dir);
// sha256 of a whole file (weight overlays: they are what they hold).
Expected<std::string> fileHash(const std::string& path);

} // namespace tessera
