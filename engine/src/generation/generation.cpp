// The generation loop shared by every method.
#include "tessera/engine/generation.h"

#include <chrono>
#include <cmath>
#include <numbers>

#include "tessera/engine/sampler.h"

namespace tessera {

namespace {

using Clock = std::chrono::steady_clock;

double nowMs() {
    return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

} // namespace

float cfgWeightAt(CfgSchedule schedule, float weight, int64_t t, int64_t total) {
    const double frac = total > 0 ? static_cast<double>(t) / static_cast<double>(total) : 1.0;
    switch (schedule) {
    case CfgSchedule::Constant: return weight;
    case CfgSchedule::Linear: return static_cast<float>(1.0 + (weight - 1.0) * frac);
    case CfgSchedule::HalfLinear: return static_cast<float>(1.0 + (weight - 1.0) * std::min(1.0, 2.0 * frac));
    case CfgSchedule::Cosine: return static_cast<float>(1.0 + (weight - 1.0) * (1.0 - std::cos(std::numbers::pi * frac)) / 2.0);
    }
    return weight;
}

const char* cfgScheduleName(CfgSchedule schedule) {
    switch (schedule) {
    case CfgSchedule::Constant: return "constant";
    case CfgSchedule::Linear: return "linear";
    case CfgSchedule::HalfLinear: return "half-linear";
    case CfgSchedule::Cosine: return "cosine";
    }
    return "constant";
}

std::optional<CfgSchedule> cfgScheduleFromName(std::string_view name) {
    for (CfgSchedule s : {CfgSchedule::Constant, CfgSchedule::Linear, CfgSchedule::HalfLinear, CfgSchedule::Cosine})
        if (name == cfgScheduleName(s)) return s;
    return std::nullopt;
}

Tensor StepModel::windowLogits(int64_t, const std::vector<std::vector<int32_t>>&, const DecodeOrder&) {
    throw Error("this model decodes one step at a time: speculative decoding is not available for it");
}

void StepModel::cropTo(int64_t) {
    throw Error("this model decodes one step at a time: speculative decoding is not available for it");
}

GenerationLoop::GenerationLoop(Backend& backend, DecodeOrder& order, StepModel& model, GenerationSettings settings,
                               JobContext& ctx)
    : backend_(backend), order_(order), model_(model), settings_(std::move(settings)), ctx_(ctx) {}

double GenerationLoop::elapsedMs() const { return nowMs() - start_ms_; }

Expected<GenerationOutcome> GenerationLoop::run(const std::function<Status(int64_t step)>& after_step) {
    const GenerationSettings& s = settings_;
    const int64_t seqs = order_.sequences();
    if (s.branches < 1 || s.cond_branch < 0 || s.cond_branch >= s.branches || s.uncond_branch >= s.branches)
        return Status::error("generation: branch layout out of range");
    if (!std::isfinite(s.cfg)) return Status::error("the guidance weight must be a finite number");
    const bool positional = order_.commitsEverySample();
    for (const auto& f : s.forced)
        if (!f.empty() && !positional) return Status::error("forced tokens need a raster or window decode order");
    if (static_cast<int64_t>(s.forced.size()) > seqs) return Status::error("forced tokens for more sequences than the batch");
    if (s.decode.strategy == DecodeStrategy::Sjd) return runSpeculative(after_step);

    GenerationOutcome out;
    start_ms_ = nowMs();
    std::vector<SampleRow> rows;
    SampleResult& sampled = sampled_;
    std::vector<int32_t> tokens;
    std::vector<float> log_probs;
    std::vector<int32_t> before;
    try {
        while (!order_.done()) {
            if (ctx_.cancelled()) {
                out.cancelled = true;
                break;
            }
            const double t_step = nowMs();
            const std::vector<int64_t> positions = order_.next();
            const int64_t npos = static_cast<int64_t>(positions.size());
            Tensor logits = model_.stepLogits(positions, order_);
            if (logits.dim(0) != seqs * s.branches || (logits.rank() == 3 && logits.dim(1) != npos))
                return Status::error("generation: the model returned logits of shape " + shapeString(logits.shape()) +
                                     " for " + std::to_string(seqs) + " sequence(s) × " + std::to_string(s.branches) +
                                     " branch(es) × " + std::to_string(npos) + " position(s)");
            const int64_t vocab = logits.dim(-1);
            const float w = cfgWeightAt(s.cfg_schedule, s.cfg, order_.step(), order_.totalSteps());

            rows.resize(static_cast<size_t>(seqs * npos));
            for (int64_t q = 0; q < seqs; ++q) {
                const int64_t base = order_.known(q);
                const std::vector<int32_t>* forced = q < static_cast<int64_t>(s.forced.size()) ? &s.forced[static_cast<size_t>(q)] : nullptr;
                for (int64_t i = 0; i < npos; ++i) {
                    SampleRow& r = rows[static_cast<size_t>(q * npos + i)];
                    r.cond = (q * s.branches + s.cond_branch) * npos + i;
                    r.uncond = s.uncond_branch >= 0 ? (q * s.branches + s.uncond_branch) * npos + i : -1;
                    r.cfg = w;
                    r.stream = static_cast<uint64_t>(q);
                    // Raster keeps today's Philox index (the position); other orders key by position too,
                    // offset by the step so MaskGIT's repeated draws of a cell differ.
                    r.index = static_cast<uint64_t>(positional ? positions[static_cast<size_t>(i)]
                                                               : order_.step() * order_.cells() + positions[static_cast<size_t>(i)]);
                    const int64_t fi = base + i;
                    r.forced = forced && positional && fi < static_cast<int64_t>(forced->size()) ? (*forced)[static_cast<size_t>(fi)] : -1;
                    if (r.forced >= vocab) return Status::error("forced token " + std::to_string(r.forced) + " outside the vocabulary");
                }
            }
            backend_.sample(logits, rows, s.sampling, sampled);

            if (order_.step() < s.capture_guided_steps) {
                // Oracle path only: guided logits on the host.
                const std::vector<float> all = backend_.readF32(logits);
                std::vector<float> guided(static_cast<size_t>(seqs * npos * vocab));
                for (size_t r = 0; r < rows.size(); ++r) {
                    const float* c = all.data() + rows[r].cond * vocab;
                    float* g = guided.data() + static_cast<int64_t>(r) * vocab;
                    if (rows[r].uncond < 0) {
                        std::copy(c, c + vocab, g);
                    } else {
                        cfgCombine(c, all.data() + rows[r].uncond * vocab, rows[r].cfg, vocab, g);
                    }
                }
                out.guided_logits.push_back(std::move(guided));
            }

            // Commit per sequence; TokenSampled for every cell that became known.
            for (int64_t q = 0; q < seqs; ++q) {
                tokens.assign(sampled.token.begin() + q * npos, sampled.token.begin() + (q + 1) * npos);
                log_probs.resize(static_cast<size_t>(npos));
                before.resize(static_cast<size_t>(npos));
                for (int64_t i = 0; i < npos; ++i) {
                    log_probs[static_cast<size_t>(i)] = std::log(std::max(sampled.probability[static_cast<size_t>(q * npos + i)], 1e-30f));
                    before[static_cast<size_t>(i)] = order_.grid(q)[static_cast<size_t>(positions[static_cast<size_t>(i)])];
                }
                order_.commit(q, positions, tokens.data(), log_probs.data());
                for (int64_t i = 0; i < npos; ++i) {
                    const int64_t cell = positions[static_cast<size_t>(i)];
                    if (before[static_cast<size_t>(i)] >= 0 || order_.grid(q)[static_cast<size_t>(cell)] < 0) continue;
                    const size_t r = static_cast<size_t>(q * npos + i);
                    TokenSampled ev;
                    ev.job_id = ctx_.id();
                    ev.image = static_cast<int>(q);
                    ev.position = static_cast<int>(cell);
                    ev.token = sampled.token[r];
                    ev.probability = sampled.probability[r];
                    ev.entropy = sampled.entropy[r];
                    ev.guidance_kl = sampled.guidance_kl[r];
                    ev.rank = sampled.rank[r];
                    ev.step = static_cast<int>(order_.step());
                    const size_t k = static_cast<size_t>(sampled.report_k);
                    ev.top_ids.assign(sampled.top_ids.begin() + static_cast<std::ptrdiff_t>(r * k),
                                      sampled.top_ids.begin() + static_cast<std::ptrdiff_t>((r + 1) * k));
                    ev.top_probs.assign(sampled.top_probs.begin() + static_cast<std::ptrdiff_t>(r * k),
                                        sampled.top_probs.begin() + static_cast<std::ptrdiff_t>((r + 1) * k));
                    while (!ev.top_ids.empty() && ev.top_ids.back() < 0) {
                        ev.top_ids.pop_back();
                        ev.top_probs.pop_back();
                    }
                    ctx_.emit(ev);
                }
            }
            order_.advance();
            ++out.steps;

            emitTiming(out, t_step);

            if (after_step) {
                const double t_after = nowMs();
                Status st = after_step(order_.step());
                out.after_ms += nowMs() - t_after;
                if (!st.ok()) return st;
            }
        }
    } catch (const Error& e) {
        return Status::error(std::string("generation failed: ") + e.what());
    }
    out.decode_ms = elapsedMs() - out.after_ms;
    return out;
}

void GenerationLoop::emitTiming(GenerationOutcome& out, double t_step) {
    StepTiming timing;
    timing.job_id = ctx_.id();
    timing.step = static_cast<int>(order_.step());
    timing.total = static_cast<int>(order_.totalSteps());
    timing.step_ms = nowMs() - t_step;
    out.decode_ms = elapsedMs() - out.after_ms;
    int64_t done_cells = 0;
    for (int64_t q = 0; q < order_.sequences(); ++q) done_cells += order_.known(q);
    timing.tokens_per_s = out.decode_ms > 0 ? static_cast<double>(done_cells) * 1000.0 / out.decode_ms : 0;
    timing.first_preview_ms = first_preview_ms_;
    timing.kv_cache_bytes = model_.kvCacheBytes();
    timing.model_bytes = model_.modelBytes();
    ctx_.emit(timing);
}

} // namespace tessera
