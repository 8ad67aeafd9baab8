// A Tessera project: a folder holding `project.db` (SQLite, WAL, foreign keys on) and `media/`.
//
// Threads and processes: a Project owns one SQLite connection and is used by one thread at a time.
// Open one Project per thread or process on the same folder; they cooperate through SQLite's WAL
// locking (busy timeout, BEGIN IMMEDIATE writes, retries on SQLITE_BUSY), so the CLI and the studio
// may work on a project together.
//
// Durability: media bytes go to a temporary file that is fsync'ed, renamed into media/ and the folder
// fsync'ed; only then is the row committed. A crash at any moment leaves a project that opens and
// passes integrityCheck(); recover() then removes temporary and orphan files, so that no row points at
// a missing file and no file lacks a row.
//
// Failure: every method returns a Status/Result with a message a user can act on; none throws.
#pragma once

#include "tessera/projects/records.h"
#include "tessera/projects/result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::projects {

struct OpenOptions {
    InterruptedJobPolicy interrupted_jobs = InterruptedJobPolicy::kMarkInterrupted;
    int busy_timeout_ms = 15000; // how long a write waits for another writer before failing
    // Run SQLite's quick_check before anything is written (migrations included) and refuse a
    // damaged database. It reads the whole file: writers that are about to store results (the CLI)
    // ask for it; the studio checks off the GUI thread like every other open.
    bool check_integrity = false;
};

struct JobFilter {
    std::vector<JobState> states; // empty = all
    int limit = 1000;
};

// What a branch changes relative to its parent.
struct BranchSpec {
    uint64_t seed = 0;
    nlohmann::json params = nlohmann::json::object(); // merged over the parent's params
    std::optional<std::string> prompt;                // default: the parent's prompt
    std::optional<int64_t> job_id;
};

class Project {
public:
    // Creates DIR (and DIR/media) and a new database at the latest schema. Fails if DIR already
    // holds a project.
    static Result<Project> create(const std::filesystem::path& dir, const OpenOptions& options = {});
    // Opens an existing project, migrating its schema to the latest version, and applies
    // options.interrupted_jobs to 'running' jobs whose process has died.
    static Result<Project> open(const std::filesystem::path& dir, const OpenOptions& options = {});

    Project(Project&&) noexcept;
    Project& operator=(Project&&) noexcept;
    ~Project();

    const std::filesystem::path& dir() const;
    Result<int> schemaVersion();
    static int latestSchemaVersion();

    // --- models
    Result<int64_t> addModel(const ModelRecord& model); // returns the existing id for the same path+hash
    Result<ModelRecord> model(int64_t id);
    Result<std::vector<ModelRecord>> listModels();

    // --- jobs (the queue's memory; see jobs.cpp for the states and their transitions)
    Result<int64_t> submitJob(const std::string& kind, const nlohmann::json& params, int priority = 0);
    Result<JobRecord> job(int64_t id);
    // Queue order: priority descending, then queue position. Pending = queued or paused.
    Result<std::vector<JobRecord>> listJobs(const JobFilter& filter = {});
    Status updateJobState(int64_t id, JobState state, const std::string& error = {});
    Status setJobResult(int64_t id, const nlohmann::json& result);
    Status setJobPriority(int64_t id, int priority);
    // Moves a pending job to `position` (0 = next to run) in the pending order; it takes the
    // priority of its new neighbour so that the order holds.
    Status reorderJob(int64_t id, int position);
    Status pauseJob(int64_t id);   // queued -> paused (running -> paused is recorded too)
    Status resumeJob(int64_t id);  // paused -> queued
    Status requeueJob(int64_t id); // interrupted or failed -> queued, last among its priority
    // Returns true when the job was running: the caller should raise the scheduler's cancel flag.
    Result<bool> cancelJob(int64_t id);
    // Cancels every job not finished; returns the ids that were running.
    Result<std::vector<int64_t>> cancelAllJobs();
    // Atomically takes the next queued job and marks it running for this process (nothing when the
    // queue is empty or paused).
    Result<std::optional<JobRecord>> claimNextJob();
    Status setQueuePaused(bool paused);
    Result<bool> queuePaused();

    // --- generations and media
    // Stores a generation; with `media`, writes the file durably first and links it as the asset.
    Result<int64_t> addGeneration(const GenerationRecord& generation, const MediaPayload* media = nullptr);
    // Stores a video generation (kind "video"): the video file (e.g. an MP4 carrying its recipe) as
    // its asset and a thumbnail strip as a second asset, both written durably before the row; the
    // tokens are its latent codes. Either file failing leaves nothing behind.
    Result<int64_t> addVideoGeneration(const GenerationRecord& generation, const MediaPayload& video,
                                       const MediaPayload& strip);
    Result<GenerationRecord> generation(int64_t id);
    // Creates a pending child of `parent_id` sharing its first `token_index` tokens.
    Result<int64_t> branch(int64_t parent_id, int64_t token_index, const BranchSpec& spec);
    // Completes a pending generation (e.g. a branch) with the tokens it ended with.
    Status finishGeneration(int64_t id, const std::vector<int32_t>& tokens,
                            const std::vector<TokenStat>& stats, const MediaPayload* media = nullptr,
                            const nlohmann::json& top_k = nullptr);
    Status failGeneration(int64_t id, const std::string& why);
    // The subtree rooted at `root_id`: depth-first, siblings in id order, root first at depth 0.
    Result<std::vector<TreeNode>> tree(int64_t root_id);
    Status setRating(int64_t generation_id, int rating);
    Status setNotes(int64_t generation_id, const std::string& notes);
    Status addTag(int64_t generation_id, const std::string& tag);
    Status removeTag(int64_t generation_id, const std::string& tag);

    Result<AssetRecord> addAsset(const MediaPayload& media); // writes media durably, returns its record
    Result<AssetRecord> asset(int64_t id);
    Result<std::vector<AssetRecord>> listAssets();
    std::filesystem::path assetPath(const AssetRecord& asset) const;

    // --- search and history (generations only; newest first for history)
    // FTS5 over prompts, tags and notes. FTS5 syntax is accepted; text that is not valid FTS5 is
    // searched word by word instead of failing.
    Result<std::vector<SearchHit>> search(const std::string& query, int limit = 50);
    // Records come without tokens, stats and top_k (kept light for lists); generation(id) has them.
    Result<std::vector<GenerationRecord>> history(const HistoryFilter& filter = {});

    // --- scenes, erasures, exports
    Result<int64_t> addScene(const SceneRecord& scene);
    Result<SceneRecord> scene(int64_t id);
    Result<std::vector<SceneRecord>> listScenes();
    Result<int64_t> addErasure(const ErasureRecord& erasure, const MediaPayload* delta = nullptr);
    Result<ErasureRecord> erasure(int64_t id);
    Result<std::vector<ErasureRecord>> listErasures();
    // Copies the generation's media into out_dir with a `<name>.recipe.json` next to it (prompt,
    // seed, parameters, model, lineage) and records the export. Returns the recipe's path.
    Result<std::filesystem::path> exportGeneration(int64_t generation_id,
                                                   const std::filesystem::path& out_dir);
    Result<std::vector<ExportRecord>> listExports();

    // --- transactions
    // Runs body in one write transaction: every change it makes through this Project is committed
    // together, or none is when body returns an error or throws (the exception is reported as an
    // error). Media files written inside that end up named by no row are orphans recover() removes.
    // The shared media lock is taken before the database lock, in the order recover() takes them.
    // body runs on the calling thread and must not use this Project from another thread.
    Status atomically(const std::function<Status()>& body);

    // --- health
    // PRAGMA integrity_check and foreign_key_check; the message lists the first problems.
    Status integrityCheck();
    // The recovery scan: waits for in-flight media writes of other processes, removes temporary
    // files, puts back missing files found under another name (same sha256), marks rows whose file
    // is gone as missing, deletes media files no row refers to, and interrupts dead 'running' jobs.
    Result<RecoveryReport> recover(bool dry_run = false);

    struct Impl;

private:
    explicit Project(std::unique_ptr<Impl> impl);
    static Result<Project> openOrCreate(const std::filesystem::path& dir, const OpenOptions& options,
                                        bool create);
    std::unique_ptr<Impl> impl_;
};

} // namespace tessera::projects
