#include "tessera/engine/platform.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tessera {

namespace {

uint64_t readNumberFile(const char* path) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text == "max") return 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    return end && *end == '\0' ? v : 0;
}

std::string gib(uint64_t bytes) {
    char buf[48];
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024.0 * 1024.0)
        std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024.0 * 1024.0));
    else if (b >= 1024.0 * 1024.0)
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024.0));
    else
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    return buf;
}

} // namespace

uint64_t availableMemoryBytes() {
    if (const char* forced = std::getenv("TESSERA_AVAILABLE_MEMORY_BYTES"); forced && *forced) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(forced, &end, 10);
        if (end && *end == '\0') return v;
    }
    uint64_t available = 0;
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream fields(line.substr(13));
        unsigned long long kib = 0;
        if (fields >> kib) available = static_cast<uint64_t>(kib) * 1024;
        break;
    }
    // cgroup v2: the limit of this process's group, when one is set.
    const uint64_t limit = readNumberFile("/sys/fs/cgroup/memory.max");
    if (limit > 0) {
        const uint64_t used = readNumberFile("/sys/fs/cgroup/memory.current");
        const uint64_t left = limit > used ? limit - used : 0;
        if (available == 0 || left < available) available = left;
    }
    return available;
}

Status requireMemoryFor(uint64_t bytes, const std::string& what) {
    if (const char* allow = std::getenv("TESSERA_ALLOW_OVERCOMMIT"); allow && std::strcmp(allow, "1") == 0)
        return Status();
    const uint64_t available = availableMemoryBytes();
    if (available == 0 || bytes <= available) return Status();
    return Status::error(what + " needs " + gib(bytes) + " of memory, " + gib(available) +
                         " free: close other programs or pick a smaller model (TESSERA_ALLOW_OVERCOMMIT=1 "
                         "loads it anyway, paging from disk)");
}

} // namespace tessera
