// The step loop the training commands share (train-vq, train-janus, train-igllm).
#pragma once

#include "cli/cli.h"
#include "tessera/engine/status.h"
#include "tessera/engine/train_loop.h"

#include <functional>
#include <nlohmann/json.hpp>

namespace tessera::cli {

// The schedule options every training command takes: --warmup, --schedule and --clip, into `o`.
void addScheduleOptions(CLI::App& app, train::TrainerOptions& o, std::string& schedule);
// Checks --schedule (constant or cosine) and sets o.cosine; returns the error message, empty when fine.
std::string applySchedule(const std::string& schedule, train::TrainerOptions& o);
// Their --help lines.
extern const char* const kScheduleUsage;

// Resumes `trainer` from its checkpoint when `resume` is set (printing {"event":"resumed","step":k} when a
// checkpoint was there), then runs it to `steps` optimizer steps, printing one JSON line per step:
// step, total, loss, step_ms, lr and grad_norm, plus the fields `extra` adds to the line. Returns the mean step time in
// ms over the steps run by this call (0 when none ran), or the error.
Expected<double> runTrainerPrintingSteps(train::Trainer& trainer, int64_t steps, bool resume,
                                         const std::function<void(nlohmann::json&)>& extra = {});

} // namespace tessera::cli
