// The engine's front door for the app: version, backends, and the umbrella of public headers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

namespace tessera {

const char* engineVersion();

// Backend names this build can create ("cpu", and "cuda" when compiled with CUDA and a device exists).
std::vector<std::string> availableBackends();
// "cpu", "cuda", or "auto" (the fastest available). threads applies to the CPU backend (0 = all).
Expected<std::unique_ptr<Backend>> createBackend(const std::string& name = "auto", int threads = 0);

// What the CPU offers (for `doctor`): model name, SIMD features, hardware threads.
struct CpuInfo {
    std::string model;
    std::vector<std::string> features;
    int hardware_threads = 1;
};
CpuInfo cpuInfo();

// CUDA devices visible to this build (empty without CUDA or without a device).
struct GpuInfo {
    std::string name;
    size_t memory_bytes = 0;
    int compute_major = 0, compute_minor = 0;
};
std::vector<GpuInfo> cudaDevices();
// The backend "auto" picks on this machine ("cuda" or "cpu"), and why the CUDA backend is not in use
// when it is not ("not part of this build", "no device (CUDA driver version is insufficient ...)").
struct BackendChoice {
    std::string name;
    std::string cuda_unavailable;
};
BackendChoice autoBackend();

} // namespace tessera
