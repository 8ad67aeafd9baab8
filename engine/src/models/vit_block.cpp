#include "models/vit_block.h"

#include <cmath>

namespace tessera::models {

Tensor vitLayerForward(Backend& be, const VitLayer& w, const Tensor& x, int64_t heads, float eps, Activation act) {
    const int64_t b = x.dim(0), n = x.dim(1), d = x.dim(2), hd = d / heads;
    Tensor h = be.layerNorm(x, &w.ln1_w, &w.ln1_b, eps);
    Tensor q = be.matmul(h, w.q_w, &w.q_b).reshape({b, n, heads, hd});
    Tensor k = be.matmul(h, w.k_w, &w.k_b).reshape({b, n, heads, hd});
    Tensor v = be.matmul(h, w.v_w, &w.v_b).reshape({b, n, heads, hd});
    Tensor kc = be.alloc(DType::F32, {b, heads, n, hd}), vc = be.alloc(DType::F32, {b, heads, n, hd});
    be.kvWrite(kc, vc, k, v, 0);
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    Tensor a = be.attention(q, kc, vc, n, full, 1.0f / std::sqrt(static_cast<float>(hd))).reshape({b, n, d});
    Tensor y = be.add(x, be.matmul(a, w.o_w, &w.o_b));
    h = be.matmul(be.activation(be.matmul(be.layerNorm(y, &w.ln2_w, &w.ln2_b, eps), w.fc1_w, &w.fc1_b), act), w.fc2_w,
                  &w.fc2_b);
    return be.add(y, h);
}

} // namespace tessera::models
