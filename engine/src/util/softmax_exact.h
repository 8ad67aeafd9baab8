// The softmax arithmetic every backend's sampler uses, defined operation by operation so a scalar
// loop, an AVX-512 loop and a CUDA kernel give the same bits.
//
// A library exp (glibc's expf, CUDA's __expf) differs between implementations in the last bit, and a
// sequential f64 sum depends on the loop order, so "same seed, same tokens on every backend" needs the
// engine to define both: samplingExp is a Cody–Waite range reduction (x = n·ln2 + r, two FMAs) and a
// polynomial in Horner form (FMAs), scaled by 2^n through the exponent bits; sums run in 16 f64 lanes
// (element i in lane i mod 16) reduced pairwise. Error: about 1 ulp of expf;
// inputs below −87.3 give 0 (no subnormals), above 88.7 +inf.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tessera::softmax {

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kRoundMagic = 12582912.0f; // 1.5·2^23: adding it rounds to an integer
inline constexpr float kMinInput = -87.3f, kMaxInput = 88.7f;
// exp(r) − 1 − r = r²·P(r) on |r| ≤ ln2/2.
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

inline float samplingExp(float x) {
    if (!(x >= kMinInput)) return x != x ? x : 0.0f; // NaN stays NaN
    if (x > kMaxInput) return INFINITY;
    const float t = std::fma(x, kLog2e, kRoundMagic);
    const float n = t - kRoundMagic;
    float r = std::fma(-n, kLn2Hi, x);
    r = std::fma(-n, kLn2Lo, r);
    const float z = r * r;
    float p = std::fma(kP0, r, kP1);
    p = std::fma(p, r, kP2);
    p = std::fma(p, r, kP3);
    p = std::fma(p, r, kP4);
    p = std::fma(p, r, kP5);
    p = std::fma(p, z, r);
    p = p + 1.0f;
    const int32_t e = static_cast<int32_t>(n) + 127;
    const uint32_t bits = static_cast<uint32_t>(e) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// Probabilities are e_i · reciprocal(Σ e): one f32 multiply per code (a division per code would cost
// more than the exponentials).
inline float reciprocal(double sum) { return static_cast<float>(1.0 / sum); }

// Sum of n doubles in 16 lanes (element i in lane i mod 16, each lane in index order), lanes then
// reduced pairwise: l[i] += l[i+8], then l[i] += l[i+4], then l[i] += l[i+2], then l[0] + l[1].
struct LaneSum {
    double lane[16] = {};
    void add(int64_t i, double v) { lane[i & 15] += v; }
    double total() const {
        double l[16];
        for (int i = 0; i < 16; ++i) l[i] = lane[i];
        for (int w = 8; w >= 1; w /= 2)
            for (int i = 0; i < w; ++i) l[i] = l[i] + l[i + w];
        return l[0];
    }
};

} // namespace tessera::softmax
