// Helpers shared by the CPU backend's op files.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace tessera::cpu {

inline void requireF32(const Tensor& t, const char* what) {
    TS_ASSERT(t.defined(), what);
    TS_ASSERT(t.dtype() == DType::F32, what);
}

float applyActivation(float v, Activation act);

// Numerically stable softmax of n values (max-subtracted).
inline void softmaxRow(const float* in, float* out, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, in[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        out[i] = std::exp(in[i] - mx);
        sum += out[i];
    }
    float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) out[i] *= inv;
}

} // namespace tessera::cpu
