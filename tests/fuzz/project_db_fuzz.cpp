// Fuzz target: arbitrary bytes as a project's project.db (corrupted, truncated, foreign or from a
// future schema), through Project::open and the reads `project list` and `recover --dry-run` make.
// Everything must come back as a Status; a crash, sanitizer report or hang is a finding.
#include "tessera/projects/project.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const fs::path& projectDir() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("tessera-fuzz-project-" + std::to_string(::getpid()));
        fs::create_directories(d / "media");
        return d;
    }();
    return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fs::path& dir = projectDir();
    std::error_code ec;
    for (const char* leftover : {"project.db-wal", "project.db-shm", "project.db-journal"}) fs::remove(dir / leftover, ec);
    {
        std::ofstream out(dir / "project.db", std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    tessera::projects::OpenOptions options;
    options.busy_timeout_ms = 0;
    auto p = tessera::projects::Project::open(dir, options);
    if (!p) return 0;
    (void)p->schemaVersion();
    (void)p->integrityCheck();
    tessera::projects::HistoryFilter f;
    f.limit = 50;
    if (auto h = p->history(f))
        for (const auto& g : *h) (void)p->generation(g.id);
    (void)p->listJobs();
    (void)p->listModels();
    (void)p->listAssets();
    (void)p->search("red cube", 10);
    (void)p->recover(true);
    return 0;
}
