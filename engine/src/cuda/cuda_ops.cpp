// CUDA backend ops, in the order of backend.h: dense, elementwise, normalisation, positions and
// attention, layout, images. Each validates shapes like the CPU backend (same messages) and launches
// one kernel from kernels/ (or cuBLAS) on the backend's stream.
#include "cuda/cuda_backend.h"

#include "tessera/kernels/activation.cuh"
#include "tessera/kernels/attention.cuh"
#include "tessera/kernels/binary.cuh"
#include "tessera/kernels/conv2d.cuh"
#include "tessera/kernels/convert.cuh"
#include "tessera/kernels/embedding.cuh"
#include "tessera/kernels/gemv.cuh"
#include "tessera/kernels/group_norm.cuh"
#include "tessera/kernels/kv_write.cuh"
#include "tessera/kernels/layer_norm.cuh"
#include "tessera/kernels/pad.cuh"
#include "tessera/kernels/rms_norm.cuh"
#include "tessera/kernels/rope.cuh"
#include "tessera/kernels/softmax.cuh"
#include "tessera/kernels/transpose.cuh"
#include "tessera/kernels/upsample.cuh"

#include <algorithm>

namespace tessera::cuda {

namespace {

void requireF32(const Tensor& t, const char* what) {
    TS_ASSERT(t.defined(), what);
    TS_ASSERT(t.dtype() == DType::F32, what);
}

kernels::Elem elemOf(DType d) {
    switch (d) {
    case DType::BF16: return kernels::Elem::BF16;
    case DType::F16: return kernels::Elem::F16;
    default: return kernels::Elem::F32;
    }
}

} // namespace

// ---- dense ----------------------------------------------------------------------------------------------

Tensor CudaBackend::matmul(const Tensor& x, const Tensor& w, const Tensor* bias) {
    requireF32(x, "matmul input");
    TS_ASSERT(w.defined() && (w.dtype() == DType::F32 || w.dtype() == DType::BF16 || w.dtype() == DType::F16),
              "matmul weight must be f32, bf16 or f16");
    TS_ASSERT(w.rank() == 2, "matmul: weight must be [N, K]");
    const int64_t k = w.dim(1), n = w.dim(0);
    TS_ASSERT(x.dim(-1) == k, "matmul: inner dimensions differ");
    const int64_t m = x.numel() / k;
    if (bias) {
        requireF32(*bias, "matmul bias");
        TS_ASSERT(bias->numel() == n, "matmul: bias size differs from output features");
    }
    Shape out_shape = x.shape();
    out_shape.back() = n;
    Tensor y = alloc(DType::F32, out_shape);
    if (m == 0 || n == 0) return y;
    if (m <= kernels::kGemvMaxRows) {
        check(kernels::gemvRows(x.data<float>(), m, w.raw(), elemOf(w.dtype()), n, k,
                                bias ? bias->data<float>() : nullptr, y.data<float>(), stream_));
        return y;
    }
    std::string err;
    if (w.dtype() == DType::F32) {
        err = blas_.gemmXWt(m, n, k, x.raw(), w.raw(), CUDA_R_32F, y.data<float>(), n);
    } else {
        // Tensor cores take both operands in the weight's 16-bit type: the activations are rounded to it
        // (f32 accumulation), the weights are read as stored.
        const bool bf = w.dtype() == DType::BF16;
        Tensor x16 = alloc(w.dtype(), x.shape());
        check(kernels::narrowF32(x.data<float>(), bf, x16.data<uint16_t>(), x.numel(), stream_));
        err = blas_.gemmXWt(m, n, k, x16.raw(), w.raw(), bf ? CUDA_R_16BF : CUDA_R_16F, y.data<float>(), n);
    }
    if (!err.empty()) throw Error("matmul: " + err);
    if (bias)
        check(kernels::binaryF32(y.data<float>(), bias->data<float>(), y.data<float>(), y.numel(), n,
                                 kernels::BinaryOp::Add, stream_));
    return y;
}

Tensor CudaBackend::embedding(const Tensor& table, const Tensor& ids) {
    TS_ASSERT(table.defined() && (table.dtype() == DType::F32 || table.dtype() == DType::BF16 || table.dtype() == DType::F16),
              "embedding table must be f32, bf16 or f16");
    TS_ASSERT(table.rank() == 2, "embedding: table must be [V, D]");
    TS_ASSERT(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, "embedding: ids must be i64 or i32");
    const int64_t vocab = table.dim(0), d = table.dim(1), n = ids.numel();
    Shape out_shape = ids.shape();
    out_shape.push_back(d);
    Tensor y = alloc(DType::F32, out_shape);
    check(kernels::embeddingGather(table.raw(), elemOf(table.dtype()), ids.raw(), ids.dtype() == DType::I64, n, vocab,
                                   d, y.data<float>(), bad_id_, stream_));
    return y;
}

// ---- elementwise ----------------------------------------------------------------------------------------

Tensor CudaBackend::activation(const Tensor& x, Activation act) {
    requireF32(x, "activation");
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::activationF32(x.data<float>(), y.data<float>(), x.numel(),
                                 static_cast<kernels::ActKind>(static_cast<int>(act)), stream_));
    return y;
}

Tensor CudaBackend::swiglu(const Tensor& gate, const Tensor& up) {
    requireF32(gate, "swiglu gate");
    requireF32(up, "swiglu up");
    TS_ASSERT(gate.shape() == up.shape(), "swiglu: shapes differ");
    Tensor y = alloc(DType::F32, gate.shape());
    check(kernels::swigluF32(gate.data<float>(), up.data<float>(), y.data<float>(), y.numel(), stream_));
    return y;
}

Tensor CudaBackend::add(const Tensor& a, const Tensor& b) {
    requireF32(a, "binary op");
    requireF32(b, "binary op");
    TS_ASSERT(b.numel() > 0 && a.numel() % b.numel() == 0, "binary op: operand does not broadcast");
    Tensor y = alloc(DType::F32, a.shape());
    check(kernels::binaryF32(a.data<float>(), b.data<float>(), y.data<float>(), a.numel(), b.numel(),
                             kernels::BinaryOp::Add, stream_));
    return y;
}

Tensor CudaBackend::mul(const Tensor& a, const Tensor& b) {
    requireF32(a, "binary op");
    requireF32(b, "binary op");
    TS_ASSERT(b.numel() > 0 && a.numel() % b.numel() == 0, "binary op: operand does not broadcast");
    Tensor y = alloc(DType::F32, a.shape());
    check(kernels::binaryF32(a.data<float>(), b.data<float>(), y.data<float>(), a.numel(), b.numel(),
                             kernels::BinaryOp::Mul, stream_));
    return y;
}

Tensor CudaBackend::scale(const Tensor& x, float s) {
    requireF32(x, "scale");
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::scaleF32(x.data<float>(), y.data<float>(), x.numel(), s, stream_));
    return y;
}

Tensor CudaBackend::addChannel(const Tensor& x, const Tensor& bias) {
    requireF32(x, "addChannel");
    requireF32(bias, "addChannel bias");
    TS_ASSERT(x.rank() >= 2 && bias.numel() == x.dim(1), "addChannel: bias must have one value per channel");
    const int64_t batch = x.dim(0), c = x.dim(1), inner = batch * c > 0 ? x.numel() / (batch * c) : 0;
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::addChannelF32(x.data<float>(), bias.data<float>(), y.data<float>(), batch, c, inner, stream_));
    return y;
}

// ---- normalisation --------------------------------------------------------------------------------------

Tensor CudaBackend::rmsNorm(const Tensor& x, const Tensor& weight, float eps) {
    requireF32(x, "rmsNorm");
    requireF32(weight, "rmsNorm weight");
    const int64_t d = x.dim(-1), rows = d > 0 ? x.numel() / d : 0;
    TS_ASSERT(weight.numel() == d, "rmsNorm: weight size differs from the hidden size");
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::rmsNormF32(x.data<float>(), weight.data<float>(), y.data<float>(), rows, d, eps, stream_));
    return y;
}

Tensor CudaBackend::layerNorm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
    requireF32(x, "layerNorm");
    const int64_t d = x.dim(-1), rows = d > 0 ? x.numel() / d : 0;
    const int64_t affine = weight ? weight->numel() : d;
    TS_ASSERT(d > 0 && affine % d == 0 && affine > 0 && (x.numel() % affine) == 0,
              "layerNorm: affine does not match trailing dims");
    TS_ASSERT(!bias || bias->numel() == affine, "layerNorm: bias and weight sizes differ");
    if (weight) requireF32(*weight, "layerNorm weight");
    if (bias) requireF32(*bias, "layerNorm bias");
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::layerNormF32(x.data<float>(), weight ? weight->data<float>() : nullptr,
                                bias ? bias->data<float>() : nullptr, y.data<float>(), rows, d, affine / d, eps, stream_));
    return y;
}

Tensor CudaBackend::groupNorm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, float eps) {
    requireF32(x, "groupNorm");
    requireF32(weight, "groupNorm weight");
    requireF32(bias, "groupNorm bias");
    TS_ASSERT(groups > 0 && x.rank() >= 2 && x.dim(1) % groups == 0, "groupNorm: channels not divisible by groups");
    const int64_t batch = x.dim(0), c = x.dim(1), inner = batch * c > 0 ? x.numel() / (batch * c) : 0;
    TS_ASSERT(weight.numel() == c && bias.numel() == c, "groupNorm: affine must hold one value per channel");
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::groupNormF32(x.data<float>(), weight.data<float>(), bias.data<float>(), y.data<float>(), batch, c,
                                inner, groups, eps, stream_));
    return y;
}

Tensor CudaBackend::softmax(const Tensor& x) {
    requireF32(x, "softmax");
    const int64_t d = x.dim(-1), rows = d > 0 ? x.numel() / d : 0;
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::softmaxF32(x.data<float>(), y.data<float>(), rows, d, stream_));
    return y;
}

// ---- positions and attention ----------------------------------------------------------------------------

Tensor CudaBackend::rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
    requireF32(x, "rope");
    requireF32(cos, "rope cos");
    requireF32(sin, "rope sin");
    TS_ASSERT(x.rank() == 4, "rope: x must be [B, T, H, hd]");
    const int64_t batch = x.dim(0), t = x.dim(1), heads = x.dim(2), hd = x.dim(3);
    TS_ASSERT((cos.numel() == batch * t * hd || cos.numel() == t * hd) && sin.numel() == cos.numel(),
              "rope: cos/sin must be [B, T, hd] or [T, hd]");
    const bool shared = cos.numel() == t * hd && batch > 1;
    Tensor y = alloc(DType::F32, x.shape());
    check(kernels::ropeF32(x.data<float>(), cos.data<float>(), sin.data<float>(), y.data<float>(), batch, t, heads, hd,
                           shared, stream_));
    return y;
}

void CudaBackend::kvWrite(Tensor& k_cache, Tensor& v_cache, const Tensor& k, const Tensor& v, int64_t pos) {
    TS_ASSERT(k.rank() == 4 && k_cache.rank() == 4, "kvWrite: k must be [B, T, Hkv, hd], cache [B, Hkv, Tmax, hd]");
    requireF32(k, "kvWrite k");
    requireF32(v, "kvWrite v");
    TS_ASSERT(v.shape() == k.shape() && v_cache.shape() == k_cache.shape(), "kvWrite: k/v shapes differ");
    const int64_t batch = k.dim(0), t = k.dim(1), heads = k.dim(2), hd = k.dim(3), tmax = k_cache.dim(2);
    TS_ASSERT(k_cache.dim(0) == batch && k_cache.dim(1) == heads && k_cache.dim(3) == hd, "kvWrite: cache shape");
    TS_CHECK(pos >= 0 && pos + t <= tmax, "KV cache full: " + std::to_string(pos + t) + " positions needed, " +
                                              std::to_string(tmax) + " reserved");
    TS_ASSERT(k_cache.dtype() == v_cache.dtype() && (k_cache.dtype() == DType::F32 || k_cache.dtype() == DType::BF16),
              "kvWrite: caches must be f32 or bf16");
    const bool bf = k_cache.dtype() == DType::BF16;
    check(kernels::kvWrite(k_cache.raw(), bf, k.data<float>(), batch, t, heads, hd, tmax, pos, stream_));
    check(kernels::kvWrite(v_cache.raw(), bf, v.data<float>(), batch, t, heads, hd, tmax, pos, stream_));
}

Tensor CudaBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t kv_len,
                              const AttentionMask& mask, float scale) {
    requireF32(q, "attention q");
    TS_ASSERT(q.rank() == 4 && k_cache.rank() == 4, "attention: q must be [B, Tq, Hq, hd]");
    kernels::AttentionShape s;
    s.batch = q.dim(0);
    s.tq = q.dim(1);
    s.hq = q.dim(2);
    s.hd = q.dim(3);
    s.hkv = k_cache.dim(1);
    s.tmax = k_cache.dim(2);
    s.kv_len = kv_len;
    TS_ASSERT(s.hkv > 0 && s.hq % s.hkv == 0 && k_cache.dim(3) == s.hd && kv_len <= s.tmax && kv_len >= s.tq &&
                      k_cache.dim(0) == s.batch && v_cache.shape() == k_cache.shape(),
              "attention: shapes");
    TS_ASSERT(k_cache.dtype() == v_cache.dtype() && (k_cache.dtype() == DType::F32 || k_cache.dtype() == DType::BF16),
              "attention: caches must be f32 or bf16");
    TS_CHECK(s.hd <= kernels::kAttentionMaxHeadDim, "attention: the CUDA backend supports head dimensions up to 256");
    s.cache_bf16 = k_cache.dtype() == DType::BF16;
    s.scale = scale;
    s.mask_kind = mask.kind == AttentionMask::Kind::Causal ? 0 : mask.kind == AttentionMask::Kind::Full ? 1 : 2;
    if (mask.kind == AttentionMask::Kind::Explicit) {
        TS_ASSERT(mask.allowed.dtype() == DType::U8, "attention: explicit mask must be u8");
        TS_ASSERT(mask.allowed.dim(-1) == kv_len && mask.allowed.dim(-2) == s.tq, "attention: mask shape");
        TS_ASSERT(&mask.allowed.backend() == this, "attention: the mask must live on the CUDA backend");
        s.mask_per_batch = mask.allowed.rank() == 3;
        s.mask = mask.allowed.data<uint8_t>();
    }
    Tensor y = alloc(DType::F32, q.shape());
    Tensor scratch = alloc(DType::F32, {std::max<int64_t>(1, kernels::attentionScratchFloats(s))});
    check(kernels::attentionF32(q.data<float>(), k_cache.raw(), v_cache.raw(), s, scratch.data<float>(),
                                y.data<float>(), stream_));
    return y;
}

// ---- layout ---------------------------------------------------------------------------------------------

Tensor CudaBackend::slice(const Tensor& x, int dim, int64_t begin, int64_t end) {
    if (dim < 0) dim += x.rank();
    TS_ASSERT(dim >= 0 && dim < x.rank() && begin >= 0 && begin <= end && end <= x.dim(dim), "slice: range");
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= x.dim(i);
    for (int i = dim + 1; i < x.rank(); ++i) inner *= x.dim(i);
    Shape s = x.shape();
    s[static_cast<size_t>(dim)] = end - begin;
    Tensor y = alloc(x.dtype(), s);
    const size_t es = dtypeSize(x.dtype());
    const size_t width = static_cast<size_t>((end - begin) * inner) * es;
    if (width && outer)
        check(cudaMemcpy2DAsync(y.raw(), width, static_cast<const char*>(x.raw()) + begin * inner * es,
                                static_cast<size_t>(x.dim(dim) * inner) * es, width, static_cast<size_t>(outer),
                                cudaMemcpyDeviceToDevice, stream_),
              "slice");
    return y;
}

Tensor CudaBackend::concat(const Tensor& a, const Tensor& b, int dim) {
    if (dim < 0) dim += a.rank();
    TS_ASSERT(a.rank() == b.rank() && a.dtype() == b.dtype(), "concat: rank or dtype differ");
    for (int i = 0; i < a.rank(); ++i) TS_ASSERT(i == dim || a.dim(i) == b.dim(i), "concat: shapes differ");
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= a.dim(i);
    for (int i = dim + 1; i < a.rank(); ++i) inner *= a.dim(i);
    Shape s = a.shape();
    s[static_cast<size_t>(dim)] += b.dim(dim);
    Tensor y = alloc(a.dtype(), s);
    const size_t es = dtypeSize(a.dtype());
    const size_t ab = static_cast<size_t>(a.dim(dim) * inner) * es, bb = static_cast<size_t>(b.dim(dim) * inner) * es;
    char* yp = static_cast<char*>(y.raw());
    if (ab && outer)
        check(cudaMemcpy2DAsync(yp, ab + bb, a.raw(), ab, ab, static_cast<size_t>(outer), cudaMemcpyDeviceToDevice,
                                stream_),
              "concat");
    if (bb && outer)
        check(cudaMemcpy2DAsync(yp + ab, ab + bb, b.raw(), bb, bb, static_cast<size_t>(outer), cudaMemcpyDeviceToDevice,
                                stream_),
              "concat");
    return y;
}

Tensor CudaBackend::transposeLast2(const Tensor& x) {
    requireF32(x, "transposeLast2");
    TS_ASSERT(x.rank() >= 2, "transposeLast2: rank below 2");
    const int64_t m = x.dim(-2), n = x.dim(-1), outer = m * n > 0 ? x.numel() / (m * n) : 0;
    Shape s = x.shape();
    std::swap(s[s.size() - 1], s[s.size() - 2]);
    Tensor y = alloc(DType::F32, s);
    check(kernels::transposeLast2F32(x.data<float>(), y.data<float>(), outer, m, n, stream_));
    return y;
}

Tensor CudaBackend::gatherRows(const Tensor& x, const std::vector<int64_t>& index) {
    const int64_t rows = x.dim(0), row_bytes = static_cast<int64_t>(x.bytes()) / std::max<int64_t>(rows, 1);
    Shape s = x.shape();
    s[0] = static_cast<int64_t>(index.size());
    Tensor y = alloc(x.dtype(), s);
    for (size_t i = 0; i < index.size(); ++i) {
        TS_ASSERT(index[i] >= 0 && index[i] < rows, "gatherRows: index out of range");
        if (row_bytes)
            check(cudaMemcpyAsync(static_cast<char*>(y.raw()) + static_cast<int64_t>(i) * row_bytes,
                                  static_cast<const char*>(x.raw()) + index[i] * row_bytes,
                                  static_cast<size_t>(row_bytes), cudaMemcpyDeviceToDevice, stream_),
                  "gatherRows");
    }
    return y;
}

// ---- images ---------------------------------------------------------------------------------------------

Tensor CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) {
    requireF32(x, "conv2d input");
    requireF32(w, "conv2d weight");
    TS_ASSERT(x.rank() == 4 && w.rank() == 4 && x.dim(1) == w.dim(1), "conv2d: x [B,Cin,H,W], w [Cout,Cin,kh,kw]");
    TS_ASSERT(stride >= 1 && pad >= 0, "conv2d: stride must be >= 1 and pad >= 0");
    kernels::Conv2dShape s;
    const int64_t batch = x.dim(0), cout = w.dim(0);
    s.cin = x.dim(1);
    s.h = x.dim(2);
    s.w = x.dim(3);
    s.kh = w.dim(2);
    s.kw = w.dim(3);
    s.stride = stride;
    s.pad = pad;
    TS_ASSERT(s.h + 2 * pad >= s.kh && s.w + 2 * pad >= s.kw, "conv2d: kernel larger than the padded input");
    if (bias) {
        requireF32(*bias, "conv2d bias");
        TS_ASSERT(bias->numel() == cout, "conv2d: bias must hold one value per output channel");
    }
    s.ho = (s.h + 2 * pad - s.kh) / stride + 1;
    s.wo = (s.w + 2 * pad - s.kw) / stride + 1;
    Tensor y = alloc(DType::F32, {batch, cout, s.ho, s.wo});
    const int64_t kdim = s.cin * s.kh * s.kw, npix = s.ho * s.wo;
    const bool pointwise = s.kh == 1 && s.kw == 1 && stride == 1 && pad == 0;
    // im2col tiles of at most 64 MiB keep scratch bounded for large images.
    const int64_t tile = std::max<int64_t>(
            1, std::min<int64_t>(npix, (int64_t(64) << 20) / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(kdim, 1))));
    Tensor col;
    if (!pointwise) col = alloc(DType::F32, {kdim * tile});
    for (int64_t b = 0; b < batch; ++b) {
        const float* xb = x.data<float>() + b * s.cin * s.h * s.w;
        float* yb = y.data<float>() + b * cout * npix;
        for (int64_t p0 = 0; p0 < npix; p0 += tile) {
            const int64_t n = std::min(tile, npix - p0);
            const float* src = xb + p0;
            int64_t ldb = npix;
            if (!pointwise) {
                check(kernels::im2colTile(xb, s, p0, n, col.data<float>(), stream_));
                src = col.data<float>();
                ldb = n;
            }
            const std::string err = blas_.sgemmRowMajor(cout, n, kdim, w.data<float>(), src, ldb, yb + p0, npix);
            if (!err.empty()) throw Error("conv2d: " + err);
        }
    }
    if (bias) return addChannel(y, *bias);
    return y;
}

Tensor CudaBackend::upsampleNearest2x(const Tensor& x) {
    requireF32(x, "upsample");
    TS_ASSERT(x.rank() == 4, "upsample: x must be [B, C, H, W]");
    const int64_t bc = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    Tensor y = alloc(DType::F32, {x.dim(0), x.dim(1), 2 * h, 2 * w});
    check(kernels::upsampleNearest2xF32(x.data<float>(), y.data<float>(), bc, h, w, stream_));
    return y;
}

Tensor CudaBackend::padRightBottom(const Tensor& x, int pad) {
    requireF32(x, "pad");
    TS_ASSERT(x.rank() == 4 && pad >= 0, "pad: x must be [B, C, H, W] and pad >= 0");
    const int64_t bc = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    Tensor y = alloc(DType::F32, {x.dim(0), x.dim(1), h + pad, w + pad});
    check(kernels::padRightBottomF32(x.data<float>(), y.data<float>(), bc, h, w, pad, stream_));
    return y;
}

} // namespace tessera::cuda
