// Stores a CLI generation in a project folder: the app is where the engine and the project database
// meet (neither library includes the other).
#pragma once

#include "cli/janus_runner.h"
#include "cli/tshuffle_runner.h"

#include <string>

namespace tessera::cli {

// Opens (or creates) the project at `dir` and records the model, a finished job and one generation
// per image with its token stream, per-token statistics, top-k alternatives and the PNG as media.
// Returns the new generation ids in `ids`.
Status storeInProject(const std::string& dir, const JanusRun& run, const JanusRunResult& result,
                      std::vector<int64_t>* ids);
// The same for a Token-Shuffle run: tokens in decode (window) order, the model recorded with family
// "token-shuffle", and the window, CFG schedule and VQ tiling in the params.
Status storeInProject(const std::string& dir, const TokenShuffleRun& run, const TokenShuffleRunResult& result,
                      std::vector<int64_t>* ids);

} // namespace tessera::cli
