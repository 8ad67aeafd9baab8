// The step loop the training commands share (train-vq, train-janus, train-igllm).
#pragma once

#include "cli/cli.h"
#include "tessera/engine/status.h"
#include "tessera/engine/train_loop.h"

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace tessera::cli {

// parseCommandLine for a training command: adds the schedule options every training command takes
// (--warmup, --schedule constant|cosine, --clip) into `o` and their lines to the usage text, parses, and
// checks them. Returns the exit code when the command should stop (help printed or a usage error).
std::optional<int> parseTrainingCommandLine(CLI::App& app, const std::string& command, const char* usage,
                                            train::TrainerOptions& o, int argc, char** argv);

// The end of a training command: writes `summary` to OUT_DIR/metrics.json and prints it as one JSON line.
// Returns the command's exit code (1, with the message, when metrics.json cannot be written).
int finishTrainingCommand(const std::string& command, const nlohmann::json& summary,
                          const std::string& out_dir);

// Resumes `trainer` from its checkpoint when `resume` is set (printing {"event":"resumed","step":k} when a
// checkpoint was there), then runs it to `steps` optimizer steps, printing one JSON line per step:
// step, total, loss, step_ms, lr and grad_norm, plus the fields `extra` adds to the line. Returns the mean
// step time in ms over the steps run by this call (0 when none ran), or the error.
Expected<double> runTrainerPrintingSteps(train::Trainer& trainer, int64_t steps, bool resume,
                                         const std::function<void(nlohmann::json&)>& extra = {});

// SplitMix64 of (seed, a, b): the data order, caption drops and round-trip draws of the training commands,
// the same on every machine.
uint64_t trainingDraw(uint64_t seed, uint64_t a, uint64_t b);

} // namespace tessera::cli
