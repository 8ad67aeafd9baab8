// Dispatch of reference sets by their files, and the causal-LM set (prefill, KV-cached steps, greedy).
#include "tessera/engine/verify.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"
#include "verify/verify_internal.h"

namespace fs = std::filesystem;

namespace tessera {

bool VerifyReport::passed() const {
    return !checks.empty() && std::all_of(checks.begin(), checks.end(), [](const VerifyCheck& c) { return c.passed; });
}

namespace verify {

VerifyCheck compareF32(const std::string& name, const std::vector<float>& got, const std::vector<float>& want,
                       double tolerance) {
    VerifyCheck c;
    c.name = name;
    c.tolerance = tolerance;
    if (got.size() != want.size()) {
        c.detail = "size " + std::to_string(got.size()) + " vs golden " + std::to_string(want.size());
        c.max_abs_diff = INFINITY;
        return c;
    }
    double mx = 0, scale = 1;
    for (float w : want) scale = std::max(scale, static_cast<double>(std::fabs(w)));
    for (size_t i = 0; i < got.size(); ++i) {
        double d = std::fabs(static_cast<double>(got[i]) - want[i]);
        if (std::isnan(d)) d = INFINITY;
        mx = std::max(mx, d);
    }
    c.max_abs_diff = mx;
    // Tolerance is absolute for values of order one, relative to the largest magnitude beyond that.
    c.passed = mx <= tolerance * scale;
    return c;
}

VerifyCheck compareIds(const std::string& name, const std::vector<int64_t>& got, const std::vector<int64_t>& want) {
    VerifyCheck c;
    c.name = name;
    size_t mismatches = got.size() == want.size() ? 0 : std::max(got.size(), want.size());
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) mismatches += got[i] != want[i];
    c.max_abs_diff = static_cast<double>(mismatches);
    c.passed = mismatches == 0;
    c.detail = c.passed ? "identical" : std::to_string(mismatches) + " of " + std::to_string(want.size()) + " differ";
    return c;
}

Expected<Goldens> Goldens::open(const std::string& dir) {
    auto ck = Checkpoint::openFiles({(fs::path(dir) / "golden.safetensors").string()});
    if (!ck) return ck.status();
    Goldens g;
    g.ckpt = std::move(*ck);
    return g;
}

namespace {
// Golden tensors read while one verifyReferenceSet() call runs on this thread (null outside one).
thread_local std::set<std::string>* t_goldens_read = nullptr;
} // namespace

void recordGoldensInto(std::set<std::string>* names) { t_goldens_read = names; }
void resetGoldenRecorder() { t_goldens_read = nullptr; }

Expected<Tensor> Goldens::tensor(const std::string& name, Backend& backend) const {
    if (!ckpt.has(name)) return Status::error("golden.safetensors has no tensor " + name);
    if (t_goldens_read) t_goldens_read->insert(name);
    return ckpt.load(name, backend);
}

static int64_t argmaxRow(const std::vector<float>& v, size_t offset, size_t n) {
    return static_cast<int64_t>(std::max_element(v.begin() + static_cast<long>(offset), v.begin() + static_cast<long>(offset + n)) -
                                v.begin() - static_cast<long>(offset));
}

Expected<VerifyReport> verifyCausalLm(const std::string& dir, Backend& be) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    {
        auto gold = Goldens::open(dir);
        if (!gold) return gold.status();
        if (!gold->ckpt.has("prefill_logits") || !gold->ckpt.has("greedy_ids"))
            return Status::error(dir + ": reference sets of architecture '" + ckpt->config().architecture() +
                                 "' are not supported by this build (its goldens are not causal-LM goldens)");
    }
    auto model = loadCausalLM(*ckpt, be);
    if (!model) return model.status();
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    VerifyReport report;
    report.kind = "causal-lm";
    auto ids = gold->tensor("input_ids", be);
    auto prefill = gold->tensor("prefill_logits", be);
    auto greedy = gold->tensor("greedy_ids", be);
    auto steps = gold->tensor("step_logits", be);
    for (auto* e : {&ids, &prefill, &greedy, &steps})
        if (!*e) return e->status();
    CausalLM& m = **model;
    const int64_t vocab = m.config().vocab, t0 = ids->dim(1), n_steps = greedy->dim(1);
    KvCache cache = m.newCache(1, t0 + n_steps + 1);
    Tensor hidden = m.forward(m.embed(*ids), cache);
    std::vector<float> logits = be.readF32(m.logits(hidden));
    report.checks.push_back(compareF32("prefill_logits", logits, be.readF32(*prefill), 1e-4));

    // Greedy continuation, one KV-cached step at a time: step s's logits choose greedy token s (step 0's
    // are the prefill's last row).
    std::vector<int64_t> generated;
    std::vector<float> step_logits(logits.end() - vocab, logits.end());
    std::vector<float> all_steps;
    for (int64_t s = 0; s < n_steps; ++s) {
        all_steps.insert(all_steps.end(), step_logits.begin(), step_logits.end());
        const int64_t next = argmaxRow(step_logits, 0, static_cast<size_t>(vocab));
        generated.push_back(next);
        if (s + 1 == n_steps) break;
        Tensor h = m.forward(m.embed(be.fromI64({next}, {1, 1})), cache);
        step_logits = be.readF32(m.logits(h));
    }
    report.checks.push_back(compareF32("step_logits", all_steps, be.readF32(*steps), 1e-4));
    report.checks.push_back(compareIds("greedy_ids", generated, be.readI64(*greedy)));

    // The continuous-token path (DiCoDe feeds deep tokens as embeddings): final-normed hidden states.
    if (gold->ckpt.has("inputs_embeds") && gold->ckpt.has("embeds_last_hidden")) {
        auto embeds = gold->tensor("inputs_embeds", be);
        auto want = gold->tensor("embeds_last_hidden", be);
        if (!embeds || !want) return embeds ? want.status() : embeds.status();
        KvCache c2 = m.newCache(embeds->dim(0), embeds->dim(1));
        report.checks.push_back(compareF32("embeds_last_hidden", be.readF32(m.forward(*embeds, c2)), be.readF32(*want), 1e-4));
    }
    return report;
}

} // namespace verify

namespace {
Expected<VerifyReport> runReferenceSet(const std::string& dir, Backend& backend);
} // namespace

// Runs the set, then fails every golden tensor of golden.safetensors that no check read.
Expected<VerifyReport> verifyReferenceSet(const std::string& dir, Backend& backend) {
    std::set<std::string> read;
    verify::recordGoldensInto(&read);
    struct Reset {
        ~Reset() { verify::resetGoldenRecorder(); }
    } reset;
    auto report = runReferenceSet(dir, backend);
    if (!report) return report;
    const fs::path golden = fs::path(dir) / "golden.safetensors";
    if (!fs::exists(golden)) return report;
    auto all = Checkpoint::openFiles({golden.string()});
    if (!all) return all.status();
    for (const std::string& name : all->names()) {
        if (read.count(name)) continue;
        VerifyCheck c;
        c.name = "unknown golden " + name;
        c.max_abs_diff = INFINITY;
        c.detail = "golden.safetensors carries " + name + ", which no check of a " + report->kind + " set compares";
        report->checks.push_back(std::move(c));
    }
    return report;
}

namespace {

Expected<VerifyReport> runReferenceSet(const std::string& dir, Backend& backend) {
    try {
        if (!fs::is_directory(dir)) return Status::error(dir + " is not a folder");
        const bool has_config = fs::exists(fs::path(dir) / "config.json");
        const bool has_golden_st = fs::exists(fs::path(dir) / "golden.safetensors");
        const bool has_tokenizer = fs::exists(fs::path(dir) / "tokenizer.json");
        if (has_tokenizer && fs::exists(fs::path(dir) / "golden.json") && !has_config)
            return verify::verifyTokenizer(dir);
        if (has_config && has_golden_st) {
            auto cfg = ModelConfig::load((fs::path(dir) / "config.json").string());
            if (!cfg) return cfg.status();
            Expected<VerifyReport> report = Status::error("no runner matched");
            bool matched = false;
            for (const auto& kind : verify::extraKinds())
                if (!matched && kind.matches(*cfg)) {
                    report = kind.run(dir, backend);
                    matched = true;
                }
            if (!matched) report = verify::verifyCausalLm(dir, backend);
            // A complete checkpoint folder may also pin down its tokenizer (tokenizer_golden.json).
            if (report && has_tokenizer && fs::exists(fs::path(dir) / "tokenizer_golden.json")) {
                auto tok = verify::verifyTokenizer(dir);
                if (!tok) return tok.status();
                for (auto& c : tok->checks) report->checks.push_back(std::move(c));
            }
            return report;
        }
        if (has_golden_st)
            for (const auto& kind : verify::extraKinds())
                if (kind.matches_folder && kind.matches_folder(dir)) return kind.run(dir, backend);
        return Status::error(dir + ": not a reference set of a known kind (expected config.json + golden.safetensors, "
                                   "or tokenizer.json + golden.json)");
    } catch (const Error& e) {
        return Status::error(dir + ": " + e.what());
    } catch (const std::exception& e) {
        return Status::error(dir + ": unexpected error: " + e.what());
    }
}

} // namespace

} // namespace tessera
