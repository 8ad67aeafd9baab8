// Speculative Jacobi decoding benchmark: plain decoding and SJD on the same Janus model in one run.
//
// The model is a Janus checkpoint folder (a trained one, or the janus_tiny reference by default) or a
// random-weight preset written to a scratch folder (janus-small). Both strategies generate the same
// images (same prompts, seeds and sampler settings; the tokens differ, the distribution does not) with
// previews off, after one untimed warm-up generation, and the figures are LM forward passes ("steps")
// per image, the decode loop's time and the whole generate() call's time, plain over SJD as ratios.
// Random-weight models accept few drafts: the speed-up needs a model whose predictions are sure.
//
// Thread affinity: none; each call creates and destroys its own backend. Failures come back as a Status.
#pragma once

#include "tessera/engine/speculative.h"
#include "tessera/engine/status.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tessera::bench {

struct SjdBenchOptions {
    std::string model_dir;             // a Janus checkpoint folder; empty: the preset
    std::string preset = "janus-tiny"; // used when model_dir is empty (janus_bench.h presets)
    std::string reference_dir;         // janus_tiny: the tokenizer for generated presets
    std::string scratch_dir;           // where a generated preset goes (default: the system temp folder)
    int64_t grid = 0;                  // generated presets: tokens per side (0 = the preset's)
    int images = 1;                    // images per generate() call
    int runs = 3; // timed generate() calls per strategy (seeds seed .. seed + runs − 1)
    uint64_t seed = 1;
    int threads = 0;
    std::string backend = "cpu";
    std::string prompt = "a red cube on a blue floor";
    float cfg = 5.0f;
    float temperature = 1.0f;
    int top_k = 0;
    DecodeSettings sjd{DecodeStrategy::Sjd, 16, SjdInit::Random};
    // > 0: also time SJD with LANTERN's relaxed acceptance (lossy) with this k and lantern_delta.
    int lantern_k = 0;
    float lantern_delta = 0.1f;
};

struct SjdBenchStrategy {
    double steps_per_image = 0; // LM forward passes after the prompt, per generate() call
    double decode_ms = 0;       // decode loop per call (previews off)
    double wall_ms = 0;         // whole generate() per call, final VQ decode included
    double ms_per_step = 0;
    double drafts_accepted_per_image = 0;
};

struct SjdBenchResult {
    std::string model, backend;
    int threads = 0, images = 0, runs = 0;
    int64_t grid = 0, cells = 0;
    DecodeSettings sjd;
    SjdBenchStrategy plain, speculative, lantern; // lantern: only with lantern_k > 0
    int lantern_k = 0;
    float lantern_delta = 0;
    double steps_ratio = 0;  // plain steps / SJD steps (> 1: SJD takes fewer)
    double decode_ratio = 0; // plain decode time / SJD decode time (> 1: SJD is faster)
    double wall_ratio = 0;
    double lantern_steps_ratio = 0, lantern_decode_ratio = 0; // plain over LANTERN
    double load_avg_1m = -1;
    nlohmann::json toJson() const;
};

Expected<SjdBenchResult> runSjdBench(const SjdBenchOptions& options);

} // namespace tessera::bench
