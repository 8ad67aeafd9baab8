// The pre-LayerNorm vision-transformer encoder layer shared by the SigLIP (Janus understanding) and
// CLIP (LLaVA) towers: x += out(attn(LN1(x))) with full attention, then x += fc2(act(fc1(LN2(x)))).
// Families bind the weights under their own names; this is only the arithmetic.
#pragma once

#include "tessera/engine/backend.h"

namespace tessera::models {

struct VitLayer {
    Tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
};

// x [B, N, D] -> [B, N, D].
Tensor vitLayerForward(Backend& be, const VitLayer& w, const Tensor& x, int64_t heads, float eps, Activation act);

} // namespace tessera::models
