// The records a project remembers, as plain structs. Ids are SQLite rowids (> 0); 0 means "not stored
// yet". Times are milliseconds since the Unix epoch (UTC). JSON fields use nlohmann::json.
#pragma once

#include "tessera/projects/result.h"

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tessera::projects {

struct ModelRecord {
    int64_t id = 0;
    std::string path;         // where the checkpoint lives (not copied into the project)
    std::string family;       // "janus", "llama", ...
    std::string content_hash; // e.g. sha256 of the weights, as the caller computed it
    int64_t size_bytes = 0;
    int64_t added_at_ms = 0;
};

// The persistent half of the job queue. The engine's scheduler runs jobs; the project remembers them.
enum class JobState { kQueued, kRunning, kPaused, kDone, kFailed, kCancelled, kInterrupted };
const char* jobStateName(JobState s); // "queued", "running", ...
std::optional<JobState> parseJobState(const std::string& name);
bool isTerminal(JobState s); // done, failed, cancelled

struct JobRecord {
    int64_t id = 0;
    std::string kind; // "generate", "branch", "erase", "export", ...
    nlohmann::json params = nlohmann::json::object();
    int priority = 0; // higher runs first; equal priorities run in queue order
    int64_t queue_pos = 0;
    JobState state = JobState::kQueued;
    int64_t created_at_ms = 0;
    int64_t started_at_ms = 0;  // 0 = never started
    int64_t finished_at_ms = 0; // 0 = not finished
    std::string error;          // why it failed / was interrupted
    nlohmann::json result;      // null until the job reports one
};

// What happens at open to jobs a dead process left in 'running' (see Project::open).
enum class InterruptedJobPolicy {
    kMarkInterrupted, // state 'interrupted' with an explanation; the user may requeueJob() them
    kRequeue,         // back to 'queued' at their old place in the queue
};

// Per-token decoding statistics, stored as a compact float32 BLOB (3 floats per token).
struct TokenStat {
    float probability = 0; // of the sampled token
    float entropy = 0;     // of the distribution it was sampled from (nats)
    float guidance_kl = 0; // KL(guided || unguided); 0 without classifier-free guidance
};

enum class GenerationState { kPending, kComplete, kFailed };

struct GenerationRecord {
    int64_t id = 0;
    std::optional<int64_t> job_id;
    std::optional<int64_t> model_id;
    std::optional<int64_t> parent_id; // set for branches: generations form trees
    int64_t branch_token = 0;         // tokens [0, branch_token) are shared with the parent
    uint64_t seed = 0;
    std::string prompt;
    nlohmann::json params = nlohmann::json::object();
    std::vector<int32_t> tokens;  // stored as int32 little-endian BLOB
    std::vector<TokenStat> stats; // empty, or one per token
    nlohmann::json top_k;         // optional: per-token candidates, any JSON; null when absent
    GenerationState state = GenerationState::kComplete;
    int rating = 0; // 0 = unrated, 1..5
    std::string notes;
    std::vector<std::string> tags;
    std::optional<int64_t> asset_id; // the media file it produced (a video's: the video file)
    int64_t created_at_ms = 0;
    std::string kind = "image";            // "image", "video" or "scene" (a reconstruction: reconstruction_store.h)
    std::optional<int64_t> strip_asset_id; // a video's thumbnail strip (a PNG of a few frames side by side)
};

enum class AssetState { kOk, kMissing };

struct AssetRecord {
    int64_t id = 0;
    std::string rel_path; // relative to the project folder, e.g. "media/<sha256>.png"
    std::string sha256;   // hex
    std::string kind;     // "image/png", "video/mp4", "tensor/delta", ...
    int64_t size_bytes = 0;
    nlohmann::json meta = nlohmann::json::object();
    AssetState state = AssetState::kOk;
    int64_t created_at_ms = 0;
};

// Bytes to store as a media file. Give either `bytes`, or a `writer` that streams them through the
// sink it is handed (e.g. an encoder writing frames); the writer's failure aborts the write and leaves
// nothing behind.
using ByteSink = std::function<Status(const void* data, size_t size)>;
struct MediaPayload {
    std::string kind;      // MIME-like kind, stored on the asset
    std::string extension; // without the dot: "png", "mp4", "bin"
    std::vector<uint8_t> bytes;
    std::function<Status(const ByteSink& sink)> writer;
    nlohmann::json meta = nlohmann::json::object();
};

struct SceneRecord {
    int64_t id = 0;
    std::string name;
    std::string program;                      // the scene program's text
    nlohmann::json parsed = nlohmann::json(); // its parsed form, as the parser produced it
    int64_t created_at_ms = 0;
};

struct ErasureRecord {
    int64_t id = 0;
    std::string concept_name;
    std::optional<int64_t> model_id;
    nlohmann::json prompt_pairs = nlohmann::json::array(); // [{"anchor": ..., "target": ...}, ...]
    std::vector<float> loss_curve;                         // one value per step
    std::optional<int64_t> delta_asset_id;                 // the weight delta file
    int64_t created_at_ms = 0;
};

struct ExportRecord {
    int64_t id = 0;
    int64_t generation_id = 0;
    std::string target_path; // where the export was written (outside the project)
    std::string format;
    int64_t created_at_ms = 0;
};

struct HistoryFilter {
    std::optional<int64_t> model_id;
    std::optional<int64_t> since_ms; // created_at >= since
    std::optional<int64_t> until_ms; // created_at < until
    std::optional<int> min_rating;
    std::optional<std::string> tag;
    std::optional<std::string> batch; // params.batch.id, as `tessera-cli batch` stores it
    std::optional<int> shard;         // params.batch.shard (0-based shard index)
    std::optional<std::string> kind;  // "image", "video" or "scene"
    int limit = 100;
    int offset = 0;
};

struct SearchHit {
    int64_t generation_id = 0;
    std::string prompt;
    std::string snippet; // the matching text with [brackets] around matches
    double rank = 0;     // lower is better (FTS5 bm25)
};

// One node of a generation tree, in depth-first order.
struct TreeNode {
    GenerationRecord generation; // tokens/stats are left empty to keep trees light; use generation()
    int depth = 0;
    int64_t token_count = 0;
};

struct RecoveryReport {
    int temp_files_removed = 0;
    int orphan_files_removed = 0;
    int assets_relinked = 0;       // missing files found again (same sha256) and put back in place
    int assets_marked_missing = 0; // rows whose file is gone: state set to 'missing'
    int jobs_interrupted = 0;      // 'running' jobs whose process is gone
    int runner_locks_removed = 0;  // .runners/ lock files of processes that are gone
    int foreign_files_kept = 0;    // files in media/ no row names that Tessera cannot prove it wrote: left alone
    std::vector<std::string> notes;
};

} // namespace tessera::projects
