// The step loop the training commands share (train-vq, train-janus, train-igllm).
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/train_loop.h"

#include <functional>
#include <nlohmann/json.hpp>

namespace tessera::cli {

// Resumes `trainer` from its checkpoint when `resume` is set (printing {"event":"resumed","step":k} when a
// checkpoint was there), then runs it to `steps` optimizer steps, printing one JSON line per step:
// step, total, loss and step_ms, plus the fields `extra` adds to the line. Returns the mean step time in
// ms over the steps run by this call (0 when none ran), or the error.
Expected<double> runTrainerPrintingSteps(train::Trainer& trainer, int64_t steps, bool resume,
                                         const std::function<void(nlohmann::json&)>& extra = {});

} // namespace tessera::cli
