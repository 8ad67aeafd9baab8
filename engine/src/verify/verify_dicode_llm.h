// DiCoDe reference sets, LLM side: the deep-token Resampler (tok_*, uc_*), the teacher-forced pass
// (train_*) and KV-cached generation (gen_*). The decoder side (U-Net, DDIM, VAE, schedule, contexts)
// has its own runner; verify_kinds.cpp calls both for a DiCoDe set.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/verify.h"

#include <string>

namespace tessera::verify {

// A DiCoDe folder: config.json with the official `llm` agent or `tokenizer_model` LatentVisualDiffusion.
bool isDicodeConfig(const ModelConfig& cfg);
// True for golden names this runner compares (tok_, uc_, train_, gen_ prefixes).
bool isDicodeLlmGolden(const std::string& name);
// Appends one check per LLM-side golden of the set in `dir` to `report`. A Status for a folder that
// cannot be loaded or lacks an LLM-side golden.
Status verifyDicodeLlm(const std::string& dir, Backend& backend, VerifyReport& report);

} // namespace tessera::verify
