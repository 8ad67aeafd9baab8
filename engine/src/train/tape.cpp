// The tape: recording, backward, and the elementwise, transformer and loss ops.
//
// Sections: tape core / elementwise and shape / transformer ops / attention / losses.
// Every op computes its value now and records a closure that, given its own output gradient, adds
// into its inputs' gradients (never overwrites: an input used twice gets both contributions).
// Image-tokenizer ops live in tape_image.cpp.
#include "tessera/engine/train.h"
#include "train/blas.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tessera::train {

using detail::gemm;

namespace {

int64_t lastDim(const Shape& s, const char* op) {
    TS_CHECK(!s.empty() && s.back() > 0, std::string(op) + ": input needs a non-empty last dimension");
    return s.back();
}

template <class Real> Real sigmoid(Real x) {
    return Real(1) / (Real(1) + std::exp(-x));
}

} // namespace

// ---------------------------------------------------------------------------------------------
// tape core

template <class Real> void Tape<Real>::clear() {
    nodes_.clear();
}

template <class Real> typename Tape<Real>::Node& Tape<Real>::node(Var v) {
    TS_ASSERT(v.id >= 0 && static_cast<size_t>(v.id) < nodes_.size(), "Var from another tape or undefined");
    return *nodes_[static_cast<size_t>(v.id)];
}

template <class Real> const typename Tape<Real>::Node& Tape<Real>::node(Var v) const {
    TS_ASSERT(v.id >= 0 && static_cast<size_t>(v.id) < nodes_.size(), "Var from another tape or undefined");
    return *nodes_[static_cast<size_t>(v.id)];
}

template <class Real> const std::vector<Real>& Tape<Real>::value(Var v) const {
    return node(v).value;
}
template <class Real> const Shape& Tape<Real>::shape(Var v) const {
    return node(v).shape;
}

template <class Real> std::vector<Real>& Tape<Real>::gradOf(Var v) {
    Node& n = node(v);
    if (n.grad.size() != n.value.size()) n.grad.assign(n.value.size(), Real(0));
    return n.grad;
}

template <class Real> const std::vector<Real>& Tape<Real>::grad(Var v) {
    return gradOf(v);
}

template <class Real> Real Tape<Real>::scalar(Var v) const {
    const Node& n = node(v);
    TS_CHECK(n.value.size() == 1, "scalar(): value has " + std::to_string(n.value.size()) + " elements");
    return n.value[0];
}

template <class Real>
Var Tape<Real>::push(Shape shape, std::vector<Real> value, std::function<void(Tape&, Node&)> back) {
    TS_ASSERT(!in_backward_, "ops cannot be recorded during backward()");
    TS_ASSERT(static_cast<int64_t>(value.size()) == shapeNumel(shape), "value does not match its shape");
    auto n = std::make_unique<Node>();
    n->shape = std::move(shape);
    n->value = std::move(value);
    n->back = std::move(back);
    nodes_.push_back(std::move(n));
    return Var{static_cast<int32_t>(nodes_.size() - 1)};
}

template <class Real> void Tape<Real>::backward(Var loss) {
    TS_CHECK(node(loss).value.size() == 1, "backward(): the loss must have one element");
    for (auto& n : nodes_) n->grad.clear();
    gradOf(loss)[0] = Real(1);
    in_backward_ = true;
    for (int64_t i = loss.id; i >= 0; --i) {
        Node& n = *nodes_[static_cast<size_t>(i)];
        if (n.back && !n.grad.empty()) n.back(*this, n);
    }
    in_backward_ = false;
}

template <class Real> Var Tape<Real>::leaf(Parameter<Real>& p) {
    TS_CHECK(static_cast<int64_t>(p.value.size()) == p.numel(),
             "parameter " + p.name + ": value has " + std::to_string(p.value.size()) + " elements, shape " +
                 shapeString(p.shape) + " needs " + std::to_string(p.numel()));
    Parameter<Real>* param = &p;
    return push(p.shape, p.value, [param](Tape&, Node& n) {
        if (!param->trainable) return;
        if (param->grad.size() != n.grad.size()) param->grad.assign(n.grad.size(), Real(0));
        for (size_t i = 0; i < n.grad.size(); ++i) param->grad[i] += n.grad[i];
    });
}

template <class Real> Var Tape<Real>::constant(std::vector<Real> value, Shape shape) {
    TS_CHECK(static_cast<int64_t>(value.size()) == shapeNumel(shape),
             "constant: " + std::to_string(value.size()) + " values for shape " + shapeString(shape));
    return push(std::move(shape), std::move(value), nullptr);
}

template <class Real> Var Tape<Real>::stopGradient(Var x) {
    return push(node(x).shape, node(x).value, nullptr);
}

// ---------------------------------------------------------------------------------------------
// elementwise and shape

namespace {
void checkSame(const Shape& a, const Shape& b, const char* op) {
    TS_CHECK(a == b, std::string(op) + ": shapes " + shapeString(a) + " and " + shapeString(b) + " differ");
}
} // namespace

template <class Real> Var Tape<Real>::add(Var a, Var b) {
    checkSame(shape(a), shape(b), "add");
    std::vector<Real> y = value(a);
    const auto& vb = value(b);
    for (size_t i = 0; i < y.size(); ++i) y[i] += vb[i];
    return push(shape(a), std::move(y), [a, b](Tape& t, Node& n) {
        for (Var in : {a, b}) {
            auto& g = t.gradOf(in);
            for (size_t i = 0; i < g.size(); ++i) g[i] += n.grad[i];
        }
    });
}

template <class Real> Var Tape<Real>::sub(Var a, Var b) {
    checkSame(shape(a), shape(b), "sub");
    std::vector<Real> y = value(a);
    const auto& vb = value(b);
    for (size_t i = 0; i < y.size(); ++i) y[i] -= vb[i];
    return push(shape(a), std::move(y), [a, b](Tape& t, Node& n) {
        auto& ga = t.gradOf(a);
        for (size_t i = 0; i < ga.size(); ++i) ga[i] += n.grad[i];
        auto& gb = t.gradOf(b);
        for (size_t i = 0; i < gb.size(); ++i) gb[i] -= n.grad[i];
    });
}

template <class Real> Var Tape<Real>::mul(Var a, Var b) {
    checkSame(shape(a), shape(b), "mul");
    std::vector<Real> y = value(a);
    const auto& vb = value(b);
    for (size_t i = 0; i < y.size(); ++i) y[i] *= vb[i];
    return push(shape(a), std::move(y), [a, b](Tape& t, Node& n) {
        const auto& va = t.value(a);
        const auto& vb = t.value(b);
        auto& ga = t.gradOf(a);
        for (size_t i = 0; i < ga.size(); ++i) ga[i] += n.grad[i] * vb[i];
        auto& gb = t.gradOf(b);
        for (size_t i = 0; i < gb.size(); ++i) gb[i] += n.grad[i] * va[i];
    });
}

template <class Real> Var Tape<Real>::scale(Var x, Real s) {
    std::vector<Real> y = value(x);
    for (auto& v : y) v *= s;
    return push(shape(x), std::move(y), [x, s](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (size_t i = 0; i < g.size(); ++i) g[i] += n.grad[i] * s;
    });
}

template <class Real> Var Tape<Real>::reshape(Var x, Shape s) {
    TS_CHECK(shapeNumel(s) == shapeNumel(shape(x)),
             "reshape: " + shapeString(shape(x)) + " cannot become " + shapeString(s));
    return push(std::move(s), value(x), [x](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (size_t i = 0; i < g.size(); ++i) g[i] += n.grad[i];
    });
}

template <class Real> Var Tape<Real>::concat(const std::vector<Var>& parts, int64_t axis) {
    TS_CHECK(!parts.empty(), "concat: no inputs");
    const Shape first = shape(parts[0]);
    const int64_t rank = static_cast<int64_t>(first.size());
    TS_CHECK(axis >= 0 && axis < rank,
             "concat: axis " + std::to_string(axis) + " outside the rank of " + shapeString(first));
    // Each input is `outer` blocks of (its extent along axis) × `inner` values.
    int64_t outer = 1, inner = 1, total = 0;
    for (int64_t d = 0; d < axis; ++d) outer *= first[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= first[static_cast<size_t>(d)];
    std::vector<int64_t> widths;
    for (Var p : parts) {
        Shape s = shape(p);
        TS_CHECK(static_cast<int64_t>(s.size()) == rank,
                 "concat: " + shapeString(s) + " and " + shapeString(first) + " differ in rank");
        widths.push_back(s[static_cast<size_t>(axis)] * inner);
        total += s[static_cast<size_t>(axis)];
        s[static_cast<size_t>(axis)] = first[static_cast<size_t>(axis)];
        TS_CHECK(s == first, "concat: " + shapeString(shape(p)) + " and " + shapeString(first) +
                                 " differ outside axis " + std::to_string(axis));
    }
    const int64_t row = total * inner;
    std::vector<Real> y(static_cast<size_t>(outer * row));
    for (int64_t o = 0, at = 0; o < outer; ++o)
        for (size_t i = 0; i < parts.size(); ++i) {
            const Real* src = value(parts[i]).data() + o * widths[i];
            std::copy(src, src + widths[i], y.begin() + at);
            at += widths[i];
        }
    Shape ys = first;
    ys[static_cast<size_t>(axis)] = total;
    return push(std::move(ys), std::move(y), [parts, widths, outer, row](Tape& t, Node& n) {
        int64_t offset = 0;
        for (size_t i = 0; i < parts.size(); ++i) {
            auto& g = t.gradOf(parts[i]);
            for (int64_t o = 0; o < outer; ++o) {
                const Real* src = n.grad.data() + o * row + offset;
                Real* dst = g.data() + o * widths[i];
                for (int64_t j = 0; j < widths[i]; ++j) dst[j] += src[j];
            }
            offset += widths[i];
        }
    });
}

template <class Real> Var Tape<Real>::silu(Var x) {
    std::vector<Real> y = value(x);
    for (auto& v : y) v = v * sigmoid(v);
    return push(shape(x), std::move(y), [x](Tape& t, Node& n) {
        const auto& vx = t.value(x);
        auto& g = t.gradOf(x);
        for (size_t i = 0; i < g.size(); ++i) {
            const Real s = sigmoid(vx[i]);
            g[i] += n.grad[i] * s * (Real(1) + vx[i] * (Real(1) - s));
        }
    });
}

template <class Real> Var Tape<Real>::tanh(Var x) {
    std::vector<Real> y = value(x);
    for (auto& v : y) v = std::tanh(v);
    return push(shape(x), std::move(y), [x](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (size_t i = 0; i < g.size(); ++i) g[i] += n.grad[i] * (Real(1) - n.value[i] * n.value[i]);
    });
}

template <class Real> Var Tape<Real>::gelu(Var x, Gelu kind) {
    const Real k_sqrt2 = Real(1.4142135623730951), k_c = Real(0.7978845608028654); // sqrt(2), sqrt(2/pi)
    const Real k_a = Real(0.044715);
    std::vector<Real> y = value(x);
    for (auto& v : y) {
        if (kind == Gelu::Erf)
            v = Real(0.5) * v * (Real(1) + std::erf(v / k_sqrt2));
        else
            v = Real(0.5) * v * (Real(1) + std::tanh(k_c * (v + k_a * v * v * v)));
    }
    return push(shape(x), std::move(y), [x, kind, k_sqrt2, k_c, k_a](Tape& t, Node& n) {
        const auto& vx = t.value(x);
        auto& g = t.gradOf(x);
        const Real k_inv_sqrt2pi = Real(0.3989422804014327);
        for (size_t i = 0; i < g.size(); ++i) {
            const Real v = vx[i];
            Real d;
            if (kind == Gelu::Erf) {
                d = Real(0.5) * (Real(1) + std::erf(v / k_sqrt2)) +
                    v * std::exp(Real(-0.5) * v * v) * k_inv_sqrt2pi;
            } else {
                const Real th = std::tanh(k_c * (v + k_a * v * v * v));
                d = Real(0.5) * (Real(1) + th) +
                    Real(0.5) * v * (Real(1) - th * th) * k_c * (Real(1) + Real(3) * k_a * v * v);
            }
            g[i] += n.grad[i] * d;
        }
    });
}

template <class Real> Var Tape<Real>::swiglu(Var gate, Var up) {
    checkSame(shape(gate), shape(up), "swiglu");
    const auto& vg = value(gate);
    const auto& vu = value(up);
    std::vector<Real> y(vg.size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = vg[i] * sigmoid(vg[i]) * vu[i];
    return push(shape(gate), std::move(y), [gate, up](Tape& t, Node& n) {
        const auto& vg = t.value(gate);
        const auto& vu = t.value(up);
        auto& gg = t.gradOf(gate);
        auto& gu = t.gradOf(up);
        for (size_t i = 0; i < n.grad.size(); ++i) {
            const Real s = sigmoid(vg[i]);
            gu[i] += n.grad[i] * vg[i] * s;
            gg[i] += n.grad[i] * vu[i] * s * (Real(1) + vg[i] * (Real(1) - s));
        }
    });
}

template <class Real> Var Tape<Real>::sum(Var x) {
    const auto& v = value(x);
    Real s = 0;
    for (Real e : v) s += e;
    return push({1}, {s}, [x](Tape& t, Node& n) {
        auto& g = t.gradOf(x);
        for (auto& e : g) e += n.grad[0];
    });
}

// ---------------------------------------------------------------------------------------------
// transformer ops

template <class Real> Var Tape<Real>::embedding(Var table, const std::vector<int64_t>& ids) {
    const Shape& ts = shape(table);
    TS_CHECK(ts.size() == 2, "embedding: table must be [V, D], got " + shapeString(ts));
    const int64_t v = ts[0], d = ts[1];
    const auto& tv = value(table);
    std::vector<Real> y(ids.size() * static_cast<size_t>(d));
    for (size_t r = 0; r < ids.size(); ++r) {
        TS_CHECK(ids[r] >= 0 && ids[r] < v, "embedding: id " + std::to_string(ids[r]) +
                                                " outside the table's " + std::to_string(v) + " rows");
        std::copy_n(tv.begin() + ids[r] * d, d, y.begin() + static_cast<int64_t>(r) * d);
    }
    return push({static_cast<int64_t>(ids.size()), d}, std::move(y), [table, ids, d](Tape& t, Node& n) {
        auto& g = t.gradOf(table);
        for (size_t r = 0; r < ids.size(); ++r)
            for (int64_t j = 0; j < d; ++j) g[ids[r] * d + j] += n.grad[r * d + j];
    });
}

template <class Real> Var Tape<Real>::linear(Var x, Var w, Var bias) {
    const Shape& xs = shape(x);
    const Shape& ws = shape(w);
    const int64_t in = lastDim(xs, "linear");
    TS_CHECK(ws.size() == 2 && ws[1] == in,
             "linear: weight " + shapeString(ws) + " does not take inputs " + shapeString(xs));
    const int64_t out = ws[0], rows = shapeNumel(xs) / in;
    if (bias.defined())
        TS_CHECK(shape(bias) == Shape{out},
                 "linear: bias " + shapeString(shape(bias)) + " for " + std::to_string(out) + " outputs");
    std::vector<Real> y(static_cast<size_t>(rows * out));
    gemm(false, true, rows, out, in, Real(1), value(x).data(), in, value(w).data(), in, Real(0), y.data(),
         out);
    if (bias.defined()) {
        const auto& b = value(bias);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t o = 0; o < out; ++o) y[r * out + o] += b[o];
    }
    Shape ys = xs;
    ys.back() = out;
    return push(std::move(ys), std::move(y), [x, w, bias, rows, in, out](Tape& t, Node& n) {
        gemm(false, false, rows, in, out, Real(1), n.grad.data(), out, t.value(w).data(), in, Real(1),
             t.gradOf(x).data(), in);
        gemm(true, false, out, in, rows, Real(1), n.grad.data(), out, t.value(x).data(), in, Real(1),
             t.gradOf(w).data(), in);
        if (bias.defined()) {
            auto& gb = t.gradOf(bias);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t o = 0; o < out; ++o) gb[o] += n.grad[r * out + o];
        }
    });
}

template <class Real> Var Tape<Real>::rmsNorm(Var x, Var weight, Real eps) {
    const int64_t d = lastDim(shape(x), "rmsNorm");
    TS_CHECK(shape(weight) == Shape{d},
             "rmsNorm: weight " + shapeString(shape(weight)) + " for width " + std::to_string(d));
    const int64_t rows = shapeNumel(shape(x)) / d;
    const auto& vx = value(x);
    const auto& vw = value(weight);
    std::vector<Real> y(vx.size()), inv(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        Real ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += vx[r * d + j] * vx[r * d + j];
        inv[r] = Real(1) / std::sqrt(ss / Real(d) + eps);
        for (int64_t j = 0; j < d; ++j) y[r * d + j] = vx[r * d + j] * inv[r] * vw[j];
    }
    return push(shape(x), std::move(y), [x, weight, rows, d, inv](Tape& t, Node& n) {
        const auto& vx = t.value(x);
        const auto& vw = t.value(weight);
        auto& gx = t.gradOf(x);
        auto& gw = t.gradOf(weight);
        for (int64_t r = 0; r < rows; ++r) {
            const Real* xr = vx.data() + r * d;
            const Real* dy = n.grad.data() + r * d;
            Real dot = 0; // mean over j of (dy·w)_j · xhat_j
            for (int64_t j = 0; j < d; ++j) {
                const Real xhat = xr[j] * inv[r];
                gw[j] += dy[j] * xhat;
                dot += dy[j] * vw[j] * xhat;
            }
            dot /= Real(d);
            for (int64_t j = 0; j < d; ++j) gx[r * d + j] += inv[r] * (dy[j] * vw[j] - xr[j] * inv[r] * dot);
        }
    });
}

template <class Real> Var Tape<Real>::layerNorm(Var x, Var weight, Var bias, Real eps) {
    const int64_t d = lastDim(shape(x), "layerNorm");
    for (Var p : {weight, bias})
        if (p.defined())
            TS_CHECK(shape(p) == Shape{d},
                     "layerNorm: affine " + shapeString(shape(p)) + " for width " + std::to_string(d));
    const int64_t rows = shapeNumel(shape(x)) / d;
    const auto& vx = value(x);
    std::vector<Real> y(vx.size()), xhat(vx.size()), inv(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        Real mean = 0, var = 0;
        for (int64_t j = 0; j < d; ++j) mean += vx[r * d + j];
        mean /= Real(d);
        for (int64_t j = 0; j < d; ++j) var += (vx[r * d + j] - mean) * (vx[r * d + j] - mean);
        var /= Real(d);
        inv[r] = Real(1) / std::sqrt(var + eps);
        for (int64_t j = 0; j < d; ++j) {
            const size_t i = static_cast<size_t>(r * d + j);
            xhat[i] = (vx[i] - mean) * inv[r];
            y[i] = xhat[i] * (weight.defined() ? value(weight)[j] : Real(1)) +
                   (bias.defined() ? value(bias)[j] : Real(0));
        }
    }
    return push(shape(x), std::move(y), [x, weight, bias, rows, d, inv, xhat](Tape& t, Node& n) {
        auto& gx = t.gradOf(x);
        for (int64_t r = 0; r < rows; ++r) {
            const Real* dy = n.grad.data() + r * d;
            const Real* xh = xhat.data() + r * d;
            Real mg = 0, mgx = 0;
            for (int64_t j = 0; j < d; ++j) {
                const Real g = dy[j] * (weight.defined() ? t.value(weight)[j] : Real(1));
                mg += g;
                mgx += g * xh[j];
            }
            mg /= Real(d);
            mgx /= Real(d);
            for (int64_t j = 0; j < d; ++j) {
                const Real g = dy[j] * (weight.defined() ? t.value(weight)[j] : Real(1));
                gx[r * d + j] += inv[r] * (g - mg - xh[j] * mgx);
            }
            if (weight.defined()) {
                auto& gw = t.gradOf(weight);
                for (int64_t j = 0; j < d; ++j) gw[j] += dy[j] * xh[j];
            }
            if (bias.defined()) {
                auto& gb = t.gradOf(bias);
                for (int64_t j = 0; j < d; ++j) gb[j] += dy[j];
            }
        }
    });
}

template <class Real>
Var Tape<Real>::rope(Var x, int64_t heads, int64_t head_dim, const std::vector<int64_t>& positions,
                     double theta) {
    TS_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim must be even");
    const int64_t rows = static_cast<int64_t>(positions.size()), half = head_dim / 2;
    // Angles as the reference computes them: pos · theta^(-2i/hd), the same for channel i and i + half.
    std::vector<Real> cs(static_cast<size_t>(rows * head_dim)), sn(cs.size());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < half; ++i) {
            const double inv_freq =
                1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
            const double a = static_cast<double>(positions[r]) * inv_freq;
            for (int64_t at : {i, i + half}) {
                cs[r * head_dim + at] = static_cast<Real>(std::cos(a));
                sn[r * head_dim + at] = static_cast<Real>(std::sin(a));
            }
        }
    return ropeTables(x, heads, head_dim, std::move(cs), std::move(sn));
}

template <class Real>
Var Tape<Real>::ropeTables(Var x, int64_t heads, int64_t head_dim, std::vector<Real> cs,
                           std::vector<Real> sn) {
    const Shape& xs = shape(x);
    TS_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim must be even");
    TS_CHECK(!xs.empty() && xs.back() == heads * head_dim,
             "rope: last dimension of " + shapeString(xs) + " is not heads × head_dim");
    const int64_t rows = shapeNumel(xs) / xs.back(), half = head_dim / 2;
    TS_CHECK(static_cast<int64_t>(cs.size()) == rows * head_dim && sn.size() == cs.size(),
             "rope: tables hold " + std::to_string(cs.size()) + " values, " + std::to_string(rows) +
                 " rows × " + std::to_string(head_dim) + " needed");
    const auto& vx = value(x);
    std::vector<Real> y(vx.size());
    // y = x·cos + rotate_half(x)·sin, rotate_half(x) = (−x[half:], x[:half]).
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < heads; ++h) {
            const int64_t base = (r * heads + h) * head_dim, tb = r * head_dim;
            for (int64_t i = 0; i < half; ++i) {
                const Real a = vx[base + i], b = vx[base + i + half];
                y[base + i] = a * cs[tb + i] - b * sn[tb + i];
                y[base + i + half] = b * cs[tb + i + half] + a * sn[tb + i + half];
            }
        }
    return push(xs, std::move(y),
                [x, rows, heads, head_dim, half, cs = std::move(cs), sn = std::move(sn)](Tape& t, Node& n) {
                    auto& g = t.gradOf(x);
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t h = 0; h < heads; ++h) {
                            const int64_t base = (r * heads + h) * head_dim, tb = r * head_dim;
                            for (int64_t i = 0; i < half; ++i) {
                                const Real da = n.grad[base + i], db = n.grad[base + i + half];
                                g[base + i] += da * cs[tb + i] + db * sn[tb + i + half];
                                g[base + i + half] += db * cs[tb + i + half] - da * sn[tb + i];
                            }
                        }
                });
}

template <class Real> Var Tape<Real>::layerNormPerHead(Var x, int64_t heads, Var weight, Var bias, Real eps) {
    const Shape& xs = shape(x);
    TS_CHECK(heads > 0 && !xs.empty() && xs.back() % heads == 0,
             "layerNormPerHead: last dimension of " + shapeString(xs) + " does not split into " +
                 std::to_string(heads) + " heads");
    const int64_t hd = xs.back() / heads;
    for (Var p : {weight, bias})
        TS_CHECK(shape(p) == (Shape{heads, hd}), "layerNormPerHead: affine " + shapeString(shape(p)) +
                                                     ", expected [" + std::to_string(heads) + ", " +
                                                     std::to_string(hd) + "]");
    // Each head's slice normalised alone; the affine of head h applies to every row's head h. Built from
    // the plain ops: rows of head slices -> layerNorm -> multiply/add by the affine broadcast over rows.
    const int64_t rows = shapeNumel(xs) / xs.back();
    Var normed = layerNorm(reshape(x, {rows * heads, hd}), Var{}, Var{}, eps);
    auto tile = [this, rows](Var p) {
        std::vector<Real> ones(static_cast<size_t>(rows), Real(1));
        // [rows, 1] · [1, heads·hd] as a linear layer: repeats the affine on every row.
        return reshape(linear(constant(std::move(ones), {rows, 1}), reshape(p, {shapeNumel(shape(p)), 1})),
                       {rows * shape(p)[0], shape(p)[1]});
    };
    return reshape(add(mul(normed, tile(weight)), tile(bias)), xs);
}

// ---------------------------------------------------------------------------------------------
// attention

template <class Real> Var Tape<Real>::attention(Var q, Var k, Var v, const AttentionSpec& spec) {
    const Shape &qs = shape(q), &ks = shape(k);
    const int64_t hq = spec.heads, hkv = spec.kv_heads, hd = spec.head_dim;
    TS_CHECK(hq > 0 && hkv > 0 && hd > 0 && hq % hkv == 0, "attention: heads must be a multiple of kv_heads");
    TS_CHECK(qs.size() == 3 && qs[2] == hq * hd,
             "attention: q " + shapeString(qs) + " is not [B, T, heads·head_dim]");
    TS_CHECK(ks.size() == 3 && ks[0] == qs[0] && ks[2] == hkv * hd,
             "attention: k " + shapeString(ks) + " is not [B, S, kv_heads·head_dim]");
    checkSame(ks, shape(v), "attention (k, v)");
    const int64_t b = qs[0], tq = qs[1], s = ks[1];
    TS_CHECK(s >= tq || !spec.causal, "attention: causal queries need at least as many keys as queries");
    TS_CHECK(spec.key_keep.empty() || static_cast<int64_t>(spec.key_keep.size()) == b * s,
             "attention: key mask has " + std::to_string(spec.key_keep.size()) + " entries, expected B·S");
    const int64_t group = hq / hkv, qw = hq * hd, kw = hkv * hd;
    const Real sc = Real(1) / std::sqrt(static_cast<Real>(hd));
    auto allowed = [&spec, s, tq](int64_t bi, int64_t ti, int64_t si) {
        if (spec.causal && si > ti + (s - tq)) return false;
        return spec.key_keep.empty() || spec.key_keep[static_cast<size_t>(bi * s + si)] != 0;
    };
    // Probabilities for every (b, h): [B, Hq, T, S], kept for backward.
    std::vector<Real> probs(static_cast<size_t>(b * hq * tq * s));
    std::vector<Real> y(static_cast<size_t>(b * tq * qw), Real(0));
    const auto &vq = value(q), &vk = value(k), &vv = value(v);
    for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t h = 0; h < hq; ++h) {
            const int64_t kh = h / group;
            Real* p = probs.data() + (bi * hq + h) * tq * s;
            const Real* qp = vq.data() + bi * tq * qw + h * hd;
            const Real* kp = vk.data() + bi * s * kw + kh * hd;
            const Real* vp = vv.data() + bi * s * kw + kh * hd;
            gemm(false, true, tq, s, hd, sc, qp, qw, kp, kw, Real(0), p, s);
            for (int64_t ti = 0; ti < tq; ++ti) {
                Real* row = p + ti * s;
                Real mx = -std::numeric_limits<Real>::infinity();
                for (int64_t si = 0; si < s; ++si)
                    if (allowed(bi, ti, si)) mx = std::max(mx, row[si]);
                Real total = 0;
                for (int64_t si = 0; si < s; ++si) {
                    row[si] = allowed(bi, ti, si) ? std::exp(row[si] - mx) : Real(0);
                    total += row[si];
                }
                for (int64_t si = 0; si < s; ++si) row[si] = total > 0 ? row[si] / total : Real(0);
            }
            gemm(false, false, tq, hd, s, Real(1), p, s, vp, kw, Real(0), y.data() + bi * tq * qw + h * hd,
                 qw);
        }
    return push(qs, std::move(y), [q, k, v, b, hq, hd, tq, s, group, qw, kw, sc, probs](Tape& t, Node& n) {
        const auto &vq = t.value(q), &vk = t.value(k), &vv = t.value(v);
        auto& gq = t.gradOf(q);
        auto& gk = t.gradOf(k);
        auto& gv = t.gradOf(v);
        std::vector<Real> dp(static_cast<size_t>(tq * s));
        for (int64_t bi = 0; bi < b; ++bi)
            for (int64_t h = 0; h < hq; ++h) {
                const int64_t kh = h / group;
                const Real* p = probs.data() + (bi * hq + h) * tq * s;
                const Real* dy = n.grad.data() + bi * tq * qw + h * hd;
                const int64_t qo = bi * tq * qw + h * hd, ko = bi * s * kw + kh * hd;
                gemm(false, true, tq, s, hd, Real(1), dy, qw, vv.data() + ko, kw, Real(0), dp.data(), s);
                gemm(true, false, s, hd, tq, Real(1), p, s, dy, qw, Real(1), gv.data() + ko, kw);
                for (int64_t ti = 0; ti < tq; ++ti) {
                    Real dot = 0;
                    for (int64_t si = 0; si < s; ++si) dot += p[ti * s + si] * dp[ti * s + si];
                    for (int64_t si = 0; si < s; ++si)
                        dp[ti * s + si] = p[ti * s + si] * (dp[ti * s + si] - dot);
                }
                gemm(false, false, tq, hd, s, sc, dp.data(), s, vk.data() + ko, kw, Real(1), gq.data() + qo,
                     qw);
                gemm(true, false, s, hd, tq, sc, dp.data(), s, vq.data() + qo, qw, Real(1), gk.data() + ko,
                     kw);
            }
    });
}

// ---------------------------------------------------------------------------------------------
// losses

template <class Real>
Var Tape<Real>::crossEntropy(Var logits, const std::vector<int64_t>& targets, int64_t ignore) {
    const int64_t vocab = lastDim(shape(logits), "crossEntropy");
    const int64_t rows = shapeNumel(shape(logits)) / vocab;
    TS_CHECK(static_cast<int64_t>(targets.size()) == rows, "crossEntropy: " + std::to_string(targets.size()) +
                                                               " targets for " + std::to_string(rows) +
                                                               " rows");
    const auto& vl = value(logits);
    std::vector<Real> lse(static_cast<size_t>(rows), Real(0));
    Real total = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < rows; ++r) {
        if (targets[r] == ignore) continue;
        TS_CHECK(targets[r] >= 0 && targets[r] < vocab, "crossEntropy: target " + std::to_string(targets[r]) +
                                                            " outside vocabulary " + std::to_string(vocab));
        const Real* row = vl.data() + r * vocab;
        const Real mx = *std::max_element(row, row + vocab);
        Real se = 0;
        for (int64_t j = 0; j < vocab; ++j) se += std::exp(row[j] - mx);
        lse[r] = mx + std::log(se);
        total += lse[r] - row[targets[r]];
        ++count;
    }
    const Real loss = count > 0 ? total / Real(count) : Real(0);
    return push({1}, {loss}, [logits, targets, ignore, rows, vocab, lse, count](Tape& t, Node& n) {
        if (count == 0) return;
        const auto& vl = t.value(logits);
        auto& g = t.gradOf(logits);
        const Real w = n.grad[0] / Real(count);
        for (int64_t r = 0; r < rows; ++r) {
            if (targets[r] == ignore) continue;
            for (int64_t j = 0; j < vocab; ++j) g[r * vocab + j] += w * std::exp(vl[r * vocab + j] - lse[r]);
            g[r * vocab + targets[r]] -= w;
        }
    });
}

template <class Real> Var Tape<Real>::mse(Var a, Var b) {
    checkSame(shape(a), shape(b), "mse");
    const auto &va = value(a), &vb = value(b);
    TS_CHECK(!va.empty(), "mse: empty inputs");
    Real s = 0;
    for (size_t i = 0; i < va.size(); ++i) s += (va[i] - vb[i]) * (va[i] - vb[i]);
    return push({1}, {s / Real(va.size())}, [a, b](Tape& t, Node& n) {
        const auto &va = t.value(a), &vb = t.value(b);
        const Real w = Real(2) * n.grad[0] / Real(va.size());
        auto& ga = t.gradOf(a);
        for (size_t i = 0; i < va.size(); ++i) ga[i] += w * (va[i] - vb[i]);
        auto& gb = t.gradOf(b);
        for (size_t i = 0; i < vb.size(); ++i) gb[i] -= w * (va[i] - vb[i]);
    });
}

template class Tape<float>;
template class Tape<double>;

} // namespace tessera::train
