// What every benchmark shares: a scratch folder removed however the run ends, the machine's load, and
// this process's resident memory.
#pragma once

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <unistd.h>

namespace tessera::bench {

// Removes the folder (a scratch checkpoint) when it goes out of scope; an empty path keeps everything.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() = default;
    explicit ScratchDir(std::filesystem::path p) : path(std::move(p)) {}
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

// A fresh folder name under `base` (default: the system temp folder): <tag>-<pid>-<counter>.
inline std::filesystem::path scratchPath(const std::string& base, const std::string& tag) {
    static std::atomic<int> counter{0};
    std::error_code ec;
    std::filesystem::path root = base.empty() ? std::filesystem::temp_directory_path(ec) : std::filesystem::path(base);
    if (ec) root = "/tmp";
    return root / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

// The 1-minute load average (-1 where unknown): figures from a busy machine are not comparable.
inline double loadAverage() {
    std::ifstream in("/proc/loadavg");
    double v = -1;
    if (!(in >> v)) v = -1;
    return v;
}

// VmHWM / VmRSS of this process in bytes (0 where /proc is unavailable).
inline size_t procStatusBytes(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(in, line))
        if (line.rfind(k, 0) == 0) return static_cast<size_t>(std::stoull(line.substr(k.size()))) * 1024;
    return 0;
}

// Resets the peak resident set to the current one (Linux >= 4.0); false where that is refused.
inline bool resetPeakResident() {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

} // namespace tessera::bench
