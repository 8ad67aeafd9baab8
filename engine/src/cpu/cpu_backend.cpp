// CPU backend: memory, dense ops, elementwise ops and normalisation.
// Attention and positional ops live in cpu_attention.cpp, image ops in cpu_image_ops.cpp.
#include "cpu/cpu_backend.h"

#include "cpu/cpu_common.h"
#include "cpu/cpu_gemv.h"
#include "tessera/engine/status.h"

#include <algorithm>
#include <chrono>
#include <cblas.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>
#include <thread>

namespace tessera::cpu {

// ---- memory ------------------------------------------------------------------------------------------

namespace {

// Size classes: 64-byte granules up to 4 KB, then steps of 1/8 of the power of two below, so a buffer
// that grows by a token a step (attention scores, a lengthening cache view) still lands in the class
// an earlier step freed, at most 12.5% over.
size_t sizeClass(size_t bytes) {
    size_t r = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    if (r <= 4096) return r;
    const size_t top = size_t(1) << (63 - __builtin_clzll(r));
    const size_t step = top / 8;
    return (r + step - 1) / step * step;
}

// Blocks kept for reuse beyond this are returned to the system.
constexpr size_t kMaxCachedBytes = size_t(2) << 30;

} // namespace

class HostBuffer final : public Buffer {
public:
    HostBuffer(CpuBackend& backend, size_t bytes)
        : Buffer(backend, bytes), backend_(backend), rounded_(sizeClass(bytes)) {
        data_ = backend_.take(rounded_);
    }
    ~HostBuffer() override { backend_.give(data_, rounded_); }
    void* data() override { return data_; }

private:
    CpuBackend& backend_;
    size_t rounded_;
    void* data_;
};

void* CpuBackend::take(size_t rounded) {
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
    void* p = std::aligned_alloc(64, rounded);
    if (!p) {
        releaseCached(); // memory held for reuse may be what is missing
        p = std::aligned_alloc(64, rounded);
    }
    if (!p) throw Error("out of host memory allocating " + std::to_string(rounded) + " bytes");
    ++system_allocations_;
    allocated_ += rounded;
    return p;
}

void CpuBackend::give(void* p, size_t rounded) {
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cached_bytes_ + rounded <= kMaxCachedBytes) {
            free_blocks_.emplace(rounded, p);
            cached_bytes_ += rounded;
            return;
        }
    }
    std::free(p);
    allocated_ -= rounded;
}

double CpuBackend::copyBandwidth(size_t bytes, int repeats) {
    Tensor a = alloc(DType::U8, {static_cast<int64_t>(bytes)}), b = alloc(DType::U8, {static_cast<int64_t>(bytes)});
    std::memset(a.raw(), 1, bytes);
    std::memcpy(b.raw(), a.raw(), bytes); // first touch outside the timing
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < repeats; ++i) std::memcpy(b.raw(), a.raw(), bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s > 0 ? 2.0 * static_cast<double>(bytes) * repeats / s : 0.0;
}

void CpuBackend::setKvCacheDtype(DType dtype) {
    TS_CHECK(dtype == DType::F32 || dtype == DType::BF16, "the CPU backend keeps KV caches in f32 or bf16");
    kv_dtype_ = dtype;
}

void CpuBackend::setActivationDtype(DType dtype) {
    TS_CHECK(dtype == DType::F32 || dtype == DType::BF16, "the CPU backend takes f32 or bf16 activations");
    act_dtype_ = dtype;
}

void CpuBackend::releaseCached() {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    for (auto& [size, p] : free_blocks_) {
        std::free(p);
        allocated_ -= size;
    }
    free_blocks_.clear();
    cached_bytes_ = 0;
    // Blocks below glibc's mmap threshold went back to malloc's heaps (the job thread's and the pool
    // workers' arenas), which keep freed pages resident until trimmed.
    malloc_trim(0);
}

// Host memory owned elsewhere (an mmap'd checkpoint): no copy, kept alive by `owner`.
class AdoptedBuffer final : public Buffer {
public:
    AdoptedBuffer(Backend& backend, std::shared_ptr<const void> owner, const void* data, size_t bytes)
        : Buffer(backend, bytes), owner_(std::move(owner)), data_(const_cast<void*>(data)) {}
    void* data() override { return data_; }

private:
    std::shared_ptr<const void> owner_;
    void* data_;
};

CpuBackend::CpuBackend(int threads)
    : pool_(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
    // BLAS runs single-threaded inside the pool's chunks (sgemmColumns): OpenBLAS's own threads would
    // split work differently per thread count and spin beside the pool's workers.
    openblas_set_num_threads(1);
}

CpuBackend::~CpuBackend() { releaseCached(); }

BackendInfo CpuBackend::info() const {
    BackendInfo bi;
    bi.name = "cpu";
    bi.device = "CPU (f32, OpenBLAS)";
    bi.threads = const_cast<ThreadPool&>(pool_).threads();
    bi.bf16_matmul = bf16MatmulPath();
    return bi;
}

Tensor CpuBackend::alloc(DType dtype, const Shape& shape) {
    size_t bytes = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
    return Tensor(std::make_shared<HostBuffer>(*this, bytes), 0, dtype, shape);
}

Tensor CpuBackend::upload(const void* host, DType dtype, const Shape& shape) {
    int64_t n = shapeNumel(shape);
    if (dtype == DType::BF16 || dtype == DType::F16) {
        Tensor t = alloc(DType::F32, shape);
        const auto* src = static_cast<const uint16_t*>(host);
        float* dst = t.data<float>();
        bool bf = dtype == DType::BF16;
        pool_.parallelFor(n, 1 << 16, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) dst[i] = bf ? bf16ToF32(src[i]) : f16ToF32(src[i]);
        });
        return t;
    }
    Tensor t = alloc(dtype, shape);
    if (n) std::memcpy(t.raw(), host, t.bytes());
    return t;
}

Tensor CpuBackend::adopt(std::shared_ptr<const void> owner, const void* host, DType dtype,
                         const Shape& shape) {
    // Only f32 can be used in place (and only when suitably aligned for SIMD loads).
    if (dtype != DType::F32 || reinterpret_cast<uintptr_t>(host) % 4 != 0) return upload(host, dtype, shape);
    size_t bytes = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
    return Tensor(std::make_shared<AdoptedBuffer>(*this, std::move(owner), host, bytes), 0, dtype, shape);
}

Tensor CpuBackend::uploadMatrix(const void* host, DType dtype, const Shape& shape) {
    if (dtype != DType::BF16 && dtype != DType::F16) return upload(host, dtype, shape);
    Tensor t = alloc(dtype, shape);
    if (t.numel()) std::memcpy(t.raw(), host, t.bytes());
    return t;
}

Tensor CpuBackend::adoptMatrix(std::shared_ptr<const void> owner, const void* host, DType dtype,
                               const Shape& shape) {
    // The GEMV/GEMM kernels read bf16/f16 rows as stored: the mapped checkpoint is used in place.
    if ((dtype != DType::BF16 && dtype != DType::F16) || reinterpret_cast<uintptr_t>(host) % 2 != 0)
        return adopt(std::move(owner), host, dtype, shape);
    size_t bytes = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
    return Tensor(std::make_shared<AdoptedBuffer>(*this, std::move(owner), host, bytes), 0, dtype, shape);
}

void CpuBackend::read(const Tensor& t, void* host) {
    if (t.numel()) std::memcpy(host, t.raw(), t.bytes());
    host_read_bytes_ += t.bytes();
}

// ---- dense -------------------------------------------------------------------------------------------

Tensor CpuBackend::matmul(const Tensor& x, const Tensor& w, const Tensor* bias) {
    requireF32(x, "matmul input");
    TS_ASSERT(w.defined() && (w.dtype() == DType::F32 || w.dtype() == DType::BF16 || w.dtype() == DType::F16),
              "matmul weight must be f32, bf16 or f16");
    TS_ASSERT(w.rank() == 2, "matmul: weight must be [N, K]");
    const int64_t k = w.dim(1), n = w.dim(0);
    TS_ASSERT(x.dim(-1) == k, "matmul: inner dimensions differ");
    const int64_t m = x.numel() / k;
    Shape out_shape = x.shape();
    out_shape.back() = n;
    Tensor y = alloc(DType::F32, out_shape);
    float* yp = y.data<float>();
    const float* xp = x.data<float>();
    if (act_dtype_ == DType::BF16 && w.dtype() == DType::BF16) {
        bf16MatmulRows(pool_, xp, m, w.data<Bf16>(), n, k, yp, bf16_scratch_);
    } else if (m <= gemvMaxRows()) {
        switch (w.dtype()) {
        case DType::BF16: gemvRows(pool_, xp, m, w.data<Bf16>(), n, k, yp); break;
        case DType::F16: gemvRows(pool_, xp, m, w.data<F16>(), n, k, yp); break;
        default: gemvRows(pool_, xp, m, w.data<float>(), n, k, yp); break;
        }
    } else {
        switch (w.dtype()) {
        case DType::BF16: sgemmColumns(pool_, m, n, k, xp, w.data<Bf16>(), yp, n); break;
        case DType::F16: sgemmColumns(pool_, m, n, k, xp, w.data<F16>(), yp, n); break;
        default: sgemmColumns(pool_, m, n, k, xp, w.data<float>(), true, yp, n); break;
        }
    }
    if (bias) {
        requireF32(*bias, "matmul bias");
        TS_ASSERT(bias->numel() == n, "matmul: bias size differs from output features");
        const float* bp = bias->data<float>();
        for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) yp[r * n + j] += bp[j];
    }
    return y;
}

Tensor CpuBackend::embedding(const Tensor& table, const Tensor& ids) {
    TS_ASSERT(table.defined() && (table.dtype() == DType::F32 || table.dtype() == DType::BF16 || table.dtype() == DType::F16),
              "embedding table must be f32, bf16 or f16");
    TS_ASSERT(table.rank() == 2, "embedding: table must be [V, D]");
    const int64_t vocab = table.dim(0), d = table.dim(1), n = ids.numel();
    Shape out_shape = ids.shape();
    out_shape.push_back(d);
    Tensor y = alloc(DType::F32, out_shape);
    for (int64_t i = 0; i < n; ++i) {
        int64_t id = ids.dtype() == DType::I64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
        TS_CHECK(id >= 0 && id < vocab,
                 "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
        float* out = y.data<float>() + i * d;
        if (table.dtype() == DType::F32) {
            std::memcpy(out, table.data<float>() + id * d, static_cast<size_t>(d) * 4);
        } else {
            const uint16_t* row = table.data<uint16_t>() + id * d;
            const bool bf = table.dtype() == DType::BF16;
            for (int64_t j = 0; j < d; ++j) out[j] = bf ? bf16ToF32(row[j]) : f16ToF32(row[j]);
        }
    }
    return y;
}

// ---- elementwise -------------------------------------------------------------------------------------

float applyActivation(float v, Activation act) {
    switch (act) {
    case Activation::Silu:
        return v / (1.0f + std::exp(-v));
    case Activation::Gelu:
        return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    case Activation::GeluTanh: {
        float inner = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + std::tanh(inner));
    }
    case Activation::QuickGelu:
        return v / (1.0f + std::exp(-1.702f * v));
    case Activation::Relu:
        return v > 0 ? v : 0;
    case Activation::Identity:
        return v;
    }
    return v;
}

Tensor CpuBackend::activation(const Tensor& x, Activation act) {
    requireF32(x, "activation");
    Tensor y = alloc(DType::F32, x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) yp[i] = applyActivation(xp[i], act);
    });
    return y;
}

Tensor CpuBackend::swiglu(const Tensor& gate, const Tensor& up) {
    requireF32(gate, "swiglu gate");
    requireF32(up, "swiglu up");
    TS_ASSERT(gate.shape() == up.shape(), "swiglu: shapes differ");
    Tensor y = alloc(DType::F32, gate.shape());
    const float *g = gate.data<float>(), *u = up.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(gate.numel(), 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) yp[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    });
    return y;
}

template <class Op> static Tensor broadcastBinary(CpuBackend& be, const Tensor& a, const Tensor& b, Op op) {
    requireF32(a, "binary op");
    requireF32(b, "binary op");
    const int64_t n = a.numel(), m = b.numel();
    TS_ASSERT(m > 0 && n % m == 0, "binary op: operand does not broadcast");
    Tensor y = be.alloc(DType::F32, a.shape());
    const float *ap = a.data<float>(), *bp = b.data<float>();
    float* yp = y.data<float>();
    be.pool().parallelFor(n, 1 << 14, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) yp[i] = op(ap[i], bp[i % m]);
    });
    return y;
}

Tensor CpuBackend::add(const Tensor& a, const Tensor& b) {
    return broadcastBinary(*this, a, b, [](float x, float y) { return x + y; });
}

Tensor CpuBackend::mul(const Tensor& a, const Tensor& b) {
    return broadcastBinary(*this, a, b, [](float x, float y) { return x * y; });
}

Tensor CpuBackend::scale(const Tensor& x, float s) {
    requireF32(x, "scale");
    Tensor y = alloc(DType::F32, x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) yp[i] = xp[i] * s;
    return y;
}

Tensor CpuBackend::addChannel(const Tensor& x, const Tensor& bias) {
    requireF32(x, "addChannel");
    TS_ASSERT(x.rank() >= 2 && bias.numel() == x.dim(1), "addChannel: bias must have one value per channel");
    const int64_t batch = x.dim(0), c = x.dim(1), inner = x.numel() / (batch * c);
    Tensor y = alloc(DType::F32, x.shape());
    const float *xp = x.data<float>(), *bp = bias.data<float>();
    float* yp = y.data<float>();
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < inner; ++i) {
                int64_t idx = (b * c + ch) * inner + i;
                yp[idx] = xp[idx] + bp[ch];
            }
    return y;
}

// ---- normalisation -----------------------------------------------------------------------------------

Tensor CpuBackend::rmsNorm(const Tensor& x, const Tensor& weight, float eps) {
    requireF32(x, "rmsNorm");
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    TS_ASSERT(weight.numel() == d, "rmsNorm: weight size differs from the hidden size");
    Tensor y = alloc(DType::F32, x.shape());
    const float *xp = x.data<float>(), *wp = weight.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(rows, 16, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const float* xr = xp + r * d;
            float ss = 0;
            for (int64_t i = 0; i < d; ++i) ss += xr[i] * xr[i];
            float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
            for (int64_t i = 0; i < d; ++i) yp[r * d + i] = xr[i] * inv * wp[i];
        }
    });
    return y;
}

Tensor CpuBackend::layerNorm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
    requireF32(x, "layerNorm");
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    // The affine may span several trailing dimensions (per-head QK-norm): it repeats every `period` rows.
    const int64_t affine = weight ? weight->numel() : d;
    TS_ASSERT(affine % d == 0 && (x.numel() % affine) == 0, "layerNorm: affine does not match trailing dims");
    TS_ASSERT(!bias || bias->numel() == affine, "layerNorm: bias and weight sizes differ");
    const int64_t period = affine / d;
    Tensor y = alloc(DType::F32, x.shape());
    const float* xp = x.data<float>();
    const float* wp = weight ? weight->data<float>() : nullptr;
    const float* bp = bias ? bias->data<float>() : nullptr;
    float* yp = y.data<float>();
    pool_.parallelFor(rows, 16, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const float* xr = xp + r * d;
            double mean = 0, var = 0;
            for (int64_t i = 0; i < d; ++i) mean += xr[i];
            mean /= static_cast<double>(d);
            for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            var /= static_cast<double>(d);
            float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
            int64_t off = (r % period) * d;
            for (int64_t i = 0; i < d; ++i) {
                float v = (xr[i] - static_cast<float>(mean)) * inv;
                if (wp) v *= wp[off + i];
                if (bp) v += bp[off + i];
                yp[r * d + i] = v;
            }
        }
    });
    return y;
}

Tensor CpuBackend::groupNorm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                             float eps) {
    requireF32(x, "groupNorm");
    TS_ASSERT(x.rank() >= 2 && x.dim(1) % groups == 0, "groupNorm: channels not divisible by groups");
    const int64_t batch = x.dim(0), c = x.dim(1), inner = x.numel() / (batch * c), cpg = c / groups;
    Tensor y = alloc(DType::F32, x.shape());
    const float *xp = x.data<float>(), *wp = weight.data<float>(), *bp = bias.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(batch * groups, 1, [&](int64_t s, int64_t e) {
        for (int64_t bg = s; bg < e; ++bg) {
            int64_t b = bg / groups, g = bg % groups;
            const float* base = xp + (b * c + g * cpg) * inner;
            const int64_t n = cpg * inner;
            double mean = 0, var = 0;
            for (int64_t i = 0; i < n; ++i) mean += base[i];
            mean /= static_cast<double>(n);
            for (int64_t i = 0; i < n; ++i) var += (base[i] - mean) * (base[i] - mean);
            var /= static_cast<double>(n);
            float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
            for (int64_t ch = 0; ch < cpg; ++ch) {
                int64_t cc = g * cpg + ch;
                for (int64_t i = 0; i < inner; ++i) {
                    int64_t idx = (b * c + cc) * inner + i;
                    yp[idx] = (xp[idx] - static_cast<float>(mean)) * inv * wp[cc] + bp[cc];
                }
            }
        }
    });
    return y;
}

Tensor CpuBackend::softmax(const Tensor& x) {
    requireF32(x, "softmax");
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    Tensor y = alloc(DType::F32, x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    for (int64_t r = 0; r < rows; ++r) softmaxRow(xp + r * d, yp + r * d, d);
    return y;
}

} // namespace tessera::cpu
