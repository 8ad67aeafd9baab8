// Speculative Jacobi decoding keeps the plain sampler's distribution.
//
// Over many seeds, the per-cell token histograms of SJD and of plain sampling are compared by a
// chi-square test of homogeneity (two samples, bins with a pooled count under 10 merged into one). The
// significance level is 0.001 for the whole family of cells of a run (Bonferroni: each cell is tested
// at 0.001 / cells), so an exact sampler fails a run by chance with probability at most 0.001; the
// seeds are fixed, so the outcome is deterministic. The same test is run with a deliberately broken
// acceptance rule (every draft accepted) and must reject, which shows the test can fail.
//
// Raster order: a toy step model (8-token vocabulary, 3×3 grid, two CFG branches whose logits depend on
// the two previous cells) for the core at 4,000 seeds, and the janus_tiny reference checkpoint (64
// codes, 4×4 grid) through the whole pipeline at 2,000 samples. Window order (Token-Shuffle): a toy
// window model (6×6 grid of 2×2 windows, each slot's logits depending on two slots of the window before)
// at 4,000 seeds, and a tiny random Token-Shuffle checkpoint (32 codes, 4×4 grid, s = 2) through its
// pipeline at 2,000 samples (1,000 calls of 2 images). TESSERA_SJD_SEEDS_SCALE scales them all (the `long`
// ctest variant runs ten times as many).
#include "engine/token_shuffle_test_util.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/token_shuffle.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <unistd.h>
#include <vector>

namespace tessera {

namespace {

constexpr double kFamilyAlpha = 0.001;

int64_t seedsScale() {
    const char* env = std::getenv("TESSERA_SJD_SEEDS_SCALE");
    const int64_t v = env ? std::atoll(env) : 1;
    return std::max<int64_t>(1, v);
}

// Regularised lower incomplete gamma P(a, x) by its power series (fine for the small degrees of freedom
// used here); the chi-square survival function is 1 − P(k/2, x/2).
double chiSquareSurvival(double stat, int dof) {
    if (stat <= 0) return 1.0;
    const double a = dof / 2.0, x = stat / 2.0;
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 100000; ++n) {
        term *= x / (a + n);
        sum += term;
        if (term < sum * 1e-16) break;
    }
    const double lower = std::exp(a * std::log(x) - x - std::lgamma(a)) * sum;
    return std::max(0.0, 1.0 - lower);
}

TEST(SjdChiSquare, SurvivalFunctionMatchesClosedForms) {
    // Independent closed forms: one degree of freedom, erfc(sqrt(x/2)); 2m degrees of freedom,
    // e^(−x/2) · sum_{i<m} (x/2)^i / i!.
    for (double x : {0.5, 3.841, 10.83})
        EXPECT_NEAR(chiSquareSurvival(x, 1), std::erfc(std::sqrt(x / 2)), 1e-9) << x;
    for (int m : {1, 4, 20, 32})
        for (double x : {1.0, 2.0 * m, 2.0 * m + 6.0 * std::sqrt(m), 150.0}) {
            double term = 1, sum = 0;
            for (int i = 0; i < m; ++i) {
                sum += term;
                term *= (x / 2) / (i + 1);
            }
            const double expected = std::exp(-x / 2) * sum;
            EXPECT_NEAR(chiSquareSurvival(x, 2 * m), expected, 1e-9 + 1e-7 * expected)
                << "dof " << 2 * m << ", x " << x;
        }
}

// p-value of the two-sample homogeneity test for one cell's token counts.
double homogeneityPValue(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    double na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) na += static_cast<double>(a[i]), nb += static_cast<double>(b[i]);
    std::vector<std::pair<double, double>> bins;
    std::pair<double, double> rare{0, 0};
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] + b[i] >= 10)
            bins.emplace_back(static_cast<double>(a[i]), static_cast<double>(b[i]));
        else
            rare.first += static_cast<double>(a[i]), rare.second += static_cast<double>(b[i]);
    }
    if (rare.first + rare.second > 0) bins.push_back(rare);
    if (bins.size() < 2) return 1.0;
    double stat = 0;
    for (const auto& [x, y] : bins) {
        const double ex = (x + y) * na / (na + nb), ey = (x + y) * nb / (na + nb);
        stat += (x - ex) * (x - ex) / ex + (y - ey) * (y - ey) / ey;
    }
    return chiSquareSurvival(stat, static_cast<int>(bins.size()) - 1);
}

// counts[cell][token]
using Histograms = std::vector<std::vector<int64_t>>;

// The Bonferroni family p-value (the smallest per-cell p-value times the number of cells, at most 1) and
// the cell it came from.
std::pair<double, int> familyPValue(const Histograms& a, const Histograms& b) {
    double worst = 2.0;
    int cell = -1;
    for (size_t c = 0; c < a.size(); ++c) {
        const double p = homogeneityPValue(a[c], b[c]);
        if (p < worst) worst = p, cell = static_cast<int>(c);
    }
    return {std::min(1.0, worst * static_cast<double>(a.size())), cell};
}

// ---- the toy model ---------------------------------------------------------------------------------

constexpr int64_t kToyVocab = 8, kToySide = 3, kToyCells = kToySide * kToySide;

// Logits of one branch at `cell` given the two previous cells' tokens (-1 before the grid).
float toyLogit(int branch, int64_t cell, int32_t prev1, int32_t prev2, int64_t v) {
    const double x = 1.3 * static_cast<double>(v) + 0.7 * static_cast<double>(cell) + 0.9 * (prev1 + 1) +
                     0.4 * (prev2 + 1);
    return static_cast<float>(
        branch == 0 ? 2.0 * std::sin(x) + 0.25 * static_cast<double>(v == (cell + prev1 + 8) % kToyVocab)
                    : 1.5 * std::cos(0.8 * x));
}

// A step model over the toy logits that keeps a state like a KV cache (the tokens it was fed) and
// enforces the window contract of StepModel.
class ToyModel final : public StepModel {
public:
    ToyModel(Backend& be, int64_t sequences)
        : be_(be), seqs_(sequences), fed_(static_cast<size_t>(sequences)) {}

    Tensor stepLogits(const std::vector<int64_t>& positions, const DecodeOrder& order) override {
        const int64_t cell = positions[0];
        for (int64_t q = 0; q < seqs_; ++q) {
            auto& f = fed_[static_cast<size_t>(q)];
            f.assign(order.grid(q).begin(), order.grid(q).begin() + cell);
        }
        return logitsFor({cell}, 0);
    }

    bool supportsWindows() const override { return true; }

    Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts,
                        const DecodeOrder& order) override {
        for (int64_t q = 0; q < seqs_; ++q) {
            auto& f = fed_[static_cast<size_t>(q)];
            if (static_cast<int64_t>(f.size()) != std::max<int64_t>(0, first - 1))
                throw Error("toy model: state out of step");
            if (first > 0) f.push_back(order.grid(q)[static_cast<size_t>(first - 1)]);
            for (int32_t d : drafts[static_cast<size_t>(q)]) f.push_back(d);
        }
        const int64_t m = static_cast<int64_t>(drafts[0].size());
        std::vector<int64_t> cells;
        for (int64_t c = first; c <= first + m; ++c) cells.push_back(c);
        ++windows_;
        return logitsFor(cells, first);
    }

    void cropTo(int64_t cells) override {
        for (auto& f : fed_) {
            if (static_cast<int64_t>(f.size()) < cells) throw Error("toy model: crop past the state");
            f.resize(static_cast<size_t>(cells));
        }
    }

    int64_t windows() const { return windows_; }

private:
    // [seqs · 2, cells.size(), V]: cell c sees fed tokens c−1 and c−2.
    Tensor logitsFor(const std::vector<int64_t>& cells, int64_t) {
        const int64_t n = static_cast<int64_t>(cells.size());
        std::vector<float> out(static_cast<size_t>(seqs_ * 2 * n * kToyVocab));
        for (int64_t q = 0; q < seqs_; ++q) {
            const auto& f = fed_[static_cast<size_t>(q)];
            for (int b = 0; b < 2; ++b)
                for (int64_t i = 0; i < n; ++i) {
                    const int64_t c = cells[static_cast<size_t>(i)];
                    const int32_t p1 = c >= 1 ? f.at(static_cast<size_t>(c - 1)) : -1,
                                  p2 = c >= 2 ? f.at(static_cast<size_t>(c - 2)) : -1;
                    for (int64_t v = 0; v < kToyVocab; ++v)
                        out[static_cast<size_t>(((q * 2 + b) * n + i) * kToyVocab + v)] =
                            toyLogit(b, c, p1, p2, v);
                }
        }
        return be_.fromF32(out, {seqs_ * 2, n, kToyVocab});
    }

    Backend& be_;
    int64_t seqs_;
    std::vector<std::vector<int32_t>> fed_;
    int64_t windows_ = 0;
};

struct ToyRun {
    Histograms counts =
        Histograms(static_cast<size_t>(kToyCells), std::vector<int64_t>(static_cast<size_t>(kToyVocab), 0));
    int64_t steps = 0, samples = 0;
};

// One run of the loop per seed, each on a fresh Model(be, sequences) and Order(sequences, order_args...),
// the sampling seed seed · 7919 + offset; counts every cell's token.
template <class Model, class Order, class... OrderArgs>
ToyRun countOverSeeds(Backend& be, int64_t seeds, int64_t sequences, const GenerationSettings& base,
                      uint64_t offset, OrderArgs... order_args) {
    ToyRun r;
    std::atomic<bool> never{false};
    for (int64_t seed = 0; seed < seeds; ++seed) {
        Model model(be, sequences);
        Order order(sequences, order_args...);
        if (r.counts.size() != static_cast<size_t>(order.cells()))
            r.counts.assign(static_cast<size_t>(order.cells()),
                            std::vector<int64_t>(static_cast<size_t>(kToyVocab), 0));
        GenerationSettings gs = base;
        gs.sampling.seed = static_cast<uint64_t>(seed) * 7919 + offset;
        JobContext ctx(
            1, [](const Event&) {}, &never);
        GenerationLoop loop(be, order, model, gs, ctx);
        auto out = loop.run();
        EXPECT_TRUE(out.ok()) << out.error();
        if (!out.ok()) return r;
        r.steps += out->steps;
        for (int64_t q = 0; q < sequences; ++q) {
            for (int64_t c = 0; c < order.cells(); ++c)
                ++r.counts[static_cast<size_t>(c)]
                          [static_cast<size_t>(order.grid(q)[static_cast<size_t>(c)])];
            ++r.samples;
        }
    }
    return r;
}

ToyRun runToy(Backend& be, int64_t seeds, int64_t sequences, const GenerationSettings& base) {
    return countOverSeeds<ToyModel, RasterOrder>(be, seeds, sequences, base, 1, kToySide, kToySide);
}

GenerationSettings toySettings() {
    GenerationSettings gs;
    gs.branches = 2;
    gs.cond_branch = 0;
    gs.uncond_branch = 1;
    gs.cfg = 2.5f;
    gs.cfg_schedule = CfgSchedule::Linear;
    gs.sampling.temperature = 0.9f;
    gs.sampling.report_k = 2;
    return gs;
}

GenerationSettings sjd(GenerationSettings gs, int window, SjdInit init = SjdInit::Random) {
    gs.decode.strategy = DecodeStrategy::Sjd;
    gs.decode.window = window;
    gs.decode.init = init;
    return gs;
}

} // namespace

TEST(SjdDistribution, ToyModelMatchesPlainSamplingAndABrokenRuleDoesNot) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    const int64_t seeds = 2000 * seedsScale();
    const GenerationSettings base = toySettings();
    const ToyRun plain = runToy(**be, seeds, 2, base);
    ASSERT_EQ(plain.samples, 2 * seeds);
    EXPECT_EQ(plain.steps, seeds * kToyCells);

    for (SjdInit init : {SjdInit::Random, SjdInit::Spatial}) {
        const ToyRun spec = runToy(**be, seeds, 2, sjd(base, 4, init));
        const auto [p, cell] = familyPValue(plain.counts, spec.counts);
        EXPECT_GE(p, kFamilyAlpha) << sjdInitName(init) << " initialisation: cell " << cell
                                   << " differs from plain sampling";
        // The point of it: fewer forward passes than cells.
        EXPECT_LT(spec.steps, plain.steps) << sjdInitName(init);
        std::printf("toy, %s init: %.3f steps per image for %lld cells (family p-value %.3g)\n",
                    sjdInitName(init), static_cast<double>(spec.steps) / static_cast<double>(seeds),
                    static_cast<long long>(kToyCells), p);
    }

    GenerationSettings broken = sjd(base, 4);
    broken.sjd_accept = [](double, double) { return 1.0; };
    const ToyRun bad = runToy(**be, seeds, 2, broken);
    const auto [p_bad, cell_bad] = familyPValue(plain.counts, bad.counts);
    EXPECT_LT(p_bad, kFamilyAlpha) << "always accepting drafts went unnoticed";
    std::printf("toy, always-accept rule: family p-value %.3g (cell %d)\n", p_bad, cell_bad);
}

TEST(SjdDistribution, ToyModelWithTopKTopPAndMinPFilters) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    const int64_t seeds = 2000 * seedsScale();
    GenerationSettings base = toySettings();
    base.sampling.top_k = 6;
    base.sampling.top_p = 0.9f;
    base.sampling.min_p = 0.02f;
    const ToyRun plain = runToy(**be, seeds, 1, base);
    const ToyRun spec = runToy(**be, seeds, 1, sjd(base, 8));
    const auto [p, cell] = familyPValue(plain.counts, spec.counts);
    EXPECT_GE(p, kFamilyAlpha) << "cell " << cell;
}

TEST(SjdDistribution, GreedyIsJacobiDecodingAndGivesThePlainTokens) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    GenerationSettings base = toySettings();
    base.sampling.temperature = 0;
    const ToyRun plain = runToy(**be, 3, 3, base);
    const ToyRun spec = runToy(**be, 3, 3, sjd(base, 5));
    EXPECT_EQ(plain.counts, spec.counts);
}

// ---- janus_tiny through the pipeline -------------------------------------------------------------------

namespace {

const std::string kJanus = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";

struct JanusRuns {
    Histograms counts;
    int64_t steps = 0, samples = 0;
};

JanusRuns runJanus(JanusPipeline& p, int64_t calls, int images, const DecodeSettings& decode) {
    JanusRuns r;
    const int64_t cells = p.info().grid_h * p.info().grid_w;
    r.counts.assign(static_cast<size_t>(cells),
                    std::vector<int64_t>(static_cast<size_t>(p.info().codebook), 0));
    std::atomic<bool> never{false};
    for (int64_t call = 0; call < calls; ++call) {
        JanusRequest req;
        req.prompt = "a red cube";
        req.seed = static_cast<uint64_t>(call) + 11;
        req.images = images;
        req.previews = false;
        req.sampler.cfg = 3.0f;
        req.decode = decode;
        JobContext ctx(
            1, [](const Event&) {}, &never);
        auto out = p.generate(req, ctx);
        EXPECT_TRUE(out.ok()) << out.error();
        if (!out.ok()) return r;
        r.steps += out->decode_steps;
        for (const auto& t : out->tokens) {
            EXPECT_EQ(static_cast<int64_t>(t.size()), cells);
            for (int64_t c = 0; c < cells && c < static_cast<int64_t>(t.size()); ++c)
                ++r.counts[static_cast<size_t>(c)][static_cast<size_t>(t[static_cast<size_t>(c)])];
            ++r.samples;
        }
    }
    return r;
}

} // namespace

TEST(SjdDistribution, JanusTinyMatchesPlainSampling) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    auto p = JanusPipeline::load(kJanus, **be);
    ASSERT_TRUE(p.ok()) << p.error();
    const int images = 8;
    const int64_t calls = 250 * seedsScale(); // 2,000 samples per strategy
    const JanusRuns plain = runJanus(**p, calls, images, {});
    DecodeSettings d;
    d.strategy = DecodeStrategy::Sjd;
    d.window = 6;
    const JanusRuns spec = runJanus(**p, calls, images, d);
    ASSERT_EQ(spec.samples, plain.samples);
    const auto [pv, cell] = familyPValue(plain.counts, spec.counts);
    EXPECT_GE(pv, kFamilyAlpha) << "cell " << cell << " differs from plain sampling";
    EXPECT_LT(spec.steps, plain.steps);
    std::printf("janus_tiny: %lld samples, %.2f vs %.2f forward passes per call, family p-value %.3g\n",
                static_cast<long long>(spec.samples),
                static_cast<double>(plain.steps) / static_cast<double>(calls),
                static_cast<double>(spec.steps) / static_cast<double>(calls), pv);
}

// ---- the toy window model (Token-Shuffle's order) ----------------------------------------------------

namespace {

constexpr int64_t kWinSide = 6, kWin = 2, kWinSlots = kWin * kWin,
                  kWinUnits = (kWinSide / kWin) * (kWinSide / kWin);

// Logits of one branch for slot k of window u given two slots of window u − 1 (-1 before the grid).
float windowLogit(int branch, int64_t u, int64_t k, int32_t a, int32_t b, int64_t v) {
    const double x = 1.1 * static_cast<double>(v) + 0.6 * static_cast<double>(u) +
                     0.5 * static_cast<double>(k) + 0.5 * (a + 1) + 0.2 * (b + 1);
    return static_cast<float>(branch == 0 ? 2.2 * std::sin(x) +
                                                0.3 * static_cast<double>(v == (k + a + 8) % kToyVocab)
                                          : 1.4 * std::cos(0.7 * x));
}

// A step model whose units are 2×2 windows: its state (like a KV cache) is the windows it was fed, in
// decode order, s² tokens each; the window contract of StepModel counts windows.
class ToyWindowModel final : public StepModel {
public:
    ToyWindowModel(Backend& be, int64_t sequences)
        : be_(be), seqs_(sequences), fed_(static_cast<size_t>(sequences)) {}

    Tensor stepLogits(const std::vector<int64_t>&, const DecodeOrder& order) override {
        const auto& windows = static_cast<const WindowOrder&>(order);
        const int64_t unit = order.step();
        for (int64_t q = 0; q < seqs_; ++q) {
            auto& f = fed_[static_cast<size_t>(q)];
            f.clear();
            for (int64_t w = 0; w < unit; ++w)
                for (int64_t c : windows.windowCells(w)) f.push_back(order.grid(q)[static_cast<size_t>(c)]);
        }
        return logitsFor(unit, 1);
    }

    bool supportsWindows() const override { return true; }

    Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts,
                        const DecodeOrder& order) override {
        const auto& windows = static_cast<const WindowOrder&>(order);
        for (int64_t q = 0; q < seqs_; ++q) {
            auto& f = fed_[static_cast<size_t>(q)];
            if (static_cast<int64_t>(f.size()) != std::max<int64_t>(0, first - 1) * kWinSlots)
                throw Error("toy window model: state out of step");
            if (first > 0)
                for (int64_t c : windows.windowCells(first - 1))
                    f.push_back(order.grid(q)[static_cast<size_t>(c)]);
            for (int32_t d : drafts[static_cast<size_t>(q)]) f.push_back(d);
        }
        return logitsFor(first, static_cast<int64_t>(drafts[0].size()) / kWinSlots + 1);
    }

    void cropTo(int64_t units) override {
        for (auto& f : fed_) {
            if (static_cast<int64_t>(f.size()) < units * kWinSlots)
                throw Error("toy window model: crop past the state");
            f.resize(static_cast<size_t>(units * kWinSlots));
        }
    }

private:
    // [seqs · 2, n · s², V] for windows [first, first + n).
    Tensor logitsFor(int64_t first, int64_t n) {
        std::vector<float> out(static_cast<size_t>(seqs_ * 2 * n * kWinSlots * kToyVocab));
        for (int64_t q = 0; q < seqs_; ++q) {
            const auto& f = fed_[static_cast<size_t>(q)];
            for (int b = 0; b < 2; ++b)
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t k = 0; k < kWinSlots; ++k) {
                        const int64_t u = first + i, base = (u - 1) * kWinSlots;
                        const int32_t a = u >= 1 ? f.at(static_cast<size_t>(base + k)) : -1,
                                      c = u >= 1 ? f.at(static_cast<size_t>(base + (k + 1) % kWinSlots)) : -1;
                        for (int64_t v = 0; v < kToyVocab; ++v)
                            out[static_cast<size_t>((((q * 2 + b) * n + i) * kWinSlots + k) * kToyVocab +
                                                    v)] = windowLogit(b, u, k, a, c, v);
                    }
        }
        return be_.fromF32(out, {seqs_ * 2, n * kWinSlots, kToyVocab});
    }

    Backend& be_;
    int64_t seqs_;
    std::vector<std::vector<int32_t>> fed_;
};

ToyRun runToyWindows(Backend& be, int64_t seeds, int64_t sequences, const GenerationSettings& base) {
    return countOverSeeds<ToyWindowModel, WindowOrder>(be, seeds, sequences, base, 3, kWinSide, kWinSide,
                                                       kWin);
}

} // namespace

TEST(SjdDistribution, ToyWindowModelMatchesPlainSamplingAndABrokenRuleDoesNot) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    const int64_t seeds = 2000 * seedsScale();
    GenerationSettings base = toySettings();
    base.cfg_schedule = CfgSchedule::HalfLinear; // Token-Shuffle's default
    const ToyRun plain = runToyWindows(**be, seeds, 2, base);
    ASSERT_EQ(plain.samples, 2 * seeds);
    EXPECT_EQ(plain.steps, seeds * kWinUnits);
    for (SjdInit init : {SjdInit::Random, SjdInit::Spatial}) {
        const ToyRun spec = runToyWindows(**be, seeds, 2, sjd(base, 2, init));
        const auto [p, cell] = familyPValue(plain.counts, spec.counts);
        EXPECT_GE(p, kFamilyAlpha) << sjdInitName(init) << " initialisation: cell " << cell
                                   << " differs from plain sampling";
        EXPECT_LT(spec.steps, plain.steps) << sjdInitName(init);
        std::printf("toy windows, %s init: %.3f steps per image for %lld windows (family p-value %.3g)\n",
                    sjdInitName(init), static_cast<double>(spec.steps) / static_cast<double>(seeds),
                    static_cast<long long>(kWinUnits), p);
    }
    GenerationSettings broken = sjd(base, 2);
    broken.sjd_accept = [](double, double) { return 1.0; };
    const ToyRun bad = runToyWindows(**be, seeds, 2, broken);
    const auto [p_bad, cell_bad] = familyPValue(plain.counts, bad.counts);
    EXPECT_LT(p_bad, kFamilyAlpha) << "always accepting drafts went unnoticed";
    std::printf("toy windows, always-accept rule: family p-value %.3g (cell %d)\n", p_bad, cell_bad);
}

TEST(SjdDistribution, TinyTokenShuffleMatchesPlainSampling) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tessera_sjd_tshuffle_" + std::to_string(::getpid()));
    const bench::TokenShuffleShape shape = test::tinyTokenShuffleShape(32, 4);
    Status st = bench::writeRandomTokenShuffleCheckpoint(shape, dir.string(), kJanus, 7);
    ASSERT_TRUE(st.ok()) << st.message();
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    auto p = TokenShufflePipeline::load(dir.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    const int64_t cells = shape.grid * shape.grid, calls = 1000 * seedsScale(), images = 2;
    auto run = [&](const DecodeSettings& decode, int64_t& steps, int64_t& accepted) {
        Histograms counts(static_cast<size_t>(cells),
                          std::vector<int64_t>(static_cast<size_t>(shape.codebook), 0));
        std::atomic<bool> never{false};
        for (int64_t call = 0; call < calls; ++call) {
            TokenShuffleRequest req;
            req.prompt = "a red cube";
            req.seed = static_cast<uint64_t>(call) + 17;
            req.images = static_cast<int>(images);
            req.previews = false;
            req.decode_images = false;
            req.sampler.cfg = 3.0f;
            req.sampler.temperature =
                0.25f; // the random model's logits are flat: sharpen them so drafts pass
            req.decode = decode;
            JobContext ctx(
                1, [](const Event&) {}, &never);
            auto out = (*p)->generate(req, ctx);
            EXPECT_TRUE(out.ok()) << out.error();
            if (!out.ok()) break;
            steps += out->steps;
            accepted += out->drafts_accepted;
            for (const auto& grid : out->grids)
                for (int64_t c = 0; c < cells; ++c)
                    ++counts[static_cast<size_t>(c)][static_cast<size_t>(grid[static_cast<size_t>(c)])];
        }
        return counts;
    };
    int64_t plain_steps = 0, spec_steps = 0, plain_accepted = 0, accepted = 0;
    const Histograms plain = run({}, plain_steps, plain_accepted);
    DecodeSettings d;
    d.strategy = DecodeStrategy::Sjd;
    d.window = 3;
    const Histograms spec = run(d, spec_steps, accepted);
    fs::remove_all(dir);
    const auto [pv, cell] = familyPValue(plain, spec);
    EXPECT_GE(pv, kFamilyAlpha) << "cell " << cell << " differs from plain sampling";
    EXPECT_EQ(plain_steps, calls * (cells / (shape.window * shape.window)));
    EXPECT_LT(spec_steps, plain_steps);
    EXPECT_GT(accepted, 0) << "no draft passed: the acceptance path went untested";
    std::printf("tiny Token-Shuffle: %lld samples, %.2f vs %.2f forward passes per call, %.2f of %lld drafts "
                "accepted per image, family p-value %.3g\n",
                static_cast<long long>(calls * images),
                static_cast<double>(plain_steps) / static_cast<double>(calls),
                static_cast<double>(spec_steps) / static_cast<double>(calls),
                static_cast<double>(accepted) / static_cast<double>(calls * images),
                static_cast<long long>(cells), pv);
}

} // namespace tessera
