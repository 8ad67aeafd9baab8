// The CPU reference backend: f32 compute, OpenBLAS for GEMM/GEMV, a thread pool for everything else.
// Matrix weights stay in their checkpoint dtype (bf16/f16/f32) and are widened in registers by the
// GEMV/GEMM kernels; activations are f32.
#pragma once

#include "cpu/cpu_bf16_matmul.h"
#include "cpu/thread_pool.h"
#include "tessera/engine/backend.h"

#include <atomic>
#include <map>
#include <mutex>
#include <memory>

namespace tessera::cpu {

class CpuBackend final : public Backend {
public:
    // threads <= 0: use the number of hardware threads.
    explicit CpuBackend(int threads = 0);
    ~CpuBackend() override;

    BackendInfo info() const override;

    Tensor alloc(DType dtype, const Shape& shape) override;
    Tensor upload(const void* host, DType dtype, const Shape& shape) override;
    Tensor adopt(std::shared_ptr<const void> owner, const void* host, DType dtype,
                 const Shape& shape) override;
    Tensor uploadMatrix(const void* host, DType dtype, const Shape& shape) override;
    Tensor adoptMatrix(std::shared_ptr<const void> owner, const void* host, DType dtype,
                       const Shape& shape) override;
    void read(const Tensor& t, void* host) override;
    size_t allocatedBytes() const override { return allocated_.load(); }
    uint64_t systemAllocations() const override { return system_allocations_.load(); }
    uint64_t hostReadBytes() const override { return host_read_bytes_.load(); }
    void releaseCached() override;
    double copyBandwidth(size_t bytes, int repeats) override;
    DType kvCacheDtype() const override { return kv_dtype_; }
    void setKvCacheDtype(DType dtype) override;
    void setActiveThreads(int threads) override { pool_.setActiveThreads(threads); }
    int activeThreads() const override { return pool_.activeThreads(); }
    DType activationDtype() const override { return act_dtype_; }
    void setActivationDtype(DType dtype) override;

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
    Tensor groupNorm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                     float eps) override;
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
    Tensor groupNormFrames(const Tensor& x, int64_t frames, int groups, const Tensor& weight, const Tensor& bias,
                           float eps) override;
    Tensor temporalConv(const Tensor& x, int64_t frames, const Tensor& w, const Tensor* bias) override;
    Tensor padRightBottom(const Tensor& x, int pad) override;

    ThreadPool& pool() { return pool_; }

    // Counts bytes handed to the host by ops that return results directly (sampling).
    void countHostRead(size_t bytes) { host_read_bytes_ += bytes; }
    // conv2d scratch. Output pixels are cut into tiles of convTileColumns(kdim, pixels) columns, a
    // function of the conv's shape alone (kdim = Cin·kh·kw); each pool thread holds at most one im2col
    // block of kdim × tile floats, which is at most convScratchBoundBytes(kdim) =
    // max(kConvScratchBudgetBytes, kdim · 64 · 4) bytes. A call therefore holds at most
    // threads() × convScratchBoundBytes(kdim) bytes of scratch besides its input and output; 1x1
    // stride-1 unpadded convs hold none.
    static constexpr size_t kConvScratchBudgetBytes = size_t{8} << 20;
    static int64_t convTileColumns(int64_t kdim, int64_t pixels);
    static size_t convScratchBoundBytes(int64_t kdim);
    // Most conv2d scratch bytes held at once (all threads together) since construction or the last
    // resetConvScratchPeak(). Call both from the backend's driver thread, between ops.
    size_t convScratchPeakBytes() const { return conv_scratch_peak_.load(); }
    void resetConvScratchPeak();

private:
    friend class HostBuffer;
    // Caching allocator: freed blocks are kept by size class and handed out again, so a warm decode
    // step makes no system allocation. Guarded by a mutex because tensors may be released on any thread.
    void* take(size_t rounded);
    void give(void* p, size_t rounded);
    ThreadPool pool_;
    std::atomic<size_t> allocated_{0};
    std::atomic<uint64_t> system_allocations_{0};
    std::atomic<uint64_t> host_read_bytes_{0};
    std::mutex cache_mutex_;
    std::multimap<size_t, void*> free_blocks_;
    size_t cached_bytes_ = 0;
    DType kv_dtype_ = DType::F32;
    DType act_dtype_ = DType::F32;
    Bf16Scratch bf16_scratch_; // driver thread only (matmul)
    std::atomic<size_t> conv_scratch_now_{0}, conv_scratch_peak_{0};
};

} // namespace tessera::cpu
