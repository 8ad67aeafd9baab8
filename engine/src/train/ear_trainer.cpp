// The EAR training loop: three frozen CFG branches roll out an image each, the trained copy follows the
// unsafe branch, and windowed accumulation with a loss threshold decides the Adam steps.
//
// Sections: prompts / loading / one iteration / checkpoints / the job.
#include "models/janus_model.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/sampler.h"
#include "tessera/engine/tokenizer.h"
#include "tessera/engine/train_ear.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

namespace tessera::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kFormatKey = "tessera.ear.format";
constexpr const char* kIterationsKey = "tessera.ear.iterations";
constexpr const char* kAdamStepKey = "tessera.ear.adam_step";
constexpr const char* kSettingsKey = "tessera.ear.settings";
constexpr const char* kLossesName = "ear.losses";
constexpr const char* kWindowLossName = "ear.window_loss";
constexpr const char* kWindowUpdateName = "ear.window_update";
const std::string kAvgPrefix = "optimizer.exp_avg.";
const std::string kAvgSqPrefix = "optimizer.exp_avg_sq.";
constexpr int kBranches = 3; // unsafe, safe-neutral, safe-target
} // namespace

const char* earModeName(EarMode mode) {
    return mode == EarMode::Faithful ? "faithful" : "corrected";
}

struct EarTrainer::Impl {
    Backend* be = nullptr;
    std::unique_ptr<JanusModel> frozen;
    LlamaTrainModel model;
    Tokenizer tokenizer;
    int32_t pad_id = 0;
    std::vector<EarPair> pairs;
    int64_t grid_tokens = 0, codebook = 0, context = 0, hidden = 0;
    std::unique_ptr<Adam> adam;

    // ---- prompts ----------------------------------------------------------------------------------

    std::vector<int32_t> promptIds(const std::string& prompt, EarMode mode) const {
        const std::string text =
            mode == EarMode::Corrected ? janusGenerationPrompt(prompt) : prompt + "<begin_of_image>";
        return tokenizer.encode(text, SpecialTokens::kTransformers);
    }
    // To `len` tokens: pads after the first token, or the first token and the last len − 1.
    std::vector<int32_t> align(const std::vector<int32_t>& ids, size_t len) const {
        if (ids.size() == len || ids.empty()) return ids;
        std::vector<int32_t> out{ids[0]};
        if (ids.size() < len) {
            out.insert(out.end(), len - ids.size(), pad_id);
            out.insert(out.end(), ids.begin() + 1, ids.end());
        } else {
            out.insert(out.end(), ids.end() - static_cast<std::ptrdiff_t>(len - 1), ids.end());
        }
        return out;
    }
};

EarTrainer::EarTrainer() : impl_(std::make_unique<Impl>()) {}
EarTrainer::~EarTrainer() = default;

std::vector<Parameter<float>>& EarTrainer::parameters() {
    return impl_->model.parameters();
}
const LmLayout& EarTrainer::layout() const {
    return impl_->frozen->lmLayout();
}

int64_t EarTrainer::stepsPerIteration() const {
    return options_.rollout_tokens > 0 ? std::min<int64_t>(options_.rollout_tokens, impl_->grid_tokens)
                                       : impl_->grid_tokens;
}

// ---- loading --------------------------------------------------------------------------------------

Expected<std::unique_ptr<EarTrainer>> EarTrainer::load(const std::string& dir, std::vector<EarPair> pairs,
                                                       EarOptions o, Backend& backend) {
    if (pairs.empty()) return Status::error("EAR needs at least one prompt pair");
    for (size_t i = 0; i < pairs.size(); ++i)
        if (pairs[i].unsafe.empty() || pairs[i].safe_neutral.empty() || pairs[i].safe_target.empty())
            return Status::error("prompt pair " + std::to_string(i) +
                                 ": unsafe, safe_neutral and safe_target must all be non-empty");
    if (o.layers < 1) return Status::error("EAR trains at least one layer (--layers >= 1)");
    if (o.window < 1) return Status::error("the accumulation window must be at least 1 step");
    if (o.iterations < 0) return Status::error("the number of iterations cannot be negative");
    if (o.rollout_tokens < 0) return Status::error("the rollout length cannot be negative");
    if (!std::isfinite(o.threshold) || !std::isfinite(o.eta) || !std::isfinite(o.cfg) ||
        !(o.temperature >= 0) || !std::isfinite(o.temperature) || !(o.lr > 0) || !std::isfinite(o.lr))
        return Status::error("EAR settings must be finite numbers (temperature >= 0, learning rate > 0)");

    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    auto tok = Tokenizer::load(dir);
    if (!tok) return Status::error(dir + ": " + tok.error());
    auto frozen = JanusModel::load(*ckpt, backend, /*generation_only=*/true);
    if (!frozen) return frozen.status();
    if ((*frozen)->config().layout != "transformers")
        return Status::error(
            dir +
            ": EAR training reads the transformers layout of Janus checkpoints (model.language_model.*); "
            "this one is in the original DeepSeek layout");
    auto model = LlamaTrainModel::load(dir, (*frozen)->lmLayout());
    if (!model) return model.status();

    std::unique_ptr<EarTrainer> t(new EarTrainer());
    Impl& m = *t->impl_;
    m.be = &backend;
    m.tokenizer = std::move(*tok);
    auto pad = janusPadId(m.tokenizer, (*frozen)->lm().config().pad_id, dir);
    if (!pad) return pad.status();
    m.pad_id = *pad;
    m.grid_tokens = (*frozen)->config().grid * (*frozen)->config().grid;
    m.codebook = (*frozen)->config().codebook_size;
    m.context = (*frozen)->lm().config().max_positions;
    m.hidden = (*frozen)->lm().config().hidden;
    m.frozen = std::move(*frozen);
    m.model = std::move(*model);
    m.pairs = std::move(pairs);
    const int model_layers = static_cast<int>(m.model.config().layers);
    if (o.layers > model_layers) {
        t->note_ = "the model has " + std::to_string(model_layers) +
                   " decoder layers; training the q/k/v/o projections of all " +
                   std::to_string(model_layers) + " instead of " + std::to_string(o.layers);
        o.layers = model_layers;
    }
    earSelectTrainable(m.model.parameters(), m.frozen->lmLayout(), o.layers);
    for (auto& p : m.model.parameters()) p.zeroGrad();
    m.adam = std::make_unique<Adam>(AdamOptions{o.lr, 0.9, 0.999, 1e-8, 0.0, false});
    t->options_ = o;

    // Every prompt must fit: at least BOS and one more token, and (with the context kept) the whole rollout.
    for (size_t i = 0; i < m.pairs.size(); ++i) {
        const auto ids = m.promptIds(m.pairs[i].unsafe, o.mode);
        if (ids.size() < 2)
            return Status::error("prompt pair " + std::to_string(i) +
                                 ": the unsafe prompt encodes to fewer than 2 tokens");
        const int64_t need =
            static_cast<int64_t>(ids.size()) + (o.mode == EarMode::Corrected ? t->stepsPerIteration() : 0);
        if (need > m.context)
            return Status::error("prompt pair " + std::to_string(i) + ": the unsafe prompt is " +
                                 std::to_string(ids.size()) +
                                 " tokens; with the rollout that exceeds the model's context of " +
                                 std::to_string(m.context) + " — shorten the prompt");
    }
    return t;
}

// ---- one iteration ----------------------------------------------------------------------------------

Status EarTrainer::run(const JobContext* ctx, const std::function<void(const EarStep&)>& on_step) {
    using Clock = std::chrono::steady_clock;
    Impl& m = *impl_;
    Backend& be = *m.be;
    CausalLM& lm = m.frozen->lm();
    const int64_t n = stepsPerIteration(), total = totalSteps(), d = m.hidden, vocab = m.codebook;
    const auto run_start = Clock::now();
    int64_t steps_this_run = 0;
    SamplerSettings sampling;
    sampling.temperature = options_.temperature;
    sampling.cfg = options_.cfg;
    try {
        while (iterations_done_ < options_.iterations) {
            const int64_t it = iterations_done_;
            const EarPair& pair = m.pairs[static_cast<size_t>(it % static_cast<int64_t>(m.pairs.size()))];
            const std::vector<int32_t> unsafe = m.promptIds(pair.unsafe, options_.mode);
            const size_t len_u = unsafe.size();
            const std::vector<int32_t> prompts[kBranches] = {
                unsafe, m.align(m.promptIds(pair.safe_neutral, options_.mode), len_u),
                m.align(m.promptIds(pair.safe_target, options_.mode), len_u)};
            const int64_t len = static_cast<int64_t>(len_u);
            // Rows 2b (conditional) and 2b + 1 (unconditional: pads between the first and last token).
            std::vector<int64_t> batch(static_cast<size_t>(2 * kBranches * len));
            for (int64_t r = 0; r < 2 * kBranches; ++r)
                for (int64_t i = 0; i < len; ++i)
                    batch[static_cast<size_t>(r * len + i)] = (r % 2 == 1 && i > 0 && i < len - 1)
                                                                  ? m.pad_id
                                                                  : prompts[r / 2][static_cast<size_t>(i)];
            const std::vector<int64_t> unsafe_rows(batch.begin(), batch.begin() + 2 * len);

            // What a cancel rolls back to: the iteration starts again from these.
            std::vector<std::vector<float>> snapshot;
            for (const auto& p : parameters())
                if (p.trainable) snapshot.push_back(p.value);
            const Adam adam_snapshot = *m.adam;
            const size_t losses_before = losses_.size(), windows_before = windows_.size();
            auto rollBack = [&] {
                size_t k = 0;
                for (auto& p : parameters())
                    if (p.trainable) {
                        p.value = snapshot[k++];
                        p.zeroGrad();
                    }
                *m.adam = adam_snapshot;
                losses_.resize(losses_before);
                windows_.resize(windows_before);
            };

            WindowedAccumulation acc(options_.window, options_.threshold);
            for (auto& p : parameters())
                if (p.trainable) p.zeroGrad();
            // Corrected mode keeps the branches' context in a KV cache; faithful mode has none.
            std::optional<KvCache> cache;
            if (options_.mode == EarMode::Corrected) cache.emplace(lm.newCache(2 * kBranches, len + n));
            std::vector<std::vector<int32_t>> tokens(kBranches);
            // Corrected mode: the unsafe rows' input embeddings so far ([2, len + t, D], row-major per row).
            std::vector<float> context[2];
            if (options_.mode == EarMode::Corrected) {
                const std::vector<float> pe = be.readF32(lm.embed(be.fromI64(unsafe_rows, {2, len})));
                for (int r = 0; r < 2; ++r)
                    context[r].assign(pe.begin() + r * len * d, pe.begin() + (r + 1) * len * d);
            }
            std::vector<float> guided(static_cast<size_t>(vocab));

            for (int64_t t = 0; t < n; ++t) {
                if (ctx && ctx->cancelled()) {
                    rollBack();
                    return Status();
                }
                const auto t0 = Clock::now();
                // The frozen branches: hidden states and each branch's next token.
                Tensor embeds;
                std::vector<float> image_embeds; // [2 * kBranches, 1, D] at t > 0
                if (t == 0) {
                    embeds = lm.embed(be.fromI64(batch, {2 * kBranches, len}));
                } else {
                    std::vector<int64_t> next(static_cast<size_t>(2 * kBranches));
                    for (int b = 0; b < kBranches; ++b)
                        next[static_cast<size_t>(2 * b)] = next[static_cast<size_t>(2 * b + 1)] =
                            tokens[static_cast<size_t>(b)].back();
                    embeds = m.frozen->imageTokenEmbeds(be.fromI64(next, {2 * kBranches, 1}));
                    image_embeds = be.readF32(embeds);
                }
                Tensor hidden;
                if (options_.mode == EarMode::Faithful) {
                    KvCache fresh = lm.newCache(2 * kBranches, embeds.dim(1));
                    hidden = lm.forward(embeds, fresh);
                } else {
                    hidden = lm.forward(embeds, *cache);
                }
                const int64_t rows_t = hidden.dim(1);
                const std::vector<float> hv = be.readF32(hidden);
                const std::vector<float> lv =
                    be.readF32(m.frozen->genHead(be.slice(hidden, 1, rows_t - 1, rows_t)));
                for (int b = 0; b < kBranches; ++b) {
                    cfgCombine(&lv[static_cast<size_t>(2 * b * vocab)],
                               &lv[static_cast<size_t>((2 * b + 1) * vocab)], options_.cfg, vocab,
                               guided.data());
                    const double u = Philox::uniform(options_.seed, static_cast<uint64_t>(kBranches * it + b),
                                                     static_cast<uint64_t>(t));
                    tokens[static_cast<size_t>(b)].push_back(
                        sampleToken(guided.data(), vocab, sampling, u, 0).token);
                }
                // The target, from the frozen states of the three branches (rows 2b, 2b + 1).
                const size_t block = static_cast<size_t>(2 * rows_t * d);
                auto branch = [&](int b) {
                    return std::vector<float>(hv.begin() + b * block, hv.begin() + (b + 1) * block);
                };
                const std::vector<float> target = earTarget(branch(2), branch(0), branch(1), options_.eta);

                // The trained copy on the unsafe branch's input.
                Tape<float> tape;
                Var loss;
                if (t == 0) {
                    Var h = m.model.hidden(tape, unsafe_rows, 2, len);
                    loss = tape.mse(h, tape.constant(target, {2, len, d}));
                } else if (options_.mode == EarMode::Faithful) {
                    std::vector<float> e(image_embeds.begin(), image_embeds.begin() + 2 * d);
                    Var h = m.model.hiddenFromEmbeds(tape, tape.constant(std::move(e), {2, 1, d}));
                    loss = tape.mse(h, tape.constant(target, {2, 1, d}));
                } else {
                    for (int r = 0; r < 2; ++r)
                        context[r].insert(context[r].end(), image_embeds.begin() + r * d,
                                          image_embeds.begin() + (r + 1) * d);
                    const int64_t s = len + t;
                    std::vector<float> e;
                    e.reserve(static_cast<size_t>(2 * s * d));
                    for (int r = 0; r < 2; ++r) e.insert(e.end(), context[r].begin(), context[r].end());
                    Var h = m.model.hiddenFromEmbeds(tape, tape.constant(std::move(e), {2, s, d}));
                    // Only the newest position counts: the mask zeroes the others, and the scale turns the
                    // mean over all positions into the mean over the newest one.
                    std::vector<float> mask(static_cast<size_t>(2 * s * d), 0.0f), wanted(mask.size(), 0.0f);
                    for (int r = 0; r < 2; ++r)
                        for (int64_t c = 0; c < d; ++c) {
                            const size_t at = static_cast<size_t>((r * s + s - 1) * d + c);
                            mask[at] = 1.0f;
                            wanted[at] = target[static_cast<size_t>(r * d + c)];
                        }
                    Var masked = tape.mul(h, tape.constant(std::move(mask), {2, s, d}));
                    loss = tape.scale(tape.mse(masked, tape.constant(std::move(wanted), {2, s, d})),
                                      static_cast<float>(s));
                }
                const float value = tape.scalar(loss);
                if (!std::isfinite(value)) {
                    rollBack();
                    return Status::error("EAR step " + std::to_string(losses_.size() + 1) +
                                         ": the loss is not finite; the last checkpoint holds " +
                                         std::to_string(iterations_done_) + " iterations");
                }
                tape.backward(loss);
                losses_.push_back(value);

                EarStep rec;
                rec.step = static_cast<int64_t>(losses_.size());
                rec.iteration = it + 1;
                rec.loss = value;
                auto decision = acc.add(value);
                if (!decision && t == n - 1) decision = acc.flush();
                if (decision) {
                    decision->window = static_cast<int64_t>(windows_.size());
                    if (decision->update) m.adam->update(parameters());
                    for (auto& p : parameters())
                        if (p.trainable) p.zeroGrad();
                    windows_.push_back(*decision);
                    rec.window = decision;
                }
                ++steps_this_run;
                if (ctx) {
                    TrainingProgress tp;
                    tp.job_id = ctx->id();
                    tp.step = rec.step;
                    tp.total = total;
                    tp.iteration = rec.iteration;
                    tp.iterations = options_.iterations;
                    tp.loss = value;
                    if (decision) {
                        tp.window_closed = true;
                        tp.window = decision->window;
                        tp.window_loss = decision->loss_sum;
                        tp.updated = decision->update;
                    }
                    ctx->emit(tp);
                    StepTiming st;
                    st.job_id = ctx->id();
                    st.step = static_cast<int>(rec.step);
                    st.total = static_cast<int>(total);
                    st.step_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                    const double s = std::chrono::duration<double>(Clock::now() - run_start).count();
                    st.tokens_per_s = s > 0 ? static_cast<double>(steps_this_run) / s : 0;
                    ctx->emit(st);
                }
                if (on_step) on_step(rec);
            }
            last_rollout_ = std::move(tokens);
            ++iterations_done_;
            if (Status s = saveCheckpoint(); !s.ok()) return s;
        }
    } catch (const std::exception& e) {
        return Status::error(std::string("EAR iteration ") + std::to_string(iterations_done_ + 1) + ": " +
                             e.what());
    }
    return Status();
}

// ---- checkpoints ------------------------------------------------------------------------------------

namespace {
std::string settingsText(const EarOptions& o) {
    return std::string("mode=") + earModeName(o.mode) + " layers=" + std::to_string(o.layers) +
           " window=" + std::to_string(o.window) + " rollout=" + std::to_string(o.rollout_tokens);
}
} // namespace

Status EarTrainer::saveCheckpoint() const {
    if (options_.checkpoint_path.empty()) return Status();
    std::vector<NamedF32> out;
    const Adam& adam = *impl_->adam;
    for (const auto& p : impl_->model.parameters()) {
        if (!p.trainable) continue;
        out.push_back({p.name, p.shape, &p.value});
        auto it = adam.state().find(p.name);
        if (it != adam.state().end()) {
            out.push_back({kAvgPrefix + p.name, p.shape, &it->second.exp_avg});
            out.push_back({kAvgSqPrefix + p.name, p.shape, &it->second.exp_avg_sq});
        }
    }
    std::vector<float> wl, wu;
    for (const auto& w : windows_) {
        wl.push_back(static_cast<float>(w.loss_sum));
        wu.push_back(w.update ? 1.0f : 0.0f);
    }
    out.push_back({kLossesName, {static_cast<int64_t>(losses_.size())}, &losses_});
    out.push_back({kWindowLossName, {static_cast<int64_t>(wl.size())}, &wl});
    out.push_back({kWindowUpdateName, {static_cast<int64_t>(wu.size())}, &wu});
    return writeSafetensorsF32(options_.checkpoint_path, out,
                               {{kFormatKey, "1"},
                                {kIterationsKey, std::to_string(iterations_done_)},
                                {kAdamStepKey, std::to_string(adam.step())},
                                {kSettingsKey, settingsText(options_)}});
}

Expected<bool> EarTrainer::resume() {
    const std::string& path = options_.checkpoint_path;
    if (path.empty() || !fs::exists(path)) return false;
    auto file = SafetensorsFile::open(path);
    if (!file) return file.status();
    const auto& meta = (*file)->header().metadata;
    auto get = [&](const char* key) -> std::string {
        auto it = meta.find(key);
        return it == meta.end() ? std::string() : it->second;
    };
    if (get(kFormatKey) != "1") return Status::error(path + " is not a Tessera EAR checkpoint (format 1)");
    if (get(kSettingsKey) != settingsText(options_))
        return Status::error(path + " was written with " + get(kSettingsKey) + "; this run has " +
                             settingsText(options_) + " — use the same settings or another checkpoint path");
    int64_t iterations = 0, adam_step = 0;
    try {
        iterations = std::stoll(get(kIterationsKey));
        adam_step = std::stoll(get(kAdamStepKey));
    } catch (const std::exception&) {
        return Status::error(path + ": bad iteration or step count");
    }
    auto read = [&](const std::string& name, const Shape& shape, std::vector<float>& into) -> Status {
        const TensorInfo* info = (*file)->find(name);
        if (!info) return Status::error(path + " lacks tensor " + name);
        if (info->dtype != DType::F32 || info->shape != shape)
            return Status::error(path + ": tensor " + name + " is " + dtypeName(info->dtype) + " " +
                                 shapeString(info->shape) + ", expected F32 " + shapeString(shape));
        into.resize(static_cast<size_t>(shapeNumel(shape)));
        std::memcpy(into.data(), (*file)->data(*info), into.size() * sizeof(float));
        return Status();
    };
    auto lengthOf = [&](const char* name) -> int64_t {
        const TensorInfo* info = (*file)->find(name);
        return info && info->shape.size() == 1 ? info->shape[0] : -1;
    };
    // Read everything before changing anything.
    std::vector<float> losses, wl, wu;
    if (lengthOf(kLossesName) != iterations * stepsPerIteration())
        return Status::error(path + ": the loss history does not hold " + std::to_string(iterations) +
                             " iterations");
    if (Status s = read(kLossesName, {iterations * stepsPerIteration()}, losses); !s.ok()) return s;
    const int64_t nw = lengthOf(kWindowLossName);
    if (nw < 0 || lengthOf(kWindowUpdateName) != nw) return Status::error(path + ": window records missing");
    if (Status s = read(kWindowLossName, {nw}, wl); !s.ok()) return s;
    if (Status s = read(kWindowUpdateName, {nw}, wu); !s.ok()) return s;
    std::vector<std::vector<float>> values;
    std::map<std::string, Adam::State> state;
    for (const auto& p : impl_->model.parameters()) {
        if (!p.trainable) continue;
        values.emplace_back();
        if (Status s = read(p.name, p.shape, values.back()); !s.ok()) return s;
        if (adam_step > 0) {
            Adam::State& a = state[p.name];
            if (Status s = read(kAvgPrefix + p.name, p.shape, a.exp_avg); !s.ok()) return s;
            if (Status s = read(kAvgSqPrefix + p.name, p.shape, a.exp_avg_sq); !s.ok()) return s;
        }
    }
    size_t i = 0;
    for (auto& p : impl_->model.parameters())
        if (p.trainable) {
            p.value = std::move(values[i++]);
            p.zeroGrad();
        }
    impl_->adam->restore(adam_step, std::move(state));
    losses_ = std::move(losses);
    windows_.clear();
    for (int64_t w = 0; w < nw; ++w)
        windows_.push_back(
            {w, static_cast<double>(wl[static_cast<size_t>(w)]), wu[static_cast<size_t>(w)] != 0.0f});
    iterations_done_ = iterations;
    return true;
}

Status EarTrainer::saveDelta(const std::string& path) const {
    return saveEarWeights(path, impl_->model.parameters(), impl_->frozen->lmLayout(), options_.layers);
}

// ---- the job ----------------------------------------------------------------------------------------

JobFn earJob(std::shared_ptr<EarTrainer> trainer, std::function<void(const EarStep&)> on_step) {
    return [trainer, on_step](JobContext& ctx) -> Status {
        auto resumed = trainer->resume();
        if (!resumed) return resumed.status();
        return trainer->run(&ctx, on_step);
    };
}

} // namespace tessera::train
