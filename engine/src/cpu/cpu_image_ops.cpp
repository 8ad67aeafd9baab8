// CPU backend: NCHW image ops (convolution as tiled im2col + GEMM, upsampling, padding).
//
// conv2d never builds the im2col matrix of a whole image (about 19 GB for one 3x3 conv at 2048²). The
// output pixels of each image are cut into fixed tiles of convTileColumns() consecutive pixels (raster
// order); a tile's im2col block [Cin·kh·kw, tile] is built in a scratch buffer owned by the pool chunk
// that runs it, and one single-threaded OpenBLAS sgemm writes the tile's output columns. The tiling
// depends only on the conv's shape, never on the thread count, so every output element is computed by
// the same arithmetic on any number of threads. 1x1 convs with stride 1 and no padding read the input
// in place and need no scratch.
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"

#include <cblas.h>

#include <cstring>
#include <memory>

namespace tessera::cpu {

namespace {

// Fills col [kdim, n] (row stride n) with the im2col block of output pixels [p0, p0 + n) of one image.
void im2colTile(const float* xb, int64_t cin, int64_t h, int64_t wd, int64_t kh, int64_t kw, int stride,
                int pad, int64_t wo, int64_t p0, int64_t n, float* col) {
    const int64_t kdim = cin * kh * kw;
    for (int64_t r = 0; r < kdim; ++r) {
        const int64_t c = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
        float* dst = col + r * n;
        int64_t oy = p0 / wo, ox = p0 % wo;
        for (int64_t done = 0; done < n;) {
            const int64_t seg = std::min(wo - ox, n - done); // pixels left in this output row
            const int64_t iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) {
                std::memset(dst, 0, static_cast<size_t>(seg) * sizeof(float));
            } else {
                const float* row = xb + (c * h + iy) * wd;
                // Output columns [lo, hi) of the segment read inside the row; the rest are padding.
                const int64_t first_ix = ox * stride - pad + kx;
                int64_t lo = 0, hi = seg;
                if (first_ix < 0) lo = std::min(seg, (-first_ix + stride - 1) / stride);
                const int64_t last_ok = wd - 1 - first_ix; // largest i*stride still inside
                hi = last_ok < 0 ? 0 : std::min(seg, last_ok / stride + 1);
                if (hi < lo) hi = lo;
                for (int64_t i = 0; i < lo; ++i) dst[i] = 0.0f;
                if (stride == 1) {
                    if (hi > lo)
                        std::memcpy(dst + lo, row + first_ix + lo, static_cast<size_t>(hi - lo) * sizeof(float));
                } else {
                    for (int64_t i = lo; i < hi; ++i) dst[i] = row[first_ix + i * stride];
                }
                for (int64_t i = hi; i < seg; ++i) dst[i] = 0.0f;
            }
            dst += seg;
            done += seg;
            ox = 0;
            ++oy;
        }
    }
}

} // namespace

int64_t CpuBackend::convTileColumns(int64_t kdim, int64_t npix) {
    constexpr int64_t kAlign = 64;
    const int64_t by_budget =
        std::max<int64_t>(kAlign, static_cast<int64_t>(kConvScratchBudgetBytes / sizeof(float)) / kdim / kAlign * kAlign);
    // Small images still split into several tiles so every thread of a large pool gets work.
    const int64_t by_size = std::max<int64_t>(kAlign, (npix / 16 + kAlign - 1) / kAlign * kAlign);
    return std::min(by_budget, by_size);
}

size_t CpuBackend::convScratchBoundBytes(int64_t kdim) {
    return std::max(kConvScratchBudgetBytes, static_cast<size_t>(kdim) * 64 * sizeof(float));
}

void CpuBackend::resetConvScratchPeak() {
    conv_scratch_peak_.store(conv_scratch_now_.load());
}

Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) {
    requireF32(x, "conv2d input");
    requireF32(w, "conv2d weight");
    TS_ASSERT(x.rank() == 4 && w.rank() == 4 && x.dim(1) == w.dim(1),
              "conv2d: x [B,Cin,H,W], w [Cout,Cin,kh,kw]");
    TS_ASSERT(stride >= 1 && pad >= 0, "conv2d: stride must be >= 1 and pad >= 0");
    const int64_t batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
    const int64_t cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
    TS_ASSERT(h + 2 * pad >= kh && wd + 2 * pad >= kw, "conv2d: kernel larger than the padded input");
    if (bias) {
        requireF32(*bias, "conv2d bias");
        TS_ASSERT(bias->numel() == cout, "conv2d: bias must hold one value per output channel");
    }
    const int64_t ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
    Tensor y = alloc(DType::F32, {batch, cout, ho, wo});
    const int64_t kdim = cin * kh * kw, npix = ho * wo;
    const bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    const int64_t tile = convTileColumns(kdim, npix);
    const int64_t tiles_per_image = (npix + tile - 1) / tile;
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    const float* bp = bias ? bias->data<float>() : nullptr;
    float* yp = y.data<float>();
    pool_.parallelFor(batch * tiles_per_image, 1, [&](int64_t first, int64_t last) {
        // One scratch block per pool chunk (at most one chunk per thread runs at a time).
        std::unique_ptr<float[]> col;
        size_t held = 0;
        if (!pointwise) {
            held = static_cast<size_t>(kdim * std::min(tile, npix)) * sizeof(float);
            col.reset(new float[static_cast<size_t>(kdim * std::min(tile, npix))]);
            const size_t now = conv_scratch_now_.fetch_add(held) + held;
            size_t peak = conv_scratch_peak_.load();
            while (now > peak && !conv_scratch_peak_.compare_exchange_weak(peak, now)) {
            }
        }
        for (int64_t t = first; t < last; ++t) {
            const int64_t b = t / tiles_per_image, p0 = (t % tiles_per_image) * tile;
            const int64_t n = std::min(tile, npix - p0);
            const float* xb = xp + b * cin * h * wd;
            float* yb = yp + b * cout * npix;
            const float* src;
            int64_t ldb;
            if (pointwise) {
                src = xb + p0;
                ldb = npix;
            } else {
                im2colTile(xb, cin, h, wd, kh, kw, stride, pad, wo, p0, n, col.get());
                src = col.get();
                ldb = n;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(cout), static_cast<int>(n),
                        static_cast<int>(kdim), 1.0f, wp, static_cast<int>(kdim), src, static_cast<int>(ldb),
                        0.0f, yb + p0, static_cast<int>(npix));
            if (bp)
                for (int64_t c = 0; c < cout; ++c) {
                    float* row = yb + c * npix + p0;
                    for (int64_t i = 0; i < n; ++i) row[i] += bp[c];
                }
        }
        if (held) conv_scratch_now_.fetch_sub(held);
    });
    return y;
}

Tensor CpuBackend::upsampleNearest2x(const Tensor& x) {
    requireF32(x, "upsample");
    const int64_t bc = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    Tensor y = alloc(DType::F32, {x.dim(0), x.dim(1), 2 * h, 2 * w});
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    for (int64_t p = 0; p < bc; ++p)
        for (int64_t oy = 0; oy < 2 * h; ++oy)
            for (int64_t ox = 0; ox < 2 * w; ++ox)
                yp[(p * 2 * h + oy) * 2 * w + ox] = xp[(p * h + oy / 2) * w + ox / 2];
    return y;
}

Tensor CpuBackend::padRightBottom(const Tensor& x, int pad) {
    requireF32(x, "pad");
    const int64_t bc = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    Tensor y = alloc(DType::F32, {x.dim(0), x.dim(1), h + pad, w + pad});
    std::memset(y.raw(), 0, y.bytes());
    for (int64_t p = 0; p < bc; ++p)
        for (int64_t r = 0; r < h; ++r)
            std::memcpy(y.data<float>() + (p * (h + pad) + r) * (w + pad), x.data<float>() + (p * h + r) * w,
                        static_cast<size_t>(w) * 4);
    return y;
}

} // namespace tessera::cpu
