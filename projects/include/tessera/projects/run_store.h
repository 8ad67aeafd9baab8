// The three steps every finished run goes through when it is stored in a project, shared by the CLI
// (`generate`, `generate-video`, `erase` with --project) and the studio (erasures):
//   openForWriting    — open or create the project, refusing a damaged database;
//   startRunningJob   — record the job as already running with this process as its runner (never
//                       queued: nothing else would run a queued job if this process died first);
//   finishJobAtomically — store the run and the job's final state in one transaction, or none of it
//                       (the job is then marked failed with the reason).
//
// Threads: like Project, one thread at a time. Failure: Status/Result with a message naming the
// project folder; nothing throws.
#pragma once

#include "tessera/projects/project.h"

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::projects {

// Opens the project at `dir`, creating it when it has no project.db; runs SQLite's quick_check first.
Result<Project> openForWriting(const std::string& dir);

// Submits a job of `kind` with `params` and marks it running, in one transaction. Returns its id.
Result<int64_t> startRunningJob(Project& project, const std::string& kind, const nlohmann::json& params);

// Runs `store` (which must also set the job's final state) in one transaction. On failure the job is
// marked failed (best effort) and the message says that nothing from the run was stored in `dir`.
Status finishJobAtomically(Project& project, int64_t job, const std::string& dir,
                           const std::function<Status()>& store);

// Bytes of the *.safetensors files in `dir` (and its subfolders with `nested`): a model record's size.
int64_t safetensorsBytes(const std::string& dir, bool nested = false);

// A whole file's bytes; an error naming it when it cannot be read or is empty.
Result<std::vector<uint8_t>> readFileBytes(const std::string& path);

} // namespace tessera::projects
