// Storing an EAR concept erasure (docs/EAR.md) in a project, and reading it back. Shared by
// `tessera-cli erase --project` and the studio's Generate > Erase a concept…, so both store the same
// rows:
//   - the model (ModelRecord: the caller computes its identity hash, as the engine defines it);
//   - a job of kind "erase" whose params hold the model, the prompt pairs and the settings, and whose
//     result holds the per-step losses, the window decisions, the delta's path as written, the delta
//     asset {id, path, sha256}, the model id and, when the run made them, the compare runs;
//   - the delta file as an asset of kind "tensor/delta" (media/<sha256>.safetensors, its exact bytes);
//   - per compare seed, the original and erased pictures as PNG assets (roles "erase-original" and
//     "erase-erased"), with both token grids in the job's result (the difference map needs nothing else).
// Everything after the job's start is one transaction: a failure stores none of it and marks the job
// failed with the reason.
//
// Threads: like Project, one thread at a time (the studio calls these on its job's worker or a pool
// thread). Failure: Status/Result with a message naming the project, the job or the file.
#pragma once

#include "tessera/projects/project.h"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::projects {

// One compare seed: the same request through the original and the erased model.
struct ErasureCompareImages {
    uint64_t seed = 0;
    std::vector<uint8_t> original_png, erased_png; // PNG bytes
    std::vector<int32_t> original_tokens, erased_tokens;
    int grid_h = 0, grid_w = 0;
};

struct ErasureRun {
    ModelRecord model;      // path, family, content_hash, size_bytes (id and time are filled here)
    std::string delta_file; // read whole and stored as the delta asset
    nlohmann::json params;  // {"model", "pairs", "settings", …}
    nlohmann::json result; // {"losses": [...], "windows": [{"window","loss_sum","update"}], "delta": path, …}
    std::string compare_prompt;
    std::vector<ErasureCompareImages> compares; // may be empty (the CLI makes none)
};

// Opens (or creates) the project at `dir` and stores `run`. Returns the job's id.
Result<int64_t> storeErasure(const std::string& dir, const ErasureRun& run);

// ---- reading back ------------------------------------------------------------------------------------

struct ErasureSummary {
    int64_t job = 0;
    std::string concept_name; // params.pairs.concept ("" when the pairs named none)
    std::string model;        // params.model
    int64_t created_at_ms = 0;
    int64_t steps = 0;                // per-step losses stored
    std::filesystem::path delta_file; // the stored copy, inside the project's media/
    std::string delta_sha256;
};

struct ErasureWindowRecord {
    int64_t window = 0; // 0-based over the whole run
    int64_t step = 0;   // 1-based step that closed it
    double loss_sum = 0;
    bool update = false;
};

struct ErasureCompareRecord {
    uint64_t seed = 0;
    int grid_h = 0, grid_w = 0;
    std::vector<int32_t> original_tokens, erased_tokens;
    std::filesystem::path original_png, erased_png; // empty when the asset is missing
};

struct StoredErasure {
    ErasureSummary summary;
    nlohmann::json params, result;
    std::vector<float> losses; // one per rollout step
    std::vector<ErasureWindowRecord> windows;
    int64_t iterations = 0;
    std::string compare_prompt;
    std::vector<ErasureCompareRecord> compares;
};

// The finished erasures of a project, newest first.
Result<std::vector<ErasureSummary>> listErasureJobs(Project& project);
// One finished erasure: its curve, window decisions (the closing step recomputed from the window size
// and the steps per iteration when a record does not carry it) and compare runs. A job that is not a
// finished erasure, or a malformed result, is an error naming the job.
Result<StoredErasure> loadErasureJob(Project& project, int64_t job);

} // namespace tessera::projects
