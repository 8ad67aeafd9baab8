// Runs a Token-Shuffle generation for `tessera-cli generate` when the model folder's config.json names
// Token-Shuffle: the estimate before the run, progress on the terminal, previews to a folder, PNGs with
// their recipe (plus a `tessera-token-shuffle` text chunk: window, CFG schedule, token order).
#pragma once

#include "tessera/engine/events.h"
#include "tessera/engine/recipe.h"
#include "tessera/engine/token_shuffle.h"

#include <map>
#include <string>
#include <vector>

namespace tessera::cli {

struct TokenShuffleRun {
    std::string model_dir;
    std::string backend = "cpu";
    int threads = 0;
    std::string precision = "f32";
    TokenShuffleRequest request;
    std::string out_path;
    std::string preview_dir;
    bool progress = true;
};

struct TokenShuffleRunResult {
    TokenShuffleResult result;
    TokenShuffleEstimate estimate;
    std::vector<std::string> written;
    std::vector<Recipe> recipes;                         // one per image, as written into its PNG
    std::vector<std::vector<TokenSampled>> token_events; // per image, decode (window) order
    double total_ms = 0;
};

Expected<TokenShuffleRunResult> runTokenShuffle(const TokenShuffleRun& run);

// The run a Token-Shuffle PNG's recipe describes: prompt, seed, sampler, batch, grid and precision
// from the `tessera` record, CFG schedule and VQ tiling from the `tessera-token-shuffle` one (`text`
// is the PNG's text chunks). Errors name what is missing or malformed.
Expected<TokenShuffleRun> tokenShuffleRunFromRecipe(const Recipe& recipe,
                                                    const std::map<std::string, std::string>& text);

// `tessera-cli bench tshuffle`: tokens/s for s = 1, 2, 4 on one random backbone and the peak resident
// memory of a 2048² run, as one JSON line.
int cmdBenchTokenShuffle(int argc, char** argv);

} // namespace tessera::cli
