#include "tessera/kernels/device_common.cuh"
#include "tessera/kernels/embedding.cuh"

namespace tessera::kernels {

namespace {

__global__ void embeddingKernel(const void* table, Elem elem, const void* ids, bool ids_i64, int64_t vocab, int64_t d,
                                float* y, long long* bad_id) {
    const int64_t i = blockIdx.x;
    const int64_t id = ids_i64 ? static_cast<const int64_t*>(ids)[i] : static_cast<const int32_t*>(ids)[i];
    float* out = y + i * d;
    if (id < 0 || id >= vocab) {
        if (threadIdx.x == 0)
            atomicCAS(reinterpret_cast<unsigned long long*>(bad_id), static_cast<unsigned long long>(kNoBadId),
                      static_cast<unsigned long long>(id));
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x) out[j] = 0.0f;
        return;
    }
    const int64_t base = id * d;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
        out[j] = elem == Elem::F32 ? static_cast<const float*>(table)[base + j]
                                   : load16(static_cast<const uint16_t*>(table), base + j, elem == Elem::BF16);
    }
}

} // namespace

KernelStatus embeddingGather(const void* table, Elem elem, const void* ids, bool ids_i64, int64_t n, int64_t vocab,
                             int64_t d, float* y, long long* bad_id, void* stream) {
    if (n == 0) return {};
    embeddingKernel<<<static_cast<unsigned>(n), 256, 0, asStream(stream)>>>(table, elem, ids, ids_i64, vocab, d, y,
                                                                            bad_id);
    return launched("embeddingGather");
}

} // namespace tessera::kernels
