// CUDA device discovery and the shared launcher conventions of Tessera's kernels.
//
// Host-only declarations: safe to include from plain C++ translation units. Every op launcher takes
// device pointers and a stream, never throws, and returns a KernelStatus.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tessera::kernels {

struct DeviceInfo {
    std::string name;
    size_t memory_bytes = 0;
    int major = 0, minor = 0;
};

// Devices the CUDA runtime can see; empty (not an error) without a driver or device.
std::vector<DeviceInfo> listDevices();

// Element types of weights and tables the kernels read (tessera::DType's F32 / BF16 / F16).
enum class Elem : int { F32 = 0, BF16 = 1, F16 = 2 };

struct KernelStatus {
    bool ok = true;
    std::string message;
};

} // namespace tessera::kernels
