// TokenShuffleGenerator: the Generator over the engine's TokenShufflePipeline (text → image, one s×s
// window of tokens per step; docs/TOKEN_SHUFFLE.md), and the loader that picks the family of a
// checkpoint folder.
#pragma once

#include "tessera/widgets/generator.h"

#include <memory>
#include <string>

namespace tessera::widgets {

// Loads a Token-Shuffle checkpoint folder on the given backend ("auto", "cpu", "cuda"). Call on a
// worker: it reads the whole checkpoint. Generations run at the config's grid; their TokenSampled
// positions are raster cells, a window's s² cells per step, and previews fill s×s blocks.
Expected<std::shared_ptr<Generator>> loadTokenShuffleGenerator(const std::string& folder,
                                                               const std::string& backend = "auto");

// Token-Shuffle when config.json has a "token_shuffle" object, Janus otherwise. Call on a worker.
Expected<std::shared_ptr<Generator>> loadGenerator(const std::string& folder,
                                                   const std::string& backend = "auto");

} // namespace tessera::widgets
