#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/kv_write.cuh"

namespace tessera::kernels {

namespace {

__global__ void kvWriteKernel(void* cache, bool bf, const float* src, int64_t t, int64_t heads, int64_t hd,
                              int64_t tmax, int64_t pos, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t d = i % hd, h = (i / hd) % heads, ti = (i / (hd * heads)) % t, b = i / (hd * heads * t);
        const int64_t at = ((b * heads + h) * tmax + pos + ti) * hd + d;
        if (bf)
            static_cast<uint16_t*>(cache)[at] = toBf16(src[i]);
        else
            static_cast<float*>(cache)[at] = src[i];
    }
}

} // namespace

KernelStatus kvWrite(void* cache, bool cache_bf16, const float* src, int64_t batch, int64_t t, int64_t heads,
                     int64_t hd, int64_t tmax, int64_t pos, void* stream) {
    const int64_t n = batch * t * heads * hd;
    if (n == 0) return {};
    const unsigned grid = blocksFor(n, 256) < 65535u ? blocksFor(n, 256) : 65535u;
    kvWriteKernel<<<grid, 256, 0, asStream(stream)>>>(cache, cache_bf16, src, t, heads, hd, tmax, pos, n);
    return launched("kvWrite");
}

} // namespace tessera::kernels
