// CPU backend: NCHW image ops (convolution via im2col + GEMM, upsampling, padding).
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_gemv.h"

#include <cstring>
#include <vector>

namespace tessera::cpu {

Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) {
    requireF32(x, "conv2d input");
    requireF32(w, "conv2d weight");
    TS_ASSERT(x.rank() == 4 && w.rank() == 4 && x.dim(1) == w.dim(1),
              "conv2d: x [B,Cin,H,W], w [Cout,Cin,kh,kw]");
    const int64_t batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
    const int64_t cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
    const int64_t ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
    Tensor y = alloc(DType::F32, {batch, cout, ho, wo});
    const int64_t kdim = cin * kh * kw, npix = ho * wo;
    const bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    std::vector<float> col(pointwise ? 0 : static_cast<size_t>(kdim * npix));
    for (int64_t b = 0; b < batch; ++b) {
        const float* xb = x.data<float>() + b * cin * h * wd;
        const float* src = xb;
        if (!pointwise) {
            pool_.parallelFor(kdim, 1, [&](int64_t s, int64_t e) {
                for (int64_t r = s; r < e; ++r) {
                    const int64_t c = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
                    float* dst = col.data() + r * npix;
                    for (int64_t oy = 0; oy < ho; ++oy) {
                        const int64_t iy = oy * stride - pad + ky;
                        for (int64_t ox = 0; ox < wo; ++ox) {
                            const int64_t ix = ox * stride - pad + kx;
                            dst[oy * wo + ox] =
                                (iy >= 0 && iy < h && ix >= 0 && ix < wd) ? xb[(c * h + iy) * wd + ix] : 0.0f;
                        }
                    }
                }
            });
            src = col.data();
        }
        float* yb = y.data<float>() + b * cout * npix;
        sgemmColumns(pool_, cout, npix, kdim, w.data<float>(), src, false, yb, npix);
        if (bias) {
            const float* bp = bias->data<float>();
            for (int64_t c = 0; c < cout; ++c)
                for (int64_t p = 0; p < npix; ++p) yb[c * npix + p] += bp[c];
        }
    }
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
