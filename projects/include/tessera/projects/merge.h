// Merging projects: the shards of a batch (each written by its own process or cluster task, since
// SQLite must not be shared over a network filesystem) become one project.
//
// What is merged: generations with their token streams, per-token statistics, top-k, branch trees
// (parents are remapped), tags, ratings and notes, their media files, the models and jobs they name.
// Scenes, erasures and export records stay in their shards.
//
// Deduplication: a generation's content hash is SHA-256 over its model's content hash, its parent's
// content hash, branch token, seed, prompt, parameters (canonical JSON), token stream and state. A
// shard generation whose hash the output already holds is not stored again; its tags are added, and
// rating and notes keep the greater value, so the result does not depend on the merge order. Media are
// content addressed (same bytes, one file); jobs are the same when kind, parameters and creation time
// agree.
//
// Atomicity: media files are copied under temporary names, checked against their recorded SHA-256,
// fsync'ed and renamed; then every row is written in one SQLite transaction. When anything fails, the
// files this merge put in place are removed and the output is as it was (a new output folder is built
// under a temporary name and renamed into place only at the end). Merging the same shards again
// changes nothing.
//
// Versions: every shard (and an existing output) must be at this build's schema version; any other
// version is refused with a message naming the project and both versions.
//
// Threads: a blocking call; use it from a worker thread. Failure: a Status with a readable message,
// nothing thrown.
#pragma once

#include "tessera/projects/result.h"

#include <filesystem>
#include <string>
#include <vector>

namespace tessera::projects {

struct MergeReport {
    int shards = 0;
    int generations_added = 0;
    int generations_duplicate = 0; // already in the output (or earlier in this merge)
    int media_copied = 0;          // files new to the output
    int jobs_added = 0;
    int models_added = 0;
    bool created = false; // the output folder did not exist before
};

// Merges `shards` into the project at `out` (created when absent). `out` must not be one of them.
Result<MergeReport> mergeProjects(const std::filesystem::path& out,
                                  const std::vector<std::filesystem::path>& shards);

} // namespace tessera::projects
