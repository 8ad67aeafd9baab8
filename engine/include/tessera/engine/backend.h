// Backend: where tensors live and ops run.
//
// Ops are issued in order on the backend's stream and return new tensors on the same backend. Nothing
// comes back to the host except through read()/readF32(), which wait for the stream. All ops compute
// in f32; weights stored as bf16/f16 are accepted by matmul and embedding.
//
// Thread affinity: one Backend object is driven by one thread at a time (the job's worker). Backends
// report device failures (out of memory, lost device) by throwing tessera::Error, which pipelines turn
// into a failed job — never an abort.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/sampling.h"
#include "tessera/engine/tensor.h"

namespace tessera {

enum class Activation { Silu, Gelu, GeluTanh, QuickGelu, Relu, Identity };

// Which keys each query may attend to. Positions are absolute: the cache holds keys [0, kv_len),
// the queries are the last q_len of them.
struct AttentionMask {
    enum class Kind { Causal, Full, Explicit };
    Kind kind = Kind::Causal;
    // Explicit: u8 tensor [q_len, kv_len] or [B, q_len, kv_len]; 1 = may attend.
    Tensor allowed;
};

struct BackendInfo {
    std::string name;        // "cpu", "cuda:0"
    std::string device;      // human-readable device description
    int threads = 1;         // CPU worker threads
    size_t memory_bytes = 0; // device memory (0 = host)
    std::string bf16_matmul; // how products with bf16 activations run ("amx", "f32"; empty: not offered)
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual BackendInfo info() const = 0;

    // ---- memory ------------------------------------------------------------------------------------
    virtual Tensor alloc(DType dtype, const Shape& shape) = 0;
    Tensor zeros(DType dtype, const Shape& shape);
    // Copies host memory of `dtype` into a new tensor. Converts bf16/f16 to f32 when keep_dtype is
    // false (the CPU backend computes in f32).
    virtual Tensor upload(const void* host, DType dtype, const Shape& shape) = 0;
    // Like upload, but a backend that can address host memory directly (CPU) may keep a reference to
    // `host` instead of copying; `owner` keeps it alive (e.g. an mmap'd checkpoint).
    virtual Tensor adopt(std::shared_ptr<const void> owner, const void* host, DType dtype,
                         const Shape& shape);
    // A weight only matmul (as w) and embedding (as the table) consume: a backend whose kernels read
    // 16-bit weights keeps the checkpoint's bf16/f16 as stored (half the memory and half the bytes
    // streamed per decode step); the default converts like upload/adopt.
    virtual Tensor uploadMatrix(const void* host, DType dtype, const Shape& shape) { return upload(host, dtype, shape); }
    virtual Tensor adoptMatrix(std::shared_ptr<const void> owner, const void* host, DType dtype,
                               const Shape& shape) {
        return adopt(std::move(owner), host, dtype, shape);
    }
    virtual void read(const Tensor& t, void* host) = 0;
    std::vector<float> readF32(const Tensor& t);
    std::vector<int64_t> readI64(const Tensor& t);
    Tensor fromF32(const std::vector<float>& values, const Shape& shape);
    Tensor fromI64(const std::vector<int64_t>& values, const Shape& shape);
    virtual void synchronize() {}
    // Bytes currently allocated through this backend (weights adopted from mmap excluded; memory a
    // caching allocator holds for reuse included).
    virtual size_t allocatedBytes() const = 0;
    // Allocations that reached the system allocator (or the driver) since the backend was made. A
    // caching allocator serves steady decode steps from memory freed by earlier steps, so this stops
    // growing once a job is warm; benchmarks report its per-step delta.
    virtual uint64_t systemAllocations() const { return 0; }
    // Bytes copied from the backend to the host by read() and by sampling results since the backend
    // was made (benchmarks report the per-step delta: a decode step returns ids and statistics only).
    virtual uint64_t hostReadBytes() const { return 0; }
    // Returns memory held for reuse to the system (after a job; the next job re-warms).
    virtual void releaseCached() {}
    // Memory bandwidth in bytes per second measured by copying `bytes` within the backend's memory
    // `repeats` times (device-to-device on a GPU, memcpy on the host; reads and writes both count): the
    // rate a weight-streaming decode step can at best approach. Waits for the copies. 0: not measured.
    virtual double copyBandwidth(size_t /*bytes*/, int /*repeats*/) { return 0.0; }
    // The dtype new KV caches use on this backend (f32 by default; bf16 halves cache memory and the
    // bytes attention streams, at bf16 rounding of keys and values). Throws Error for a dtype the
    // backend cannot attend over.
    virtual DType kvCacheDtype() const { return DType::F32; }
    virtual void setKvCacheDtype(DType dtype);
    // The dtype activations enter matrix products with 16-bit weights in (f32 by default). bf16 rounds
    // them to bf16 (nearest even) at each product's input, as a bf16 reference run does, and lets the
    // backend use bf16 dot-product hardware; activations stored between ops keep their dtype. Tokens can
    // differ from an f32 run, so a recipe records it. Throws Error for a dtype the backend cannot use.
    // CPU threads the backend's loops use from the next op on (0 = all it was created with). Any
    // thread may call it, also while a job runs: the studio leaves a core to the GUI this way.
    // Results never depend on it. Backends without host threads ignore it.
    virtual void setActiveThreads(int threads) { (void)threads; }
    virtual int activeThreads() const { return info().threads; }

    virtual DType activationDtype() const { return DType::F32; }
    virtual void setActivationDtype(DType dtype);

    // ---- dense ---------------------------------------------------------------------------------------
    // y = x · wᵀ (+ bias). x [..., K], w [N, K] (PyTorch Linear layout), bias [N]. Returns [..., N].
    virtual Tensor matmul(const Tensor& x, const Tensor& w, const Tensor* bias = nullptr) = 0;
    // Rows of `table` [V, D] picked by integer ids [...]. Returns [..., D] f32.
    virtual Tensor embedding(const Tensor& table, const Tensor& ids) = 0;

    // ---- elementwise ---------------------------------------------------------------------------------
    virtual Tensor activation(const Tensor& x, Activation act) = 0;
    // silu(gate) * up.
    virtual Tensor swiglu(const Tensor& gate, const Tensor& up) = 0;
    // a + b, a * b: b has a's shape or the shape of a's trailing dimensions (broadcast over rows).
    virtual Tensor add(const Tensor& a, const Tensor& b) = 0;
    virtual Tensor mul(const Tensor& a, const Tensor& b) = 0;
    virtual Tensor scale(const Tensor& x, float s) = 0;
    // Per-channel add for NCHW tensors: x [B, C, ...] + bias [C].
    virtual Tensor addChannel(const Tensor& x, const Tensor& bias) = 0;

    // ---- normalisation (over the last dimension) ----------------------------------------------------
    virtual Tensor rmsNorm(const Tensor& x, const Tensor& weight, float eps) = 0;
    // LayerNorm over the last dimension; weight/bias (optional) cover the trailing dimensions of x,
    // e.g. per-head affine [H, hd] for x [B, T, H, hd].
    virtual Tensor layerNorm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) = 0;
    // x [B, C, ...]: GroupNorm with `groups` groups and per-channel affine.
    virtual Tensor groupNorm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                             float eps) = 0;
    virtual Tensor softmax(const Tensor& x) = 0;

    // ---- positions and attention ---------------------------------------------------------------------
    // Rotary embedding, rotate-half convention: x [B, T, H, hd]; cos, sin [B, T, hd].
    virtual Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin) = 0;
    // Writes k, v [B, T, Hkv, hd] into caches [B, Hkv, T_max, hd] at position `pos`.
    virtual void kvWrite(Tensor& k_cache, Tensor& v_cache, const Tensor& k, const Tensor& v,
                         int64_t pos) = 0;
    // q [B, Tq, Hq, hd] against caches [B, Hkv, T_max, hd] holding kv_len keys (Hq % Hkv == 0).
    // Returns [B, Tq, Hq, hd]. A causal mask needs kv_len >= Tq (the queries are the last Tq positions);
    // full and explicit masks take any kv_len (cross-attention).
    virtual Tensor attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                             int64_t kv_len, const AttentionMask& mask, float scale) = 0;

    // ---- layout --------------------------------------------------------------------------------------
    // Slice [begin, end) along dimension `dim` (copy).
    virtual Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end) = 0;
    virtual Tensor concat(const Tensor& a, const Tensor& b, int dim) = 0;
    // Swap the last two dimensions: [..., M, N] -> [..., N, M].
    virtual Tensor transposeLast2(const Tensor& x) = 0;
    // Rows of x [N, ...] picked by integer index [M] -> [M, ...].
    virtual Tensor gatherRows(const Tensor& x, const std::vector<int64_t>& index) = 0;

    // ---- sampling -----------------------------------------------------------------------------------
    // Draws one token per SampleRow from logits [..., V] (rows indexed over the leading dimensions) as
    // sampling.h defines, writing ids and statistics into `out` (resized to rows.size()). Only `out`
    // reaches the host: the logits are never copied back.
    virtual void sample(const Tensor& logits, const std::vector<SampleRow>& rows, const SampleParams& params,
                        SampleResult& out) = 0;

    // ---- images (NCHW) -------------------------------------------------------------------------------
    // w [Cout, Cin, kh, kw]; bias optional [Cout].
    virtual Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) = 0;
    virtual Tensor upsampleNearest2x(const Tensor& x) = 0;
    // Explicit asymmetric zero padding (right/bottom), as VQGAN downsampling uses.
    virtual Tensor padRightBottom(const Tensor& x, int pad) = 0;

    // ---- video (frames folded into the batch: x [B·T, C, H, W], the T frames of a sample adjacent) ---
    // Both default to throwing Error ("… is not implemented on the <name> backend"); the CPU backend
    // implements them.
    // GroupNorm whose statistics run over [C/groups, T, H, W] of each sample, i.e. across its frames,
    // as torch's GroupNorm on a [B, C, T, H, W] tensor computes them; per-channel affine.
    virtual Tensor groupNormFrames(const Tensor& x, int64_t frames, int groups, const Tensor& weight,
                                   const Tensor& bias, float eps);
    // Conv3d with kernel (kt, 1, 1), stride 1 and zero padding (kt − 1)/2 along time (kt odd): w
    // [Cout, Cin, kt] (trailing 1×1 dims of a Conv3d weight may stay), bias optional [Cout].
    virtual Tensor temporalConv(const Tensor& x, int64_t frames, const Tensor& w, const Tensor* bias);
};

} // namespace tessera
