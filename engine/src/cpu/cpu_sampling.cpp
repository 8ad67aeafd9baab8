// CPU backend: batched sampling and per-token statistics without sorting the vocabulary.
//
// Sections: the ranked view (histogram selection) · one row · the batched op.
//
// A row's probabilities are ranked (p descending, ties by lower id) through a 2,048-bucket histogram of
// their f32 bit patterns: for p >= 0 the bit pattern orders like the value, and the top 12 bits (sign,
// exponent, three mantissa bits) split the range into eighths of an octave. Count and mass per bucket
// answer "how many / how much above rank r" for whole buckets; only the one bucket a query ends in is
// gathered and sorted. A peaked distribution's boundary bucket holds a handful of codes, so a row
// costs a few linear passes over the vocabulary instead of an O(V log V) sort.
#include "cpu/cpu_backend.h"
#include "cpu/cpu_common.h"
#include "tessera/engine/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace tessera {

void SampleResult::resize(size_t rows, int k) {
    report_k = k;
    token.resize(rows);
    probability.resize(rows);
    entropy.resize(rows);
    rank.resize(rows);
    guidance_kl.resize(rows);
    top_ids.resize(rows * static_cast<size_t>(k));
    top_probs.resize(rows * static_cast<size_t>(k));
}

size_t SampleResult::bytes() const {
    return token.size() * (sizeof(int32_t) * 2 + sizeof(float) * 3) + top_ids.size() * (sizeof(int32_t) + sizeof(float));
}

namespace cpu {

namespace {

constexpr int kBucketShift = 20;
constexpr int kBuckets = 1 << (32 - kBucketShift - 1); // p >= 0: the sign bit is always clear

inline uint32_t bitsOf(float p) {
    uint32_t b;
    std::memcpy(&b, &p, sizeof b);
    return b;
}
inline int bucketOf(float p) { return static_cast<int>(bitsOf(p) >> kBucketShift); }

// Ranks one row of probabilities. Scratch vectors live in the (thread-local) object and are reused.
class RankedView {
public:
    void build(const float* p, int64_t n) {
        p_ = p;
        n_ = n;
        count_.fill(0);
        mass_.fill(0.0);
        for (int64_t i = 0; i < n; ++i) {
            const int b = bucketOf(p[i]);
            ++count_[static_cast<size_t>(b)];
            mass_[static_cast<size_t>(b)] += p[i];
        }
        sorted_bucket_ = -1;
    }

    // The members of bucket b, ranked (p descending, id ascending).
    const std::vector<int32_t>& bucket(int b) {
        if (sorted_bucket_ != b) {
            members_.clear();
            for (int64_t i = 0; i < n_; ++i)
                if (bucketOf(p_[i]) == b) members_.push_back(static_cast<int32_t>(i));
            std::sort(members_.begin(), members_.end(), [&](int32_t a, int32_t c) {
                return p_[a] != p_[c] ? p_[a] > p_[c] : a < c;
            });
            sorted_bucket_ = b;
        }
        return members_;
    }

    // The id at rank r (0 = most likely), r < n.
    int32_t at(int64_t r) {
        for (int b = kBuckets - 1; b >= 0; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (r < c) return bucket(b)[static_cast<size_t>(r)];
            r -= c;
        }
        return static_cast<int32_t>(n_ - 1);
    }

    // Mass of the `k` most likely ids.
    double massOfTop(int64_t k) {
        double m = 0;
        for (int b = kBuckets - 1; b >= 0 && k > 0; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (c <= k) {
                m += mass_[static_cast<size_t>(b)];
                k -= c;
            } else {
                const auto& ids = bucket(b);
                for (int64_t i = 0; i < k; ++i) m += p_[ids[static_cast<size_t>(i)]];
                k = 0;
            }
        }
        return m;
    }

    // How many ids have p >= floor (they form a prefix of the ranking).
    int64_t countAtLeast(float floor) {
        int64_t k = 0;
        const int fb = bucketOf(floor);
        for (int b = kBuckets - 1; b > fb; --b) k += count_[static_cast<size_t>(b)];
        for (int32_t id : bucket(fb))
            if (p_[id] >= floor) ++k;
        return k;
    }

    // Walks the first `limit` ranks accumulating mass and returns the first rank r at which
    // stop(mass including r) holds, or limit - 1. Whole buckets are skipped while stop stays false for
    // their total.
    template <class Stop> int64_t walk(int64_t limit, Stop stop) {
        double cum = 0;
        int64_t base = 0;
        for (int b = kBuckets - 1; b >= 0 && base < limit; --b) {
            const int64_t c = count_[static_cast<size_t>(b)];
            if (c == 0) continue;
            if (base + c <= limit && !stop(cum + mass_[static_cast<size_t>(b)])) {
                cum += mass_[static_cast<size_t>(b)];
                base += c;
                continue;
            }
            const auto& ids = bucket(b);
            for (int64_t i = 0; i < c && base + i < limit; ++i) {
                cum += p_[ids[static_cast<size_t>(i)]];
                if (stop(cum)) return base + i;
            }
            base += c;
        }
        return limit - 1;
    }

private:
    const float* p_ = nullptr;
    int64_t n_ = 0;
    std::array<int64_t, kBuckets> count_{};
    std::array<double, kBuckets> mass_{};
    std::vector<int32_t> members_;
    int sorted_bucket_ = -1;
};

struct RowScratch {
    std::vector<float> guided, probs;
    RankedView view;
};

// Tempered softmax of n logits into probs with the reference arithmetic (f32 exp of x/t − max, f64
// sum, f64 division rounded to f32). Returns max and log of the sum, for closed-form statistics.
void softmaxTempered(const float* logits, int64_t n, float t, float* probs, float& mx, double& log_sum,
                     double& mean_shifted) {
    mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, logits[i] / t);
    double sum = 0, dot = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float shifted = logits[i] / t - mx;
        const float e = std::exp(shifted);
        probs[i] = e;
        sum += e;
        dot += static_cast<double>(e) * shifted;
    }
    for (int64_t i = 0; i < n; ++i) probs[i] = static_cast<float>(probs[i] / sum);
    log_sum = std::log(sum);
    mean_shifted = dot / sum; // E_p[x/t − max]
}

void sampleRow(const float* logits_base, int64_t vocab, const SampleRow& row, const SampleParams& sp,
               RowScratch& s, SampleResult& out, size_t r) {
    const float* cond = logits_base + row.cond * vocab;
    const float* g = cond;
    s.guided.resize(static_cast<size_t>(vocab));
    s.probs.resize(static_cast<size_t>(vocab));
    if (row.uncond >= 0) {
        const float* uncond = logits_base + row.uncond * vocab;
        cfgCombine(cond, uncond, row.cfg, vocab, s.guided.data());
        g = s.guided.data();
    }
    const float t = sp.temperature > 0 ? sp.temperature : 1.0f;
    float mx = 0;
    double log_sum = 0, mean_shifted = 0;
    float* p = s.probs.data();
    softmaxTempered(g, vocab, t, p, mx, log_sum, mean_shifted);
    // NaN or infinite logits (broken weights, an infinite guidance weight) would otherwise pick the same
    // code every time without a word.
    TS_CHECK(std::isfinite(mx) && std::isfinite(log_sum) && std::isfinite(mean_shifted),
             "the model produced non-finite logits (NaN or infinity): check the checkpoint's weights and the guidance weight");
    // H = −Σ p log p with log p = shifted − log Σ: no logarithm per code.
    out.entropy[r] = static_cast<float>(std::max(0.0, log_sum - mean_shifted));

    float kl = 0;
    if (row.uncond >= 0 && sp.guidance_kl) {
        // KL(p ‖ q), q = softmax(c / t): Σ p (log p − log q) with both logs in closed form.
        float mc = -INFINITY;
        for (int64_t i = 0; i < vocab; ++i) mc = std::max(mc, cond[i] / t);
        double sum_c = 0, cross = 0;
        for (int64_t i = 0; i < vocab; ++i) {
            const float yc = cond[i] / t - mc;
            sum_c += std::exp(static_cast<double>(yc));
            cross += static_cast<double>(p[i]) * ((g[i] / t - mx) - yc);
        }
        kl = static_cast<float>(std::max(0.0, cross - log_sum + std::log(sum_c)));
    }
    out.guidance_kl[r] = kl;

    RankedView& v = s.view;
    v.build(p, vocab);
    const int k = out.report_k;
    for (int i = 0; i < k; ++i) {
        const bool in = i < vocab;
        const int32_t id = in ? v.at(i) : -1;
        out.top_ids[r * static_cast<size_t>(k) + static_cast<size_t>(i)] = id;
        out.top_probs[r * static_cast<size_t>(k) + static_cast<size_t>(i)] = in ? p[id] : 0.0f;
    }

    if (row.forced >= 0) {
        TS_CHECK(row.forced < vocab, "forced token " + std::to_string(row.forced) + " outside the vocabulary of " +
                                         std::to_string(vocab));
        const int32_t tok = row.forced;
        const float pt = p[tok];
        int32_t rank = 0;
        for (int64_t i = 0; i < vocab; ++i)
            if (p[i] > pt || (p[i] == pt && i < tok)) ++rank;
        out.token[r] = tok;
        out.rank[r] = rank;
        out.probability[r] = pt;
        return;
    }

    // The kept prefix of the ranking, as sampleToken() defines it.
    int64_t keep = vocab;
    if (sp.temperature <= 0) keep = 1;
    if (sp.top_k > 0) keep = std::min<int64_t>(keep, sp.top_k);
    if (sp.min_p > 0) {
        const float floor = sp.min_p * p[v.at(0)];
        keep = std::max<int64_t>(1, std::min(keep, v.countAtLeast(floor)));
    }
    if (sp.top_p < 1.0f) {
        const double target = sp.top_p;
        keep = std::max<int64_t>(1, v.walk(keep, [&](double cum) { return cum >= target; }) + 1);
    }
    const double total = v.massOfTop(keep);
    const double target = Philox::uniform(sp.seed, row.stream, row.index) * total;
    const int64_t pick = v.walk(keep, [&](double cum) { return target < cum; });
    const int32_t tok = v.at(pick);
    out.token[r] = tok;
    out.rank[r] = static_cast<int32_t>(pick);
    out.probability[r] = p[tok];
}

} // namespace

void CpuBackend::sample(const Tensor& logits, const std::vector<SampleRow>& rows, const SampleParams& params,
                        SampleResult& out) {
    requireF32(logits, "sample logits");
    const int64_t vocab = logits.dim(-1), n_rows = logits.numel() / std::max<int64_t>(1, vocab);
    TS_CHECK(vocab > 0 && vocab < (int64_t(1) << 31), "sample: vocabulary size out of range");
    TS_CHECK(params.report_k >= 0 && params.report_k <= 1024, "sample: report_k must be in [0, 1024]");
    for (const SampleRow& r : rows) {
        TS_CHECK(r.cond >= 0 && r.cond < n_rows && r.uncond < n_rows, "sample: row index outside the logits");
        TS_CHECK(std::isfinite(r.cfg), "sample: guidance weight must be finite");
    }
    out.resize(rows.size(), params.report_k);
    const float* base = logits.data<float>();
    pool_.parallelFor(static_cast<int64_t>(rows.size()), 1, [&](int64_t b, int64_t e) {
        thread_local RowScratch scratch;
        for (int64_t i = b; i < e; ++i)
            sampleRow(base, vocab, rows[static_cast<size_t>(i)], params, scratch, out, static_cast<size_t>(i));
    });
    countHostRead(out.bytes());
}

} // namespace cpu
} // namespace tessera
