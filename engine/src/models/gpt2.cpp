// GPT-2 family (DiCoDe's released LM): learned positions, pre-LayerNorm blocks with biases, fused
// q/k/v, a plain GELU MLP, Conv1D-style weights stored [in, out] (transposed once at load), and a
// head tied to the token embeddings.
#include <cmath>

#include "models/transformer.h"

namespace tessera::models {

namespace {

struct Gpt2Layer {
    Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    Tensor qkv, qkv_b, proj, proj_b; // [3D, D], [D, D] after transposition
    Tensor fc, fc_b, out, out_b;     // [F, D], [D, F]
};

class Gpt2 final : public CausalLM {
public:
    // Hyper-parameters from `c`, tensors under `p` ("transformer.", "" or a nesting model's prefix).
    static Expected<std::unique_ptr<CausalLM>> load(const Checkpoint& ckpt, Backend& be, const ModelConfig& c,
                                                    const std::string& p);

    const TransformerConfig& config() const override { return cfg_; }
    Backend& backend() const override { return *be_; }
    Tensor embed(const Tensor& ids) override { return be_->embedding(wte_, ids); }
    Tensor forward(const Tensor& embeds, KvCache& cache, const AttentionMask& mask, const RopeTables* rope) override;
    Tensor logits(const Tensor& hidden) override { return be_->matmul(hidden, wte_); }
    size_t weightBytes() const override { return weight_bytes_; }

private:
    TransformerConfig cfg_;
    Backend* be_ = nullptr;
    Activation act_ = Activation::GeluTanh;
    Tensor wte_, wpe_, lnf_w_, lnf_b_;
    std::vector<Gpt2Layer> layers_;
    size_t weight_bytes_ = 0;
};

Activation activationNamed(const std::string& name) {
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluTanh;
    if (name == "gelu") return Activation::Gelu;
    if (name == "relu") return Activation::Relu;
    if (name == "quick_gelu") return Activation::QuickGelu;
    throw Error("config.json: activation_function '" + name + "' is not supported");
}

Expected<std::unique_ptr<CausalLM>> Gpt2::load(const Checkpoint& ckpt, Backend& be, const ModelConfig& c,
                                                const std::string& p) {
    auto m = std::unique_ptr<Gpt2>(new Gpt2());
    TransformerConfig& cfg = m->cfg_;
    cfg.family = "gpt2";
    cfg.vocab = c.textInt("vocab_size");
    cfg.hidden = c.textInt("n_embd");
    cfg.layers = c.textInt("n_layer");
    cfg.heads = cfg.kv_heads = c.textInt("n_head");
    TS_CHECK(cfg.hidden > 0 && cfg.heads > 0 && cfg.layers > 0 && cfg.vocab > 0 && cfg.hidden % cfg.heads == 0,
             "config.json: n_embd must be a positive multiple of n_head");
    TS_CHECK(cfg.layers <= 4096 && cfg.hidden <= (int64_t(1) << 20) && cfg.vocab <= (int64_t(1) << 26),
             "config.json: implausible sizes");
    cfg.head_dim = cfg.hidden / cfg.heads;
    cfg.intermediate = c.textInt("n_inner", 4 * cfg.hidden);
    cfg.max_positions = c.textInt("n_positions", 1024);
    cfg.norm_eps = static_cast<float>(c.textFloat("layer_norm_epsilon", 1e-5));
    cfg.tie_embeddings = true;
    cfg.bos_id = c.textInt("bos_token_id", -1);
    cfg.eos_id = c.textInt("eos_token_id", -1);
    if (!c.textBool("scale_attn_weights", true) || c.textBool("scale_attn_by_inverse_layer_idx", false) ||
        c.textBool("reorder_and_upcast_attn", false))
        return Status::error("GPT-2 attention scaling variants other than 1/sqrt(head_dim) are not supported");
    const auto& text = c.text();
    m->act_ = activationNamed(text.contains("activation_function") && text["activation_function"].is_string()
                                  ? text["activation_function"].get<std::string>()
                                  : "gelu_new");
    m->be_ = &be;

    WeightBinder wb(ckpt, be);
    const int64_t d = cfg.hidden, f = cfg.intermediate;
    m->wte_ = wb.get(p + "wte.weight", {cfg.vocab, d});
    m->wpe_ = wb.get(p + "wpe.weight", {cfg.max_positions, d});
    m->lnf_w_ = wb.get(p + "ln_f.weight", {d});
    m->lnf_b_ = wb.get(p + "ln_f.bias", {d});
    for (int64_t l = 0; l < cfg.layers; ++l) {
        const std::string lp = p + "h." + std::to_string(l) + ".";
        Gpt2Layer w;
        w.ln1_w = wb.get(lp + "ln_1.weight", {d});
        w.ln1_b = wb.get(lp + "ln_1.bias", {d});
        w.ln2_w = wb.get(lp + "ln_2.weight", {d});
        w.ln2_b = wb.get(lp + "ln_2.bias", {d});
        w.qkv = wb.get(lp + "attn.c_attn.weight", {d, 3 * d});
        w.qkv_b = wb.get(lp + "attn.c_attn.bias", {3 * d});
        w.proj = wb.get(lp + "attn.c_proj.weight", {d, d});
        w.proj_b = wb.get(lp + "attn.c_proj.bias", {d});
        w.fc = wb.get(lp + "mlp.c_fc.weight", {d, f});
        w.fc_b = wb.get(lp + "mlp.c_fc.bias", {f});
        w.out = wb.get(lp + "mlp.c_proj.weight", {f, d});
        w.out_b = wb.get(lp + "mlp.c_proj.bias", {d});
        m->layers_.push_back(std::move(w));
    }
    Status s = wb.finish();
    if (!s.ok()) return Status::error(ckpt.dir() + ": " + s.message());
    // Conv1D stores [in, out]; the backend's matmul takes Linear's [out, in].
    for (auto& w : m->layers_)
        for (Tensor* t : {&w.qkv, &w.proj, &w.fc, &w.out}) *t = be.transposeLast2(*t);
    m->weight_bytes_ = wb.residentBytes();
    return std::unique_ptr<CausalLM>(std::move(m));
}

Tensor Gpt2::forward(const Tensor& embeds, KvCache& cache, const AttentionMask& mask, const RopeTables*) {
    Backend& be = *be_;
    TS_ASSERT(embeds.rank() == 3 && embeds.dim(2) == cfg_.hidden, "forward: embeds must be [B, T, hidden]");
    const int64_t b = embeds.dim(0), t = embeds.dim(1), d = cfg_.hidden, pos = cache.length();
    TS_CHECK(pos + t <= cache.capacity() && pos + t <= cfg_.max_positions,
             "sequence of " + std::to_string(pos + t) + " tokens exceeds the context (" +
                 std::to_string(std::min(cache.capacity(), cfg_.max_positions)) + ")");
    Tensor h = be.add(embeds, be.slice(wpe_, 0, pos, pos + t)); // learned positions, broadcast over rows
    for (int64_t l = 0; l < cfg_.layers; ++l) {
        const Gpt2Layer& w = layers_[static_cast<size_t>(l)];
        Tensor qkv = be.matmul(be.layerNorm(h, &w.ln1_w, &w.ln1_b, cfg_.norm_eps), w.qkv, &w.qkv_b);
        Tensor q = be.slice(qkv, 2, 0, d).reshape({b, t, cfg_.heads, cfg_.head_dim});
        Tensor k = be.slice(qkv, 2, d, 2 * d).reshape({b, t, cfg_.heads, cfg_.head_dim});
        Tensor v = be.slice(qkv, 2, 2 * d, 3 * d).reshape({b, t, cfg_.heads, cfg_.head_dim});
        be.kvWrite(cache.keys(l), cache.values(l), k, v, pos);
        Tensor a = be.attention(q, cache.keys(l), cache.values(l), pos + t, mask,
                                1.0f / std::sqrt(static_cast<float>(cfg_.head_dim)));
        h = be.add(h, be.matmul(a.reshape({b, t, d}), w.proj, &w.proj_b));
        Tensor m = be.matmul(be.layerNorm(h, &w.ln2_w, &w.ln2_b, cfg_.norm_eps), w.fc, &w.fc_b);
        h = be.add(h, be.matmul(be.activation(m, act_), w.out, &w.out_b));
    }
    cache.advance(t);
    return be.layerNorm(h, &lnf_w_, &lnf_b_, cfg_.norm_eps);
}

} // namespace

Expected<std::unique_ptr<CausalLM>> loadGpt2(const Checkpoint& ckpt, Backend& backend, const LmLayout&) {
    // transformers writes "transformer.*"; the original OpenAI export has no prefix.
    return Gpt2::load(ckpt, backend, ckpt.config(), ckpt.has("transformer.wte.weight") ? "transformer." : "");
}

Expected<std::unique_ptr<CausalLM>> loadGpt2At(const Checkpoint& ckpt, Backend& backend, const ModelConfig& config,
                                               const std::string& prefix) {
    return Gpt2::load(ckpt, backend, config, prefix);
}

} // namespace tessera::models
