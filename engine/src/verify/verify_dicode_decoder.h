// The DiCoDe decoder side of the dicode reference sets (config.json with tokenizer_model + model.safetensors
// + golden.safetensors): schedule and DDIM tables, the headrear contexts, the 3D U-Net's forward with its
// per-block activations (b = 1 and b = 2), DDIM trajectories for eta 0 and 1 (stored x_T and noise), and
// the VAE decode with its intermediates. Fails (Status) when the folder cannot be loaded or lacks a golden
// it needs.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/verify.h"

#include <string>

namespace tessera::verify {

Expected<VerifyReport> verifyDicodeDecoder(const std::string& dir, Backend& backend);

} // namespace tessera::verify
