// The one file that names which backends exist.
#include <fstream>
#include <sstream>
#include <thread>

#include "cpu/cpu_backend.h"
#include "tessera/engine/engine.h"

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

#if TESSERA_HAVE_CUDA
#include "tessera/kernels/device.cuh"
#endif

namespace tessera {

const char* engineVersion() { return TESSERA_VERSION; }

std::vector<GpuInfo> cudaDevices() {
    std::vector<GpuInfo> out;
#if TESSERA_HAVE_CUDA
    for (const auto& d : kernels::listDevices()) out.push_back({d.name, d.memory_bytes, d.major, d.minor});
#endif
    return out;
}

std::vector<std::string> availableBackends() {
    std::vector<std::string> out{"cpu"};
    return out;
}

Expected<std::unique_ptr<Backend>> createBackend(const std::string& name, int threads) {
    if (name == "cpu" || name == "auto") return std::unique_ptr<Backend>(new cpu::CpuBackend(threads));
    if (name == "cuda") {
        if (cudaDevices().empty()) return Status::error("no CUDA device available (see `tessera-cli doctor`)");
        return Status::error("the CUDA backend is not part of this build yet; use --backend cpu");
    }
    return Status::error("unknown backend '" + name + "' (available: cpu)");
}

CpuInfo cpuInfo() {
    CpuInfo info;
    info.hardware_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, line.find_first_of(" \t"));
        std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        if (key == "model" && line.rfind("model name", 0) == 0 && info.model.empty()) info.model = value;
        if (key == "flags" && info.features.empty()) {
            std::istringstream fs(value);
            std::string f;
            for (const char* want : {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "amx_tile"}) {
                if ((" " + value + " ").find(std::string(" ") + want + " ") != std::string::npos)
                    info.features.push_back(want);
            }
        }
    }
    if (info.model.empty()) info.model = "unknown CPU";
    return info;
}

} // namespace tessera
