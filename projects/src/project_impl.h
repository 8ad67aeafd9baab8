// Project's private state, shared by the files that implement its parts (project.cpp: lifecycle,
// models, scenes, erasures; jobs.cpp; generations.cpp; assets.cpp; search.cpp; recovery.cpp).
#pragma once

#include "db.h"
#include "media.h"
#include "tessera/projects/project.h"

#include <filesystem>
#include <memory>
#include <string>

namespace tessera::projects {

struct Project::Impl {
    std::filesystem::path dir;
    std::unique_ptr<detail::Db> db;
    OpenOptions options;

    ~Impl();

    // This process's runner identity: a lock file under .runners/ held (flock) while the Project is
    // open, so another process can tell a live runner from a dead one. Created on first use.
    const std::string& runnerToken();
    const std::string& ownRunnerToken() const { return runner_token_; } // empty until runnerToken()
    // Reads one asset row; throws UsageError when absent.
    AssetRecord loadAsset(int64_t id);
    // Inserts (or finds, since media is content addressed) the asset row for a written file.
    int64_t insertAsset(const detail::WrittenMedia& written, const MediaPayload& media);
    // Jobs left 'running' by a dead process get the policy; returns how many. (recovery.cpp)
    int interruptDeadJobs(InterruptedJobPolicy policy);
    void requireRow(const char* table, int64_t id, const char* what);
    // Inserts a generation row (and its tags) inside a write transaction; returns its id.
    // (generations.cpp)
    int64_t insertGeneration(const GenerationRecord& generation, std::optional<int64_t> asset_id,
                             std::optional<int64_t> strip_asset_id);

private:
    std::string runner_token_;
    int runner_fd_ = -1;
};

namespace detail {
inline constexpr const char* kRunnersDir = ".runners";
inline constexpr const char* kDbFile = "project.db";
// Whether the runner behind `token` is alive (its lock file is held by some process).
bool runnerAlive(const std::filesystem::path& project_dir, const std::string& token,
                 const std::string& own_token);
std::string jsonText(const nlohmann::json& j);
nlohmann::json parseJson(const std::string& text, const nlohmann::json& fallback);
} // namespace detail

} // namespace tessera::projects
