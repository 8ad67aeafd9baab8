// JanusGenerator: the Generator over the engine's JanusPipeline (text → image, raster decode order).
#pragma once

#include "tessera/widgets/generator.h"

#include <memory>
#include <string>

namespace tessera::widgets {

// Loads a Janus checkpoint folder on the given backend ("auto", "cpu", "cuda"). Call on a worker:
// it reads the whole checkpoint.
Expected<std::shared_ptr<Generator>> loadJanusGenerator(const std::string& folder,
                                                        const std::string& backend = "auto");

// Weights below this size are the smoke-test checkpoints shipped with the tests (random weights):
// the studio labels them plainly, since their pictures are noise by design.
constexpr size_t kSmokeTestWeightBytes = 64u << 20;

} // namespace tessera::widgets
