// Tape ops of the image tokenizer family on x [B, C, H, W]: conv2d, GroupNorm, nearest 2x upsample,
// channel layout changes, and vector quantisation with the straight-through estimator.
#include "tessera/engine/train.h"
#include "train/blas.h"

#include <cmath>
#include <limits>

namespace tessera::train {

using detail::gemm;

namespace {

Shape checkImage(const Shape& s, const char* op) {
    TS_CHECK(s.size() == 4, std::string(op) + ": input must be [B, C, H, W], got " + shapeString(s));
    return s;
}

// Column matrix [C·kh·kw, Ho·Wo] of one image (zero padding).
template <class Real>
void im2col(const Real* x, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int stride, int pad,
            int64_t ho, int64_t wo, Real* col) {
    for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t a = 0; a < kh; ++a)
            for (int64_t e = 0; e < kw; ++e) {
                Real* dst = col + ((ci * kh + a) * kw + e) * ho * wo;
                for (int64_t oy = 0; oy < ho; ++oy) {
                    const int64_t iy = oy * stride - pad + a;
                    for (int64_t ox = 0; ox < wo; ++ox) {
                        const int64_t ix = ox * stride - pad + e;
                        dst[oy * wo + ox] =
                            (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[(ci * h + iy) * w + ix] : Real(0);
                    }
                }
            }
}

// Adds a column matrix back onto the image it was gathered from (the transpose of im2col).
template <class Real>
void col2imAdd(const Real* col, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int stride, int pad,
               int64_t ho, int64_t wo, Real* x) {
    for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t a = 0; a < kh; ++a)
            for (int64_t e = 0; e < kw; ++e) {
                const Real* src = col + ((ci * kh + a) * kw + e) * ho * wo;
                for (int64_t oy = 0; oy < ho; ++oy) {
                    const int64_t iy = oy * stride - pad + a;
                    if (iy < 0 || iy >= h) continue;
                    for (int64_t ox = 0; ox < wo; ++ox) {
                        const int64_t ix = ox * stride - pad + e;
                        if (ix >= 0 && ix < w) x[(ci * h + iy) * w + ix] += src[oy * wo + ox];
                    }
                }
            }
}

} // namespace

template <class Real> Var Tape<Real>::conv2d(Var x, Var w, Var bias, int stride, int pad) {
    const Shape xs = checkImage(shape(x), "conv2d");
    const Shape& ws = shape(w);
    TS_CHECK(ws.size() == 4 && ws[1] == xs[1],
             "conv2d: weight " + shapeString(ws) + " does not take input " + shapeString(xs));
    TS_CHECK(stride >= 1 && pad >= 0, "conv2d: stride must be >= 1 and padding >= 0");
    const int64_t b = xs[0], c = xs[1], h = xs[2], wd = xs[3], o = ws[0], kh = ws[2], kw = ws[3];
    TS_CHECK(h + 2 * pad >= kh && wd + 2 * pad >= kw, "conv2d: kernel larger than the padded input");
    const int64_t ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
    const int64_t kdim = c * kh * kw, pix = ho * wo;
    if (bias.defined()) TS_CHECK(shape(bias) == Shape{o}, "conv2d: bias " + shapeString(shape(bias)));
    std::vector<Real> y(static_cast<size_t>(b * o * pix)), col(static_cast<size_t>(kdim * pix));
    for (int64_t bi = 0; bi < b; ++bi) {
        im2col(value(x).data() + bi * c * h * wd, c, h, wd, kh, kw, stride, pad, ho, wo, col.data());
        Real* yb = y.data() + bi * o * pix;
        gemm(false, false, o, pix, kdim, Real(1), value(w).data(), kdim, col.data(), pix, Real(0), yb, pix);
        if (bias.defined())
            for (int64_t oc = 0; oc < o; ++oc)
                for (int64_t p = 0; p < pix; ++p) yb[oc * pix + p] += value(bias)[oc];
    }
    return push({b, o, ho, wo}, std::move(y), [=](Tape& t, Node& n) {
        std::vector<Real> col(static_cast<size_t>(kdim * pix)), dcol(col.size());
        auto& gx = t.gradOf(x);
        auto& gw = t.gradOf(w);
        for (int64_t bi = 0; bi < b; ++bi) {
            const Real* dy = n.grad.data() + bi * o * pix;
            im2col(t.value(x).data() + bi * c * h * wd, c, h, wd, kh, kw, stride, pad, ho, wo, col.data());
            gemm(false, true, o, kdim, pix, Real(1), dy, pix, col.data(), pix, Real(1), gw.data(), kdim);
            gemm(true, false, kdim, pix, o, Real(1), t.value(w).data(), kdim, dy, pix, Real(0), dcol.data(),
                 pix);
            col2imAdd(dcol.data(), c, h, wd, kh, kw, stride, pad, ho, wo, gx.data() + bi * c * h * wd);
            if (bias.defined()) {
                auto& gb = t.gradOf(bias);
                for (int64_t oc = 0; oc < o; ++oc)
                    for (int64_t p = 0; p < pix; ++p) gb[oc] += dy[oc * pix + p];
            }
        }
    });
}

template <class Real> Var Tape<Real>::groupNorm(Var x, int groups, Var weight, Var bias, Real eps) {
    const Shape xs = checkImage(shape(x), "groupNorm");
    const int64_t b = xs[0], c = xs[1], hw = xs[2] * xs[3];
    TS_CHECK(groups > 0 && c % groups == 0, "groupNorm: " + std::to_string(c) +
                                                " channels do not split into " + std::to_string(groups) +
                                                " groups");
    TS_CHECK(shape(weight) == Shape{c} && shape(bias) == Shape{c}, "groupNorm: affine must be [C]");
    const int64_t cg = c / groups, n_el = cg * hw;
    const auto& vx = value(x);
    std::vector<Real> y(vx.size()), xhat(vx.size()), inv(static_cast<size_t>(b * groups));
    for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t off = (bi * c + g * cg) * hw;
            Real mean = 0, var = 0;
            for (int64_t i = 0; i < n_el; ++i) mean += vx[off + i];
            mean /= Real(n_el);
            for (int64_t i = 0; i < n_el; ++i) var += (vx[off + i] - mean) * (vx[off + i] - mean);
            var /= Real(n_el);
            const Real r = Real(1) / std::sqrt(var + eps);
            inv[bi * groups + g] = r;
            for (int64_t i = 0; i < n_el; ++i) {
                const int64_t ch = g * cg + i / hw;
                xhat[off + i] = (vx[off + i] - mean) * r;
                y[off + i] = xhat[off + i] * value(weight)[ch] + value(bias)[ch];
            }
        }
    return push(xs, std::move(y), [=](Tape& t, Node& n) {
        const auto& vw = t.value(weight);
        auto& gx = t.gradOf(x);
        auto& gw = t.gradOf(weight);
        auto& gb = t.gradOf(bias);
        for (int64_t bi = 0; bi < b; ++bi)
            for (int64_t g = 0; g < groups; ++g) {
                const int64_t off = (bi * c + g * cg) * hw;
                Real mg = 0, mgx = 0;
                for (int64_t i = 0; i < n_el; ++i) {
                    const int64_t ch = g * cg + i / hw;
                    const Real dy = n.grad[off + i];
                    gw[ch] += dy * xhat[off + i];
                    gb[ch] += dy;
                    mg += dy * vw[ch];
                    mgx += dy * vw[ch] * xhat[off + i];
                }
                mg /= Real(n_el);
                mgx /= Real(n_el);
                const Real r = inv[bi * groups + g];
                for (int64_t i = 0; i < n_el; ++i) {
                    const int64_t ch = g * cg + i / hw;
                    gx[off + i] += r * (n.grad[off + i] * vw[ch] - mg - xhat[off + i] * mgx);
                }
            }
    });
}

template <class Real> Var Tape<Real>::upsampleNearest2x(Var x) {
    const Shape xs = checkImage(shape(x), "upsampleNearest2x");
    const int64_t planes = xs[0] * xs[1], h = xs[2], w = xs[3];
    const auto& vx = value(x);
    std::vector<Real> y(vx.size() * 4);
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < 2 * h; ++i)
            for (int64_t j = 0; j < 2 * w; ++j)
                y[(p * 2 * h + i) * 2 * w + j] = vx[(p * h + i / 2) * w + j / 2];
    return push({xs[0], xs[1], 2 * h, 2 * w}, std::move(y), [x, planes, h, w](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (int64_t p = 0; p < planes; ++p)
            for (int64_t i = 0; i < 2 * h; ++i)
                for (int64_t j = 0; j < 2 * w; ++j)
                    g[(p * h + i / 2) * w + j / 2] += n.grad[(p * 2 * h + i) * 2 * w + j];
    });
}

template <class Real> Var Tape<Real>::channelsLast(Var x) {
    const Shape xs = checkImage(shape(x), "channelsLast");
    const int64_t b = xs[0], c = xs[1], hw = xs[2] * xs[3];
    const auto& vx = value(x);
    std::vector<Real> y(vx.size());
    for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t p = 0; p < hw; ++p) y[(bi * hw + p) * c + ci] = vx[(bi * c + ci) * hw + p];
    return push({b * hw, c}, std::move(y), [x, b, c, hw](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (int64_t bi = 0; bi < b; ++bi)
            for (int64_t ci = 0; ci < c; ++ci)
                for (int64_t p = 0; p < hw; ++p) g[(bi * c + ci) * hw + p] += n.grad[(bi * hw + p) * c + ci];
    });
}

template <class Real> Var Tape<Real>::channelsFirst(Var x, int64_t batch, int64_t height, int64_t width) {
    const Shape& xs = shape(x);
    const int64_t hw = height * width;
    TS_CHECK(xs.size() == 2 && batch > 0 && hw > 0 && xs[0] == batch * hw,
             "channelsFirst: " + shapeString(xs) + " is not [B·H·W, C] for the given sizes");
    const int64_t c = xs[1];
    const auto& vx = value(x);
    std::vector<Real> y(vx.size());
    for (int64_t bi = 0; bi < batch; ++bi)
        for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t p = 0; p < hw; ++p) y[(bi * c + ci) * hw + p] = vx[(bi * hw + p) * c + ci];
    return push({batch, c, height, width}, std::move(y), [x, batch, c, hw](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (int64_t bi = 0; bi < batch; ++bi)
            for (int64_t ci = 0; ci < c; ++ci)
                for (int64_t p = 0; p < hw; ++p) g[(bi * hw + p) * c + ci] += n.grad[(bi * c + ci) * hw + p];
    });
}

template <class Real> typename Tape<Real>::Quantized Tape<Real>::vectorQuantize(Var z, Var codebook) {
    const Shape &zs = shape(z), &cs = shape(codebook);
    TS_CHECK(zs.size() == 2 && cs.size() == 2 && zs[1] == cs[1] && cs[0] > 0,
             "vectorQuantize: z " + shapeString(zs) + " and codebook " + shapeString(cs) +
                 " must be [N, D] and [K, D]");
    const int64_t rows = zs[0], d = zs[1], k = cs[0];
    const auto &vz = value(z), &vc = value(codebook);
    Quantized out;
    out.indices.resize(static_cast<size_t>(rows));
    std::vector<Real> q(vz.size());
    for (int64_t r = 0; r < rows; ++r) {
        Real best = std::numeric_limits<Real>::infinity();
        int64_t arg = 0;
        for (int64_t j = 0; j < k; ++j) {
            Real dist = 0;
            for (int64_t e = 0; e < d; ++e) {
                const Real diff = vz[r * d + e] - vc[j * d + e];
                dist += diff * diff;
            }
            if (dist < best) {
                best = dist;
                arg = j;
            }
        }
        out.indices[r] = arg;
        std::copy_n(vc.begin() + arg * d, d, q.begin() + r * d);
    }
    out.straight_through = push(zs, q, [z](Tape& t, Node& n) {
        auto& g = t.gradOf(z);
        for (size_t i = 0; i < g.size(); ++i) g[i] += n.grad[i];
    });
    const std::vector<int64_t> idx = out.indices;
    out.codes = push(zs, std::move(q), [codebook, idx, d](Tape& t, Node& n) {
        auto& g = t.gradOf(codebook);
        for (size_t r = 0; r < idx.size(); ++r)
            for (int64_t e = 0; e < d; ++e) g[idx[r] * d + e] += n.grad[static_cast<int64_t>(r) * d + e];
    });
    return out;
}

// The class itself is instantiated in tape.cpp; this file instantiates only the members it defines.
#define TESSERA_TAPE_IMAGE_OPS(Real)                                                                         \
    template Var Tape<Real>::conv2d(Var, Var, Var, int, int);                                                \
    template Var Tape<Real>::groupNorm(Var, int, Var, Var, Real);                                            \
    template Var Tape<Real>::upsampleNearest2x(Var);                                                         \
    template Var Tape<Real>::channelsLast(Var);                                                              \
    template Var Tape<Real>::channelsFirst(Var, int64_t, int64_t, int64_t);                                  \
    template Tape<Real>::Quantized Tape<Real>::vectorQuantize(Var, Var);
TESSERA_TAPE_IMAGE_OPS(float)
TESSERA_TAPE_IMAGE_OPS(double)
#undef TESSERA_TAPE_IMAGE_OPS

} // namespace tessera::train
