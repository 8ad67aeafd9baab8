// The decode-strategy options of the commands that generate with a Janus-layout model (generate,
// eval-shapes): --decode, --sjd-window, --sjd-init, --lantern-k, --lantern-delta.
#pragma once

#include "tessera/engine/speculative.h"

#include <CLI/CLI.hpp>
#include <string>

namespace tessera::cli {

extern const char* const kDecodeUsage; // their --help lines

struct DecodeOptions {
    std::string decode = "plain", init = "random";
};
// Registers the options; the window and LANTERN fields are written into `settings` directly.
void addDecodeOptions(CLI::App& app, DecodeOptions& o, DecodeSettings& settings);
// After parsing: sets the strategy and initialisation. Returns the usage error, empty when fine (the SJD
// options without --decode sjd are refused).
std::string applyDecodeOptions(const CLI::App& app, const DecodeOptions& o, DecodeSettings& settings);

} // namespace tessera::cli
