// CUDA backend: device discovery, memory (caching allocator, uploads, reads), errors.
// The ops are in cuda_ops.cpp, sampling in cuda_sampling.cpp.
#include "cuda/cuda_backend.h"

#include "tessera/kernels/convert.cuh"
#include "tessera/kernels/device.cuh"
#include "tessera/kernels/embedding.cuh"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace tessera::cuda {

namespace {

// Size classes as the CPU backend's: 256-byte steps up to 4 KiB, then eighths of a power of two, so a
// block freed by one step serves the same-shaped tensor of the next.
size_t sizeClass(size_t bytes) {
    size_t r = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
    if (r <= 4096) return r;
    const size_t top = size_t(1) << (63 - __builtin_clzll(r));
    const size_t step = top / 8;
    return (r + step - 1) / step * step;
}

std::string gib(size_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / double(size_t(1) << 30));
    return buf;
}

class DeviceBuffer final : public Buffer {
public:
    DeviceBuffer(CudaBackend& backend, size_t bytes)
        : Buffer(backend, bytes), backend_(backend), rounded_(sizeClass(bytes)), data_(backend.take(rounded_)) {}
    ~DeviceBuffer() override { backend_.give(data_, rounded_); }
    void* data() override { return data_; }

private:
    CudaBackend& backend_;
    size_t rounded_;
    void* data_;
};

} // namespace

std::string probeDevices(int* count) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (count) *count = e == cudaSuccess ? n : 0;
    if (e != cudaSuccess) {
        cudaGetLastError(); // clear the error so later calls start clean
        return cudaGetErrorString(e);
    }
    if (n == 0) return "the driver reports no device";
    return {};
}

Expected<std::unique_ptr<Backend>> CudaBackend::create(int device) {
    int n = 0;
    const std::string why = probeDevices(&n);
    if (!why.empty()) return Status::error("CUDA unavailable: " + why);
    if (device < 0 || device >= n) return Status::error("no CUDA device " + std::to_string(device));
    try {
        std::unique_ptr<CudaBackend> b(new CudaBackend(device));
        const std::string blas = b->blas_.open(b->stream_);
        if (!blas.empty()) return Status::error(blas);
        return std::unique_ptr<Backend>(std::move(b));
    } catch (const Error& e) {
        return Status::error(e.what());
    }
}

CudaBackend::CudaBackend(int device) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
    device_name_ = p.name;
    device_memory_ = p.totalGlobalMem;
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaMalloc(&bad_id_, sizeof(long long)), "cudaMalloc");
    check(cudaMemcpy(bad_id_, &kernels::kNoBadId, sizeof(long long), cudaMemcpyHostToDevice), "error flag");
}

CudaBackend::~CudaBackend() {
    cudaStreamSynchronize(stream_);
    releaseCached();
    cudaFree(bad_id_);
    cudaStreamDestroy(stream_);
}

BackendInfo CudaBackend::info() const {
    BackendInfo bi;
    bi.name = "cuda:" + std::to_string(device_);
    bi.device = device_name_ + " (bf16 weights, f32 activations)";
    bi.threads = 1;
    bi.memory_bytes = device_memory_;
    return bi;
}

void CudaBackend::check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    cudaGetLastError();
    throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e) +
                (e == cudaErrorDevicesUnavailable || e == cudaErrorLaunchFailure || e == cudaErrorIllegalAddress ||
                                 e == cudaErrorECCUncorrectable || e == cudaErrorHardwareStackError
                         ? " (the GPU context is lost: restart Tessera to use the GPU again; --backend cpu still works)"
                         : ""));
}

void CudaBackend::check(const kernels::KernelStatus& s) {
    if (!s.ok) throw Error("CUDA kernel: " + s.message);
}

// ---- memory -------------------------------------------------------------------------------------------

void* CudaBackend::take(size_t rounded) {
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = free_blocks_.find(rounded);
        if (it != free_blocks_.end()) {
            void* p = it->second;
            free_blocks_.erase(it);
            cached_bytes_ -= rounded;
            return p;
        }
    }
    cudaSetDevice(device_);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        releaseCached(); // blocks held for reuse may be what is missing
        e = cudaMalloc(&p, rounded);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        if (e == cudaErrorMemoryAllocation)
            throw Error("out of GPU memory on " + device_name_ + ": needs " + gib(rounded) + " more, " + gib(free_b) +
                        " free of " + gib(total_b) + " (" + gib(allocated_.load()) +
                        " held by this job): use a smaller batch or model, or --backend cpu");
        check(e, "cudaMalloc");
    }
    ++system_allocations_;
    allocated_ += rounded;
    return p;
}

void CudaBackend::give(void* p, size_t rounded) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // Kept for reuse: the stream orders any pending use of the block before its next user's work.
    free_blocks_.emplace(rounded, p);
    cached_bytes_ += rounded;
}

void CudaBackend::releaseCached() {
    cudaStreamSynchronize(stream_); // queued work may still use cached blocks
    std::lock_guard<std::mutex> lock(cache_mutex_);
    for (auto& [size, p] : free_blocks_) {
        cudaFree(p);
        allocated_ -= size;
    }
    free_blocks_.clear();
    cached_bytes_ = 0;
}

void CudaBackend::setKvCacheDtype(DType dtype) {
    TS_CHECK(dtype == DType::F32 || dtype == DType::BF16, "the CUDA backend keeps KV caches in f32 or bf16");
    kv_dtype_ = dtype;
}

Tensor CudaBackend::alloc(DType dtype, const Shape& shape) {
    const size_t bytes = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
    return Tensor(std::make_shared<DeviceBuffer>(*this, bytes), 0, dtype, shape);
}

Tensor CudaBackend::upload(const void* host, DType dtype, const Shape& shape) {
    // 16-bit floats become f32 (what every op but matmul and embedding reads); the widening runs on
    // the device after a 16-bit copy.
    if (dtype == DType::BF16 || dtype == DType::F16) {
        Tensor raw = uploadMatrix(host, dtype, shape);
        Tensor t = alloc(DType::F32, shape);
        check(kernels::widen16(raw.data<uint16_t>(), dtype == DType::BF16, t.data<float>(), t.numel(), stream_));
        return t;
    }
    return uploadMatrix(host, dtype, shape);
}

Tensor CudaBackend::uploadMatrix(const void* host, DType dtype, const Shape& shape) {
    Tensor t = alloc(dtype, shape);
    if (t.numel()) check(cudaMemcpyAsync(t.raw(), host, t.bytes(), cudaMemcpyHostToDevice, stream_), "upload");
    // Pageable host memory: the copy has been staged once cudaMemcpyAsync returns, but the caller's
    // memory (e.g. an mmap'd checkpoint) may go away, so wait for it.
    check(cudaStreamSynchronize(stream_), "upload");
    return t;
}

Tensor CudaBackend::adoptMatrix(std::shared_ptr<const void>, const void* host, DType dtype, const Shape& shape) {
    return uploadMatrix(host, dtype, shape); // device memory cannot alias a host mapping: copy once
}

void CudaBackend::read(const Tensor& t, void* host) {
    if (t.numel()) check(cudaMemcpyAsync(host, t.raw(), t.bytes(), cudaMemcpyDeviceToHost, stream_), "read");
    check(cudaStreamSynchronize(stream_), "read");
    checkDeviceFlags();
    host_read_bytes_ += t.bytes();
}

void CudaBackend::synchronize() {
    check(cudaStreamSynchronize(stream_), "synchronize");
    checkDeviceFlags();
}

void CudaBackend::checkDeviceFlags() {
    long long bad = 0;
    check(cudaMemcpy(&bad, bad_id_, sizeof bad, cudaMemcpyDeviceToHost), "error flag");
    if (bad != kernels::kNoBadId) {
        check(cudaMemcpy(bad_id_, &kernels::kNoBadId, sizeof bad, cudaMemcpyHostToDevice), "error flag");
        throw Error("token id " + std::to_string(bad) + " outside the embedding table's vocabulary");
    }
}

double CudaBackend::copyBandwidth(size_t bytes, int repeats) {
    Tensor a = alloc(DType::U8, {static_cast<int64_t>(bytes)});
    Tensor b = alloc(DType::U8, {static_cast<int64_t>(bytes)});
    check(cudaMemsetAsync(a.raw(), 1, bytes, stream_), "memset");
    check(cudaMemcpyAsync(b.raw(), a.raw(), bytes, cudaMemcpyDeviceToDevice, stream_), "copy"); // warm-up
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "event");
    check(cudaEventCreate(&stop), "event");
    check(cudaEventRecord(start, stream_), "event");
    for (int i = 0; i < repeats; ++i)
        check(cudaMemcpyAsync(b.raw(), a.raw(), bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
    check(cudaEventRecord(stop, stream_), "event");
    check(cudaEventSynchronize(stop), "event");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "event");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    // A copy reads and writes every byte: 2·bytes of traffic per repeat.
    return ms > 0 ? 2.0 * static_cast<double>(bytes) * repeats / (ms * 1e-3) : 0.0;
}

} // namespace tessera::cuda
