// The CUDA backend: the Backend interface on one NVIDIA GPU.
//
// Memory: tensors live in device memory from a caching allocator (freed blocks are kept by size class
// and handed out again, so a warm decode step makes no cudaMalloc; systemAllocations() counts the ones
// that reached the driver). Weights given to uploadMatrix/adoptMatrix stay bf16/f16 as stored (uploaded
// once, never widened); every activation is f32, like the CPU backend.
// Work: every op is issued in order on the backend's own stream and returns at once; read() and
// sample() wait for the stream. GEMMs with more than kernels::kGemvMaxRows rows go to cuBLAS (opened
// at run time), skinny ones to the GEMV kernel; sampling runs on the device and copies back only ids
// and statistics.
// Failures: out of memory throws tessera::Error("... needs X GiB, Y GiB free ..."); a kernel fault or a
// lost device throws Error with the driver's message at the next synchronisation. Nothing aborts.
// Thread affinity: one thread drives a backend at a time (the job's worker); tensors may be released
// on any thread (the allocator is guarded by a mutex).
#pragma once

#include "cuda/cublas_loader.h"
#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"

#include <cuda_runtime.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tessera::kernels {
struct KernelStatus;
}

namespace tessera::cuda {

class CudaBackend final : public Backend {
public:
    // Opens device `device` (its stream, cuBLAS). Fails with a message when the device or cuBLAS
    // cannot be used.
    static Expected<std::unique_ptr<Backend>> create(int device);
    ~CudaBackend() override;

    BackendInfo info() const override;

    Tensor alloc(DType dtype, const Shape& shape) override;
    Tensor upload(const void* host, DType dtype, const Shape& shape) override;
    Tensor uploadMatrix(const void* host, DType dtype, const Shape& shape) override;
    Tensor adoptMatrix(std::shared_ptr<const void> owner, const void* host, DType dtype,
                       const Shape& shape) override;
    void read(const Tensor& t, void* host) override;
    void synchronize() override;
    size_t allocatedBytes() const override { return allocated_.load(); }
    uint64_t systemAllocations() const override { return system_allocations_.load(); }
    uint64_t hostReadBytes() const override { return host_read_bytes_.load(); }
    void releaseCached() override;
    double copyBandwidth(size_t bytes, int repeats) override;
    DType kvCacheDtype() const override { return kv_dtype_; }
    void setKvCacheDtype(DType dtype) override;

    Tensor matmul(const Tensor& x, const Tensor& w, const Tensor* bias) override;
    Tensor embedding(const Tensor& table, const Tensor& ids) override;

    Tensor activation(const Tensor& x, Activation act) override;
    Tensor swiglu(const Tensor& gate, const Tensor& up) override;
    Tensor add(const Tensor& a, const Tensor& b) override;
    Tensor mul(const Tensor& a, const Tensor& b) override;
    Tensor scale(const Tensor& x, float s) override;
    Tensor addChannel(const Tensor& x, const Tensor& bias) override;

    Tensor rmsNorm(const Tensor& x, const Tensor& weight, float eps) override;
    Tensor layerNorm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) override;
    Tensor groupNorm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, float eps) override;
    Tensor softmax(const Tensor& x) override;

    Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin) override;
    void kvWrite(Tensor& k_cache, Tensor& v_cache, const Tensor& k, const Tensor& v, int64_t pos) override;
    Tensor attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t kv_len,
                     const AttentionMask& mask, float scale) override;

    Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end) override;
    Tensor concat(const Tensor& a, const Tensor& b, int dim) override;
    Tensor transposeLast2(const Tensor& x) override;
    Tensor gatherRows(const Tensor& x, const std::vector<int64_t>& index) override;

    void sample(const Tensor& logits, const std::vector<SampleRow>& rows, const SampleParams& params,
                SampleResult& out) override;

    Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) override;
    Tensor upsampleNearest2x(const Tensor& x) override;
    Tensor padRightBottom(const Tensor& x, int pad) override;


    // For the buffers: allocation and return of rounded blocks.
    void* take(size_t rounded);
    void give(void* p, size_t rounded);
    cudaStream_t stream() const { return stream_; }

private:
    explicit CudaBackend(int device);
    void check(cudaError_t e, const char* what);
    void check(const kernels::KernelStatus& s);
    // Raises the error a kernel recorded in device memory (an embedding id outside the vocabulary).
    void checkDeviceFlags();

    int device_ = 0;
    std::string device_name_;
    size_t device_memory_ = 0;
    cudaStream_t stream_ = nullptr;
    CublasLibrary blas_;
    long long* bad_id_ = nullptr; // device flag written by embeddingGather
    std::atomic<size_t> allocated_{0};
    std::atomic<uint64_t> system_allocations_{0};
    std::atomic<uint64_t> host_read_bytes_{0};
    std::mutex cache_mutex_;
    std::multimap<size_t, void*> free_blocks_;
    size_t cached_bytes_ = 0;
    DType kv_dtype_ = DType::F32;
};

// Why no CUDA device can be used here ("" when one can): no driver, no device, etc.
std::string probeDevices(int* count);

} // namespace tessera::cuda
