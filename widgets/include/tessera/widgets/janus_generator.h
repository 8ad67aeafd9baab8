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

// The model plus an EAR delta (docs/EAR.md) as one model: `overlay` (a delta safetensors) applied to the
// LM. With `expected_sha256`, the file must still hash to it. Errors name the file: missing, changed,
// or not a delta for this model. Its name is "<folder> + <delta file's stem>"; every generation
// records the delta's path and sha256. Call on a worker.
Expected<std::shared_ptr<Generator>> loadJanusGenerator(const std::string& folder, const std::string& backend,
                                                        const std::string& overlay,
                                                        const std::string& expected_sha256 = {});

// Checks that `overlay` exists and hashes to `expected_sha256` (any hash when empty); returns its sha256.
// The message names the file ("… is missing", "… has changed since …").
Expected<std::string> checkOverlayFile(const std::string& overlay, const std::string& expected_sha256);

// Weights below this size are the smoke-test checkpoints shipped with the tests (random weights):
// the studio labels them plainly, since their pictures are noise by design.
constexpr size_t kSmokeTestWeightBytes = 64u << 20;
// The generator's note for a folder: the smoke-test label for a small folder without a model card
// (MODEL.md: the built-in Shapes models are small too but carry theirs), else empty.
QString smokeTestNote(const std::string& folder, const QString& name, size_t weight_bytes);

} // namespace tessera::widgets
