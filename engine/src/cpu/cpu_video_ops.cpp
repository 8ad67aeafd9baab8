// CPU backend: ops over video activations whose frames are folded into the batch ([B·T, C, H, W]):
// GroupNorm with statistics across a sample's frames, and the (kt, 1, 1) temporal convolution.
//
// temporalConv is kt GEMMs per output frame, each a 1×1 conv of one (time-shifted) input frame with one
// tap of the kernel, accumulated by sgemm (beta = 1). Work splits by output frame, so every element is
// computed by the same arithmetic on any number of threads.
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"

#include <cblas.h>

#include <vector>

namespace tessera::cpu {

Tensor CpuBackend::groupNormFrames(const Tensor& x, int64_t frames, int groups, const Tensor& weight,
                                   const Tensor& bias, float eps) {
    requireF32(x, "groupNormFrames");
    TS_ASSERT(x.rank() >= 2 && frames >= 1 && x.dim(0) % frames == 0,
              "groupNormFrames: x must be [B*T, C, ...] with T frames per sample");
    TS_ASSERT(groups >= 1 && x.dim(1) % groups == 0, "groupNormFrames: channels not divisible by groups");
    const int64_t batch = x.dim(0) / frames, c = x.dim(1), inner = x.numel() / (x.dim(0) * c), cpg = c / groups;
    TS_ASSERT(weight.numel() == c && bias.numel() == c, "groupNormFrames: affine must hold one value per channel");
    Tensor y = alloc(DType::F32, x.shape());
    const float *xp = x.data<float>(), *wp = weight.data<float>(), *bp = bias.data<float>();
    float* yp = y.data<float>();
    pool_.parallelFor(batch * groups, 1, [&](int64_t s, int64_t e) {
        for (int64_t bg = s; bg < e; ++bg) {
            const int64_t b = bg / groups, g = bg % groups;
            const int64_t n = cpg * inner * frames;
            auto plane = [&](int64_t t, int64_t ch) { return (((b * frames + t) * c) + g * cpg + ch) * inner; };
            double mean = 0, var = 0;
            for (int64_t t = 0; t < frames; ++t)
                for (int64_t ch = 0; ch < cpg; ++ch) {
                    const float* p = xp + plane(t, ch);
                    for (int64_t i = 0; i < inner; ++i) mean += p[i];
                }
            mean /= static_cast<double>(n);
            for (int64_t t = 0; t < frames; ++t)
                for (int64_t ch = 0; ch < cpg; ++ch) {
                    const float* p = xp + plane(t, ch);
                    for (int64_t i = 0; i < inner; ++i) var += (p[i] - mean) * (p[i] - mean);
                }
            var /= static_cast<double>(n);
            const float inv = static_cast<float>(1.0 / std::sqrt(var + eps)), m = static_cast<float>(mean);
            for (int64_t t = 0; t < frames; ++t)
                for (int64_t ch = 0; ch < cpg; ++ch) {
                    const int64_t cc = g * cpg + ch, off = plane(t, ch);
                    for (int64_t i = 0; i < inner; ++i) yp[off + i] = (xp[off + i] - m) * inv * wp[cc] + bp[cc];
                }
        }
    });
    return y;
}

Tensor CpuBackend::temporalConv(const Tensor& x, int64_t frames, const Tensor& w, const Tensor* bias) {
    requireF32(x, "temporalConv input");
    requireF32(w, "temporalConv weight");
    TS_ASSERT(x.rank() >= 2 && frames >= 1 && x.dim(0) % frames == 0,
              "temporalConv: x must be [B*T, Cin, ...] with T frames per sample");
    TS_ASSERT(w.rank() >= 3 && w.dim(1) == x.dim(1), "temporalConv: w must be [Cout, Cin, kt(, 1, 1)]");
    for (int i = 3; i < w.rank(); ++i) TS_ASSERT(w.dim(i) == 1, "temporalConv: only (kt, 1, 1) kernels");
    const int64_t cout = w.dim(0), cin = w.dim(1), kt = w.dim(2), pad = (kt - 1) / 2;
    TS_ASSERT(kt % 2 == 1, "temporalConv: the temporal kernel size must be odd");
    if (bias) {
        requireF32(*bias, "temporalConv bias");
        TS_ASSERT(bias->numel() == cout, "temporalConv: bias must hold one value per output channel");
    }
    const int64_t n = x.dim(0), inner = x.numel() / (n * cin);
    Shape out_shape = x.shape();
    out_shape[1] = cout;
    Tensor y = alloc(DType::F32, out_shape);
    // Taps repacked as kt contiguous [Cout, Cin] matrices.
    std::vector<float> taps(static_cast<size_t>(kt * cout * cin));
    const float* wp = w.data<float>();
    for (int64_t o = 0; o < cout; ++o)
        for (int64_t i = 0; i < cin; ++i)
            for (int64_t j = 0; j < kt; ++j)
                taps[static_cast<size_t>((j * cout + o) * cin + i)] = wp[(o * cin + i) * kt + j];
    const float* xp = x.data<float>();
    const float* bp = bias ? bias->data<float>() : nullptr;
    float* yp = y.data<float>();
    pool_.parallelFor(n, 1, [&](int64_t s, int64_t e) {
        for (int64_t f = s; f < e; ++f) {
            const int64_t t = f % frames, sample0 = f - t;
            float* yf = yp + f * cout * inner;
            for (int64_t o = 0; o < cout; ++o)
                for (int64_t i = 0; i < inner; ++i) yf[o * inner + i] = bp ? bp[o] : 0.0f;
            for (int64_t j = 0; j < kt; ++j) {
                const int64_t src = t + j - pad;
                if (src < 0 || src >= frames) continue;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(cout),
                            static_cast<int>(inner), static_cast<int>(cin), 1.0f,
                            taps.data() + j * cout * cin, static_cast<int>(cin),
                            xp + (sample0 + src) * cin * inner, static_cast<int>(inner), 1.0f, yf,
                            static_cast<int>(inner));
            }
        }
    });
    return y;
}

} // namespace tessera::cpu
