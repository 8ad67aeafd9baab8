// Stores a CLI generation in a project folder: the app is where the engine and the project database
// meet (neither library includes the other).
#pragma once

#include "cli/janus_runner.h"
#include "cli/tshuffle_runner.h"
#include "tessera/engine/image.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// A Lumos-1 or DiCoDe video run (the recipe's method names the model family): the model, a finished job and one video generation (its latent codes as the
// token stream, `video_file` — an MP4 carrying the recipe — as its media, and a thumbnail strip of a
// few frames). A video generation with the same seed and codes already in the project is not stored
// again: `stored` is then false and `id` names the one found.
struct VideoStoreResult {
    int64_t id = 0;
    bool stored = false;
};
Expected<VideoStoreResult> storeVideoInProject(const std::string& dir, const std::string& model_dir,
                                               const nlohmann::json& recipe, const std::vector<int32_t>& codes,
                                               const std::vector<ImageRgb8>& frames, const std::string& video_file);

// EAR erasures are stored by tessera::projects::storeErasure (tessera/projects/erasure_store.h), which
// the studio uses too.

// A strip of `count` frames (evenly spread, first and last included) scaled to `height` pixels,
// side by side: the picture the history shows for a video.
ImageRgb8 thumbnailStrip(const std::vector<ImageRgb8>& frames, int count = 4, int height = 48);

} // namespace tessera::cli
