// Runs a Janus generation for the CLI (generate, replay, default-job): progress on the terminal,
// previews to a folder, PNGs with their recipe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/recipe.h"

namespace tessera::cli {

struct JanusRun {
    std::string model_dir;
    std::string backend = "cpu";
    int threads = 0;
    // "f32" or "bf16": the dtype activations enter products with bf16 weights in
    // (Backend::setActivationDtype); recorded in the recipe, since tokens can differ.
    std::string precision = "f32";
    JanusRequest request;
    std::string out_path;    // image i > 0 goes to <stem>-<i><ext>
    std::string preview_dir; // empty: no preview files
    bool progress = true;    // a text progress bar when stderr is a terminal
    std::string overlay;     // an EAR delta (safetensors) applied to the LM; empty: none
};

struct JanusRunResult {
    JanusResult result;
    std::vector<std::string> written; // output PNG paths, one per image
    std::vector<Recipe> recipes;
    std::vector<std::vector<TokenSampled>> token_events; // per image, decode order
    JanusInfo info;
    double total_ms = 0;
};

// Path of image i for an output path ("out.png" -> "out.png", "out-1.png", …).
std::string outputPathFor(const std::string& out, int index);

// The backend a CLI run computes on, with its activation precision ("f32" or "bf16") set.
Expected<std::unique_ptr<Backend>> createRunBackend(const std::string& name, int threads, const std::string& precision);

Expected<JanusRunResult> runJanus(const JanusRun& run);

} // namespace tessera::cli
