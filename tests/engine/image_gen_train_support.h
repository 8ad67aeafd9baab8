// What the text→image training tests share (train_janus_gen_test.cpp, train_token_shuffle_test.cpp): the
// caption words, a tiny random VQ folder, deterministic code grids, and weights spread as a long run
// would move them.
#pragma once

#include "tessera/engine/train.h"
#include "tessera/engine/train_vq.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tessera::test {

inline const std::vector<std::string> kCaptionWords = {"a",        "small", "large",  "red",  "blue",
                                                       "green",    "metal", "rubber", "cube", "sphere",
                                                       "cylinder", "left",  "of"};

// A random tiny VQ in the train-vq layout: 2 levels (8×8 pixels -> 4×4 codes), 16 codes of width 4.
inline Status writeTinyVq(const std::string& dir) {
    train::VqTrainConfig vc;
    vc.channels = vc.z_channels = 32;
    vc.levels = 2;
    vc.codebook = 16;
    vc.code_dim = 4;
    return train::VqTrainModel(vc, 3).save(dir);
}

// Raster-order codes of a 4×4 image, different for each k.
inline std::vector<int64_t> tinyCodes(int k) {
    std::vector<int64_t> c(16);
    for (size_t i = 0; i < c.size(); ++i)
        c[i] = static_cast<int64_t>((i * 7 + static_cast<size_t>(k) * 5 + i * i) % 16);
    return c;
}

// Moves every weight by up to ±`amount` (deterministic), as a long training run would: with the initial
// N(0, 0.02) weights activations stay near zero, where slightly different networks (a tanh GELU for an
// erf one, say) give nearly the same logits.
inline void spreadWeights(std::vector<train::Parameter<float>>& params, float amount) {
    uint32_t k = 1;
    for (auto& p : params)
        for (float& v : p.value) v += amount * std::sin(0.7f * static_cast<float>(k++ % 10007));
}

inline double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    return worst;
}

} // namespace tessera::test
