#include <cuda_runtime.h>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

std::vector<DeviceInfo> listDevices() {
    std::vector<DeviceInfo> out;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no driver" error
        return out;
    }
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        out.push_back({p.name, p.totalGlobalMem, p.major, p.minor});
    }
    return out;
}

} // namespace tessera::kernels
