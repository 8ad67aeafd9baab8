// Adam/AdamW and freezing by name.
//
// The update follows PyTorch's single-tensor Adam/AdamW step term for term (decay, the two moments,
// bias corrections computed in double, the step applied in f32), so the tiny-model reference agrees
// to rounding.
#include "tessera/engine/train.h"

#include <cmath>

namespace tessera::train {

void Adam::update(std::vector<Parameter<float>>& params) {
    ++step_;
    const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
    const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
    const float step_size = static_cast<float>(options_.lr / bc1);
    const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    const float b1 = static_cast<float>(options_.beta1), b2 = static_cast<float>(options_.beta2);
    const float one_b1 = static_cast<float>(1.0 - options_.beta1),
                one_b2 = static_cast<float>(1.0 - options_.beta2);
    const float eps = static_cast<float>(options_.eps), wd = static_cast<float>(options_.weight_decay);
    const float decay = static_cast<float>(1.0 - options_.lr * options_.weight_decay);
    for (auto& p : params) {
        if (!p.trainable) continue;
        TS_CHECK(p.grad.size() == p.value.size(),
                 "Adam: parameter " + p.name + " has no gradient of its size");
        State& s = state_[p.name];
        if (s.exp_avg.size() != p.value.size()) {
            s.exp_avg.assign(p.value.size(), 0.0f);
            s.exp_avg_sq.assign(p.value.size(), 0.0f);
        }
        for (size_t i = 0; i < p.value.size(); ++i) {
            float g = p.grad[i];
            if (options_.weight_decay != 0.0) {
                if (options_.decoupled)
                    p.value[i] *= decay;
                else
                    g += wd * p.value[i];
            }
            s.exp_avg[i] = s.exp_avg[i] * b1 + g * one_b1;
            s.exp_avg_sq[i] = s.exp_avg_sq[i] * b2 + g * g * one_b2;
            const float denom = std::sqrt(s.exp_avg_sq[i]) / bc2_sqrt + eps;
            p.value[i] += -step_size * (s.exp_avg[i] / denom);
        }
    }
}

void Adam::restore(int64_t step, std::map<std::string, State> state) {
    step_ = step;
    state_ = std::move(state);
}

bool globMatch(const std::string& pattern, const std::string& text) {
    // Iterative `*` matching with one backtrack point (linear in practice for names).
    size_t p = 0, t = 0, star = std::string::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

int freezeMatching(std::vector<Parameter<float>>& params, const std::vector<std::string>& patterns) {
    int frozen = 0;
    for (auto& p : params)
        for (const auto& pat : patterns)
            if (globMatch(pat, p.name)) {
                if (p.trainable) ++frozen;
                p.trainable = false;
                break;
            }
    return frozen;
}

} // namespace tessera::train
