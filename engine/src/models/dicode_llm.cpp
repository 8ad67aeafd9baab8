// DiCoDe's language-model side (dicode.h).
//
// Sections: configuration and binding; the Gaussian-mixture head on the host (split, mean, sampling,
// log-likelihood); teacher forcing; KV-cached generation.
//
// The mixture head runs on the host: a step's parameters (2·K·d + K floats, 131 KB at the released
// sizes) are read back once, and the split, the softmax over K and the draw are a few passes over them,
// while the GPT-2 step streams the whole backbone. The token then goes back through input_resampler on
// the backend.
#include "models/transformer.h"
#include "tessera/engine/dicode.h"
#include "tessera/engine/platform.h"
#include "tessera/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tessera {

namespace {

const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_object())
        throw Error("config.json: " + where + key + " is missing or not an object");
    return *it;
}

int64_t intField(const nlohmann::json& j, const char* key, const std::string& where, int64_t fallback,
                 bool required) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (required) throw Error("config.json: " + where + key + " is missing");
        return fallback;
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (int64_t(1) << 26))
        throw Error("config.json: " + where + key + " must be a positive integer");
    return it->get<int64_t>();
}

int64_t dimOf(const Checkpoint& ckpt, const std::string& name, size_t rank, size_t axis) {
    const TensorInfo* info = ckpt.find(name);
    if (!info) throw Error("tensor " + name + " is missing");
    if (info->shape.size() != rank) throw Error("tensor " + name + " has shape " + shapeString(info->shape));
    return info->shape[axis];
}

// ---- the Gaussian-mixture head ------------------------------------------------------------------------

// torch.nn.functional.softplus (beta 1, threshold 20), in f32 as the reference computes it.
float softplus(float x) {
    return x > 20.0f ? x : std::log1p(std::exp(x));
}

// The variance of component entry i: clamp(softplus(raw), 1e-5) · var_scale (f32 products as the reference).
float variance(float raw, float var_scale) {
    return std::max(softplus(raw), 1e-5f) * var_scale;
}

void softmaxK(const float* logits, int64_t k, std::vector<float>& probs) {
    probs.resize(static_cast<size_t>(k));
    float mx = *std::max_element(logits, logits + k);
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += probs[static_cast<size_t>(i)] = std::exp(logits[i] - mx);
    for (float& p : probs) p /= sum;
}

// One step's draw from the seeded stream: the component by inverse CDF over the mixture weights with
// the Philox uniform of (seed, row, base), and d standard normals by Box-Muller from the uniforms that
// follow. Each (row, step) owns the index range [step·(d + 2), (step + 1)·(d + 2)).
int64_t seededDraw(uint64_t seed, int64_t row, int64_t step, const std::vector<float>& probs, int64_t d,
                   float* z) {
    const uint64_t base = static_cast<uint64_t>(step) * static_cast<uint64_t>(d + 2),
                   stream = static_cast<uint64_t>(row);
    const double u = Philox::uniform(seed, stream, base);
    double total = 0;
    for (float p : probs) total += p;
    double acc = 0;
    int64_t comp = static_cast<int64_t>(probs.size()) - 1;
    for (size_t i = 0; i < probs.size(); ++i) {
        acc += probs[i];
        if (u * total < acc) {
            comp = static_cast<int64_t>(i);
            break;
        }
    }
    for (int64_t i = 0; i < d; i += 2) {
        const double u1 = 1.0 - Philox::uniform(seed, stream, base + 1 + static_cast<uint64_t>(i)); // (0, 1]
        const double u2 = Philox::uniform(seed, stream, base + 2 + static_cast<uint64_t>(i));
        const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * std::numbers::pi * u2;
        z[i] = static_cast<float>(r * std::cos(a));
        if (i + 1 < d) z[i + 1] = static_cast<float>(r * std::sin(a));
    }
    return comp;
}

} // namespace

int64_t DicodeLlmConfig::maxKeyframes(int64_t hidden_positions) const {
    const int64_t prompt = text_length + 1, per = num_img_tokens + 1;
    // generate's own limit: prompt + keyframes·(n + 1) − 1 ≤ max_length.
    int64_t by_length = (max_length - prompt + 1) / per;
    // Positions actually fed: the final token is never fed back.
    int64_t by_positions = (hidden_positions - prompt + 2) / per;
    return std::max<int64_t>(0, std::min({by_length, by_positions, max_frames}));
}

// ---- configuration and binding ------------------------------------------------------------------------

Expected<std::unique_ptr<DicodeLlm>> DicodeLlm::load(const std::string& dir, Backend& backend) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    return load(*ckpt, backend);
}

Expected<std::unique_ptr<DicodeLlm>> DicodeLlm::load(const Checkpoint& ckpt, Backend& be) {
    // The folder may also hold the decoder; the LLM side alone is what must fit.
    size_t llm_bytes = 0;
    for (const std::string& name : ckpt.names())
        if (name.rfind("llm_agent.", 0) == 0) llm_bytes += ckpt.find(name)->end - ckpt.find(name)->begin;
    if (Status fits = requireMemoryFor(llm_bytes, ckpt.dir()); !fits.ok()) return fits;
    try {
        auto m = std::unique_ptr<DicodeLlm>(new DicodeLlm());
        DicodeLlmConfig& c = m->cfg_;
        const nlohmann::json& root = ckpt.config().json();
        const nlohmann::json& llm = member(root, "llm", "");
        const nlohmann::json& agent = member(llm, "agent", "llm.");
        const nlohmann::json& gpt2 = member(llm, "gpt2", "llm.");
        const nlohmann::json& special = member(llm, "special_tokens", "llm.");
        static const nlohmann::json kNone = nlohmann::json::object();
        const nlohmann::json& gen = llm.contains("generate_kwargs") && llm["generate_kwargs"].is_object()
                                        ? llm["generate_kwargs"]
                                        : kNone;
        if (auto it = agent.find("loss_func"); it != agent.end() && *it != "gmm")
            return Status::error(ckpt.dir() + ": config.json: llm.agent.loss_func " + it->dump() +
                                 " is not supported (only the Gaussian-mixture head, \"gmm\")");
        if (auto it = gen.find("add_sep"); it != gen.end() && *it != true)
            return Status::error(ckpt.dir() + ": config.json: generation without add_sep is not supported");
        if (auto it = gen.find("use_bidirectional_query"); it != gen.end() && *it == true)
            return Status::error(ckpt.dir() + ": config.json: use_bidirectional_query is not supported");
        c.num_img_tokens = intField(agent, "num_img_tokens", "llm.agent.", 0, true);
        c.gmm_components = intField(agent, "num_gmm_kernel", "llm.agent.", 0, true);
        c.text_length = intField(gen, "text_length", "llm.generate_kwargs.", 80, false);
        c.max_length = intField(gen, "max_length", "llm.generate_kwargs.", 512, false);
        if (auto it = gen.find("var_scale"); it != gen.end()) {
            if (!it->is_number() || !(it->get<double>() > 0))
                throw Error("config.json: llm.generate_kwargs.var_scale must be positive");
            c.var_scale = it->get<float>();
        }
        c.boi_id = intField(special, "<img>", "llm.special_tokens.", 0, true);
        c.pad_id = special.contains("eos_pad") ? intField(special, "eos_pad", "llm.special_tokens.", 0, true)
                                               : intField(gpt2, "eos_token_id", "llm.gpt2.", 0, true);

        auto gcfg = ModelConfig::parse(gpt2.dump(), ckpt.dir() + "/config.json llm.gpt2");
        if (!gcfg) return gcfg.status();
        auto lm = models::loadGpt2At(ckpt, be, *gcfg, "llm_agent.llm.transformer.");
        if (!lm) return lm.status();
        m->lm_ = std::move(*lm);
        const TransformerConfig& t = m->lm_->config();
        const int64_t h = t.hidden, k = c.gmm_components, n = c.num_img_tokens;
        TS_CHECK(c.boi_id < t.vocab && c.pad_id < t.vocab,
                 "config.json: llm.special_tokens ids lie outside the vocabulary (" +
                     std::to_string(t.vocab) + ")");

        // Widths come from the tensors: d from the head's output size 2·K·d + K.
        const std::string ir = "llm_agent.input_resampler.", orr = "llm_agent.output_resampler.";
        const int64_t params = dimOf(ckpt, orr + "2.weight", 2, 0);
        TS_CHECK(params > k && (params - k) % (2 * k) == 0,
                 "tensor " + orr + "2.weight has " + std::to_string(params) +
                     " outputs, not 2·K·d + K with K = " + std::to_string(k));
        c.token_dim = (params - k) / (2 * k);
        const int64_t in_mid = dimOf(ckpt, ir + "0.weight", 2, 0),
                      out_mid = dimOf(ckpt, orr + "0.weight", 2, 0);
        c.max_frames = dimOf(ckpt, "llm_agent.video_pos_token.frame_token", 3, 0);
        WeightBinder wb(ckpt, be);
        m->in0_w_ = wb.matrix(ir + "0.weight", {in_mid, c.token_dim});
        m->in0_b_ = wb.get(ir + "0.bias", {in_mid});
        m->in2_w_ = wb.matrix(ir + "2.weight", {h, in_mid});
        m->in2_b_ = wb.get(ir + "2.bias", {h});
        m->out0_w_ = wb.matrix(orr + "0.weight", {out_mid, h});
        m->out0_b_ = wb.get(orr + "0.bias", {out_mid});
        m->out2_w_ = wb.matrix(orr + "2.weight", {params, out_mid});
        m->out2_b_ = wb.get(orr + "2.bias", {params});
        m->frame_token_ = wb.get("llm_agent.video_pos_token.frame_token", {c.max_frames, 1, h});
        m->pos_token_ = wb.get("llm_agent.video_pos_token.pos_token", {1, n, h});
        Status s = wb.finish();
        if (!s.ok()) return Status::error(ckpt.dir() + ": " + s.message());
        m->frame_token_ = m->frame_token_.reshape({c.max_frames, h});
        m->pos_token_ = m->pos_token_.reshape({n, h});

        const std::string pre = "llm_agent.pre_input_resampler.";
        if (ckpt.has(pre + "latents") && agent.contains("pre_input_resampler")) {
            auto rc = DicodeResamplerConfig::fromJson(agent["pre_input_resampler"]);
            if (!rc) return Status::error(ckpt.dir() + ": " + rc.error());
            auto r = DicodeResampler::load(ckpt, be, pre, *rc);
            if (!r) return r.status();
            TS_CHECK(rc->output_dim == c.token_dim, "config.json: llm.agent.pre_input_resampler.output_dim " +
                                                        std::to_string(rc->output_dim) +
                                                        " differs from the head's d " +
                                                        std::to_string(c.token_dim));
            m->pre_input_ = std::make_unique<DicodeResampler>(std::move(*r));
        }
        return m;
    } catch (const Error& e) {
        return Status::error(ckpt.dir() + ": " + e.what());
    } catch (const std::bad_alloc&) {
        return Status::error(ckpt.dir() + ": out of memory while loading DiCoDe");
    } catch (const std::exception& e) {
        return Status::error(ckpt.dir() + ": malformed DiCoDe folder: " + e.what());
    }
}

std::vector<int64_t> DicodeLlm::promptIds(const std::vector<int64_t>& text_ids) const {
    std::vector<int64_t> ids(text_ids.begin(),
                             text_ids.begin() +
                                 std::min<int64_t>(cfg_.text_length, static_cast<int64_t>(text_ids.size())));
    ids.resize(static_cast<size_t>(cfg_.text_length), cfg_.pad_id);
    ids.push_back(cfg_.boi_id);
    return ids;
}

Tensor DicodeLlm::inputResampler(const Tensor& tokens) const {
    Backend& be = backend();
    return be.matmul(be.activation(be.matmul(tokens, in0_w_, &in0_b_), Activation::Gelu), in2_w_, &in2_b_);
}

Tensor DicodeLlm::outputResampler(const Tensor& hidden) const {
    Backend& be = backend();
    return be.matmul(be.activation(be.matmul(hidden, out0_w_, &out0_b_), Activation::Gelu), out2_w_,
                     &out2_b_);
}

Tensor DicodeLlm::videoEmbedding(const Tensor& tokens, int64_t frame, int64_t index) const {
    Backend& be = backend();
    // (x + frame_token[f]) + pos_token[j], the reference's order.
    return be.add(be.add(inputResampler(tokens), frame_token_.rows(frame, frame + 1)),
                  pos_token_.rows(index, index + 1));
}

// ---- teacher forcing ------------------------------------------------------------------------------------

Expected<DicodeTeacherForced> DicodeLlm::teacherForced(const std::vector<int64_t>& ids,
                                                       const std::vector<int64_t>& mask,
                                                       const std::vector<float>& targets) const {
    const int64_t t = static_cast<int64_t>(ids.size()), n = cfg_.num_img_tokens, d = cfg_.token_dim,
                  k = cfg_.gmm_components, h = lm_->config().hidden, p = 2 * k * d + k;
    if (t == 0 || mask.size() != ids.size())
        return Status::error("teacher forcing: ids and video mask must be non-empty and of one length");
    if (t > lm_->config().max_positions)
        return Status::error("teacher forcing: " + std::to_string(t) + " tokens exceed the backbone's " +
                             std::to_string(lm_->config().max_positions) + " positions");
    // Deep-token positions come in runs of n (one keyframe each), never at position 0 (nothing predicts it).
    std::vector<int64_t> video_pos;
    for (int64_t i = 0; i < t; ++i)
        if (mask[static_cast<size_t>(i)] != 0) video_pos.push_back(i);
    const int64_t tokens = static_cast<int64_t>(video_pos.size()), frames = tokens / n;
    if (tokens == 0 || tokens % n != 0 || video_pos[0] == 0)
        return Status::error("teacher forcing: the video mask must mark whole keyframes of " +
                             std::to_string(n) + " tokens after position 0");
    for (int64_t f = 0; f < frames; ++f)
        if (video_pos[static_cast<size_t>(f * n + n - 1)] - video_pos[static_cast<size_t>(f * n)] != n - 1)
            return Status::error("teacher forcing: keyframe " + std::to_string(f) +
                                 "'s tokens are not consecutive");
    if (frames > cfg_.max_frames)
        return Status::error("teacher forcing: " + std::to_string(frames) + " keyframes exceed the " +
                             std::to_string(cfg_.max_frames) + " frame embeddings");
    if (static_cast<int64_t>(targets.size()) != tokens * d)
        return Status::error("teacher forcing: targets hold " + std::to_string(targets.size()) +
                             " floats, expected " + std::to_string(frames) + "×" + std::to_string(n) + "×" +
                             std::to_string(d));
    for (int64_t id : ids)
        if (id < 0 || id >= lm_->config().vocab)
            return Status::error("teacher forcing: id " + std::to_string(id) + " is outside the vocabulary");
    try {
        Backend& be = backend();
        DicodeTeacherForced out;
        out.inputs_embeds = be.readF32(lm_->embed(be.fromI64(ids, {1, t})));
        // input_resampler(targets) + frame_token[f] + pos_token[j], on the backend, then into place.
        Tensor tok = be.fromF32(targets, {frames, n, d});
        // frame_token[f] covers a keyframe's n tokens, pos_token[j] one position: added on the host.
        std::vector<float> video(static_cast<size_t>(tokens * h));
        {
            std::vector<float> resampled = be.readF32(inputResampler(tok));
            std::vector<float> ft = be.readF32(frame_token_), pt = be.readF32(pos_token_);
            for (int64_t f = 0; f < frames; ++f)
                for (int64_t j = 0; j < n; ++j)
                    for (int64_t c = 0; c < h; ++c) {
                        const size_t i = static_cast<size_t>((f * n + j) * h + c);
                        video[i] = (resampled[i] + ft[static_cast<size_t>(f * h + c)]) +
                                   pt[static_cast<size_t>(j * h + c)];
                    }
        }
        for (int64_t i = 0; i < tokens; ++i)
            std::copy_n(video.begin() + i * h, h,
                        out.inputs_embeds.begin() + video_pos[static_cast<size_t>(i)] * h);
        KvCache cache = lm_->newCache(1, t);
        Tensor hidden = lm_->forward(be.fromF32(out.inputs_embeds, {1, t, h}), cache, AttentionMask{});
        out.last_hidden = be.readF32(hidden);
        // The hidden state before each deep token predicts it.
        std::vector<int64_t> before(video_pos.size());
        for (size_t i = 0; i < video_pos.size(); ++i) before[i] = video_pos[i] - 1;
        Tensor pred = be.gatherRows(hidden.reshape({t, h}), before);
        out.gmm_params = be.readF32(outputResampler(pred));

        out.means.resize(static_cast<size_t>(tokens * k * d));
        out.variances.resize(out.means.size());
        out.mix_logits.resize(static_cast<size_t>(tokens * k));
        out.token_logprob.resize(static_cast<size_t>(tokens));
        double sum = 0;
        std::vector<double> comp(static_cast<size_t>(k));
        for (int64_t i = 0; i < tokens; ++i) {
            const float* row = out.gmm_params.data() + i * p;
            std::copy_n(row, k * d, out.means.begin() + i * k * d);
            for (int64_t e = 0; e < k * d; ++e)
                out.variances[static_cast<size_t>(i * k * d + e)] = variance(row[k * d + e], 1.0f);
            std::copy_n(row + 2 * k * d, k, out.mix_logits.begin() + i * k);
            // log Σ_k π_k N(x; μ_k, diag var_k), in double.
            const float* x = targets.data() + i * d;
            const float* logits = row + 2 * k * d;
            double lmax = -INFINITY;
            for (int64_t c = 0; c < k; ++c) lmax = std::max(lmax, static_cast<double>(logits[c]));
            double lse = 0;
            for (int64_t c = 0; c < k; ++c) lse += std::exp(static_cast<double>(logits[c]) - lmax);
            const double log_norm = lmax + std::log(lse);
            for (int64_t c = 0; c < k; ++c) {
                double lp = static_cast<double>(logits[c]) - log_norm;
                for (int64_t e = 0; e < d; ++e) {
                    const double var = out.variances[static_cast<size_t>(i * k * d + c * d + e)];
                    const double diff = static_cast<double>(x[e]) - row[c * d + e];
                    lp +=
                        -diff * diff / (2 * var) - 0.5 * std::log(var) - 0.5 * std::log(2 * std::numbers::pi);
                }
                comp[static_cast<size_t>(c)] = lp;
            }
            const double cmax = *std::max_element(comp.begin(), comp.end());
            double s = 0;
            for (double v : comp) s += std::exp(v - cmax);
            const double logp = cmax + std::log(s);
            out.token_logprob[static_cast<size_t>(i)] = static_cast<float>(logp);
            sum += logp;
        }
        out.nll = static_cast<float>(-sum / static_cast<double>(tokens) / static_cast<double>(d));
        return out;
    } catch (const Error& e) {
        return Status::error(std::string("teacher forcing: ") + e.what());
    } catch (const std::bad_alloc&) {
        return Status::error("teacher forcing: out of memory");
    }
}

// ---- generation -------------------------------------------------------------------------------------------

Expected<DicodeGenerated> DicodeLlm::generate(const std::vector<int64_t>& text_ids,
                                              const DicodeGenerateOptions& o) const {
    const TransformerConfig& tc = lm_->config();
    const int64_t n = cfg_.num_img_tokens, d = cfg_.token_dim, k = cfg_.gmm_components, h = tc.hidden,
                  p = 2 * k * d + k, limit = cfg_.maxKeyframes(tc.max_positions);
    if (o.keyframes < 1 || o.keyframes > limit)
        return Status::error("DiCoDe: " + std::to_string(o.keyframes) +
                             " keyframes requested; this model makes 1 to " + std::to_string(limit) +
                             " per prompt (max_length " + std::to_string(cfg_.max_length) + ", " +
                             std::to_string(cfg_.max_frames) + " frame embeddings, " +
                             std::to_string(tc.max_positions) + " positions)");
    if (!std::isfinite(o.var_scale) || o.var_scale <= 0)
        return Status::error("DiCoDe: var_scale must be a positive number");
    if (!std::isfinite(o.cfg_scale) || o.cfg_scale <= 0)
        return Status::error("DiCoDe: cfg_scale must be a positive number");
    for (int64_t id : text_ids)
        if (id < 0 || id >= tc.vocab)
            return Status::error("DiCoDe: text id " + std::to_string(id) + " is outside the vocabulary");
    const int64_t steps = o.keyframes * n, rows = o.cfg_scale > 1.0f ? 2 : 1;
    if (o.replay) {
        if (rows != 1) return Status::error("DiCoDe: replayed draws cover one row; guidance needs two");
        if (static_cast<int64_t>(o.replay->components.size()) < steps ||
            static_cast<int64_t>(o.replay->z.size()) < steps * d)
            return Status::error("DiCoDe: replayed draws cover fewer than " + std::to_string(steps) +
                                 " steps");
        for (int64_t c : o.replay->components)
            if (c < 0 || c >= k)
                return Status::error("DiCoDe: replayed component " + std::to_string(c) + " is outside 0.." +
                                     std::to_string(k - 1));
    }
    try {
        Backend& be = backend();
        std::vector<int64_t> ids = promptIds(text_ids);
        const int64_t prompt = static_cast<int64_t>(ids.size());
        if (rows == 2) {
            std::vector<int64_t> empty = promptIds({});
            ids.insert(ids.end(), empty.begin(), empty.end());
        }
        KvCache cache = lm_->newCache(rows, prompt + o.keyframes * (n + 1));
        Tensor hidden = lm_->forward(lm_->embed(be.fromI64(ids, {rows, prompt})), cache, AttentionMask{});
        Tensor last = be.slice(hidden, 1, prompt - 1, prompt); // [rows, 1, H]
        Tensor boi =
            lm_->embed(be.fromI64(std::vector<int64_t>(static_cast<size_t>(rows), cfg_.boi_id), {rows, 1}));

        DicodeGenerated out;
        out.rows = rows;
        std::vector<float> made(static_cast<size_t>(rows * steps * d)); // [rows, steps, d]
        std::vector<float> tok(static_cast<size_t>(rows * d)), probs, z(static_cast<size_t>(d));
        for (int64_t s = 0; s < steps; ++s) {
            std::vector<float> params = be.readF32(outputResampler(last)); // [rows, 1, P]
            if (o.record_steps)
                out.step_params.insert(out.step_params.end(), params.begin(), params.begin() + p);
            for (int64_t r = 0; r < rows; ++r) {
                const float* row = params.data() + r * p;
                float* x = tok.data() + r * d;
                softmaxK(row + 2 * k * d, k, probs);
                if (!o.do_sample) {
                    // Σ_k softmax_k · mean_k.
                    std::fill(x, x + d, 0.0f);
                    for (int64_t c = 0; c < k; ++c)
                        for (int64_t e = 0; e < d; ++e)
                            x[e] += row[c * d + e] * probs[static_cast<size_t>(c)];
                    continue;
                }
                int64_t c;
                if (o.replay) {
                    c = o.replay->components[static_cast<size_t>(s)];
                    std::copy_n(o.replay->z.begin() + s * d, d, z.begin());
                } else {
                    c = seededDraw(o.seed, r, s, probs, d, z.data());
                }
                for (int64_t e = 0; e < d; ++e)
                    x[e] = row[c * d + e] + std::sqrt(variance(row[k * d + c * d + e], o.var_scale)) *
                                                z[static_cast<size_t>(e)];
            }
            if (rows == 2) // u + (c − u)·s in token space, written into both rows.
                for (int64_t e = 0; e < d; ++e) {
                    const float u = tok[static_cast<size_t>(d + e)];
                    tok[static_cast<size_t>(d + e)] = tok[static_cast<size_t>(e)] =
                        u + (tok[static_cast<size_t>(e)] - u) * o.cfg_scale;
                }
            for (int64_t r = 0; r < rows; ++r)
                std::copy_n(tok.begin() + r * d, d, made.begin() + (r * steps + s) * d);

            const bool keyframe_done = (s + 1) % n == 0;
            if (keyframe_done) {
                out.keyframes = (s + 1) / n;
                if (o.on_keyframe) {
                    std::vector<float> group(made.begin() + (s + 1 - n) * d, made.begin() + (s + 1) * d);
                    if (!o.on_keyframe(out.keyframes - 1, group)) {
                        out.cancelled = out.keyframes < o.keyframes;
                        break;
                    }
                }
            }
            if (s + 1 == steps) break;
            if (o.cancelled && o.cancelled()) {
                out.cancelled = true;
                break;
            }
            Tensor in = videoEmbedding(be.fromF32(tok, {rows, 1, d}), s / n, s % n);
            if (o.record_steps) {
                std::vector<float> v = be.readF32(in);
                out.step_inputs.insert(out.step_inputs.end(), v.begin(), v.begin() + h);
            }
            if (keyframe_done) in = be.concat(in, boi, 1); // add_sep: <img> after a keyframe's last token
            Tensor hs = lm_->forward(in, cache, AttentionMask{});
            last = be.slice(hs, 1, hs.dim(1) - 1, hs.dim(1));
        }
        out.tokens.resize(static_cast<size_t>(rows * out.keyframes * n * d));
        for (int64_t r = 0; r < rows; ++r)
            std::copy_n(made.begin() + r * steps * d, out.keyframes * n * d,
                        out.tokens.begin() + r * out.keyframes * n * d);
        return out;
    } catch (const Error& e) {
        return Status::error(std::string("DiCoDe generation: ") + e.what());
    } catch (const std::bad_alloc&) {
        return Status::error("DiCoDe generation: out of memory");
    }
}

} // namespace tessera
