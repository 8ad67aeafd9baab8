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
#include "cuda/cuda_backend.h"
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

BackendChoice autoBackend() {
    BackendChoice c{"cpu", ""};
#if TESSERA_HAVE_CUDA
    int n = 0;
    const std::string why = cuda::probeDevices(&n);
    if (why.empty()) c.name = "cuda";
    else c.cuda_unavailable = "no device (" + why + ")";
#else
    c.cuda_unavailable = "not part of this build (configure with -DTESSERA_CUDA=ON)";
#endif
    return c;
}

std::vector<std::string> availableBackends() {
    std::vector<std::string> out{"cpu"};
    if (autoBackend().name == "cuda") out.push_back("cuda");
    return out;
}

Expected<std::unique_ptr<Backend>> createBackend(const std::string& name, int threads) {
    if (name == "cpu") return std::unique_ptr<Backend>(new cpu::CpuBackend(threads));
    if (name == "auto" || name == "cuda") {
        const BackendChoice choice = autoBackend();
        if (choice.name == "cpu") {
            if (name == "auto") return std::unique_ptr<Backend>(new cpu::CpuBackend(threads));
            return Status::error("CUDA backend unavailable: " + choice.cuda_unavailable + "; use --backend cpu");
        }
#if TESSERA_HAVE_CUDA
        return cuda::CudaBackend::create(0);
#endif
    }
    std::string available;
    for (const auto& b : availableBackends()) available += (available.empty() ? "" : ", ") + b;
    return Status::error("unknown backend '" + name + "' (available: " + available + ", auto)");
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
