#include "tessera/projects/run_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace tessera::projects {

namespace fs = std::filesystem;

Result<Project> openForWriting(const std::string& dir) {
    OpenOptions options;
    options.check_integrity = true; // never write into a damaged database
    auto project = fs::exists(fs::path(dir) / "project.db") ? Project::open(dir, options)
                                                            : Project::create(dir, options);
    if (!project) return Status::error("project " + dir + ": " + project.error());
    return std::move(*project);
}

Result<int64_t> startRunningJob(Project& project, const std::string& kind, const nlohmann::json& params) {
    int64_t job = 0;
    Status started = project.atomically([&]() -> Status {
        auto id = project.submitJob(kind, params);
        if (!id) return id.status();
        job = *id;
        return project.updateJobState(*id, JobState::kRunning);
    });
    if (!started.ok()) return started;
    return job;
}

Status finishJobAtomically(Project& project, int64_t job, const std::string& dir,
                           const std::function<Status()>& store) {
    Status s = project.atomically(store);
    if (s.ok()) return {};
    // Best effort: on a full disk this small update may fail too; the job is then a dead 'running'
    // one, which the next open marks interrupted.
    (void)project.updateJobState(job, JobState::kFailed, s.message());
    return Status::error(s.message() + " (nothing from this run was stored in " + dir + ")");
}

int64_t safetensorsBytes(const std::string& dir, bool nested) {
    std::error_code ec;
    int64_t bytes = 0;
    auto count = [&](const fs::directory_entry& e) {
        if (e.path().extension() == ".safetensors") {
            const auto size = e.file_size(ec);
            if (!ec) bytes += static_cast<int64_t>(size);
        }
    };
    if (nested)
        for (const auto& e : fs::recursive_directory_iterator(dir, ec)) count(e);
    else
        for (const auto& e : fs::directory_iterator(dir, ec)) count(e);
    return bytes;
}

Result<std::vector<uint8_t>> readFileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) return Status::error("cannot read back " + path);
    if (bytes.empty()) return Status::error("cannot read back " + path + " (empty)");
    return bytes;
}

} // namespace tessera::projects
