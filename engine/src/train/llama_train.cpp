// The Llama family on the tape: the same block as models/transformer.cpp (pre-norm, RoPE on q and k,
// GQA attention, SwiGLU), built from tape ops so every weight gets a gradient.
#include "models/transformer.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/train_llama.h"

#include <cstring>

namespace tessera::train {

namespace {

Expected<std::vector<float>> readAsF32(const Checkpoint& ckpt, const std::string& name, Backend& backend) {
    auto t = ckpt.load(name, backend);
    if (!t) return t.status();
    std::vector<unsigned char> raw(t->bytes());
    backend.read(*t, raw.data());
    std::vector<float> out(static_cast<size_t>(t->numel()));
    switch (t->dtype()) {
    case DType::F32:
        std::memcpy(out.data(), raw.data(), raw.size());
        break;
    case DType::BF16:
    case DType::F16:
        for (size_t i = 0; i < out.size(); ++i) {
            uint16_t v;
            std::memcpy(&v, raw.data() + 2 * i, 2);
            out[i] = t->dtype() == DType::BF16 ? bf16ToF32(v) : f16ToF32(v);
        }
        break;
    default:
        return Status::error("tensor " + name + " in " + ckpt.dir() + " is not a float tensor");
    }
    return out;
}

} // namespace

Expected<LlamaTrainModel> LlamaTrainModel::load(const std::string& dir, const LmLayout& layout) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    LlamaTrainModel m;
    m.layout_ = layout;
    // Only the Llama block is built here: other families (Qwen2's biases, Chameleon's QK norm) would
    // load without error and train a different model.
    const nlohmann::json& text = ckpt->config().text();
    const std::string type = text.is_object() && text.contains("model_type") && text["model_type"].is_string()
                                 ? text["model_type"].get<std::string>()
                                 : ckpt->config().modelType();
    if (type != "llama")
        return Status::error(dir +
                             ": training supports Llama-family language models (model_type 'llama'), not '" +
                             type + "'");
    try {
        auto cfg = models::llamaConfig(ckpt->config());
        if (!cfg) return cfg.status();
        m.cfg_ = *cfg;
    } catch (const Error& e) {
        return Status::error(dir + ": " + e.what());
    }
    if (m.cfg_.qkv_bias)
        return Status::error(dir + ": training Llama checkpoints with attention_bias is not supported yet");
    auto backend = createBackend("cpu", 1);
    if (!backend) return backend.status();
    const TransformerConfig& c = m.cfg_;
    const int64_t d = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim, ff = c.intermediate;
    std::vector<std::pair<std::string, Shape>> want = {
        {m.layout_.prefix + "embed_tokens.weight", {c.vocab, d}}, {m.layout_.prefix + "norm.weight", {d}}};
    for (int64_t l = 0; l < c.layers; ++l) {
        const std::string p = m.layout_.prefix + "layers." + std::to_string(l) + ".";
        want.push_back({p + "input_layernorm.weight", {d}});
        want.push_back({p + "self_attn.q_proj.weight", {qd, d}});
        want.push_back({p + "self_attn.k_proj.weight", {kvd, d}});
        want.push_back({p + "self_attn.v_proj.weight", {kvd, d}});
        want.push_back({p + "self_attn.o_proj.weight", {d, qd}});
        want.push_back({p + "post_attention_layernorm.weight", {d}});
        want.push_back({p + "mlp.gate_proj.weight", {ff, d}});
        want.push_back({p + "mlp.up_proj.weight", {ff, d}});
        want.push_back({p + "mlp.down_proj.weight", {d, ff}});
    }
    if (ckpt->has(m.layout_.lm_head)) want.push_back({m.layout_.lm_head, {c.vocab, d}});
    std::string missing;
    for (const auto& [name, shape] : want) {
        const TensorInfo* info = ckpt->find(name);
        if (!info) {
            missing += (missing.empty() ? "" : ", ") + name;
            continue;
        }
        if (info->shape != shape)
            return Status::error("tensor " + name + " in " + dir + " has shape " + shapeString(info->shape) +
                                 ", config.json expects " + shapeString(shape));
        auto values = readAsF32(*ckpt, name, **backend);
        if (!values) return values.status();
        Parameter<float> p;
        p.name = name;
        p.shape = shape;
        p.value = std::move(*values);
        p.zeroGrad();
        m.index_[name] = m.params_.size();
        m.params_.push_back(std::move(p));
    }
    if (!missing.empty()) return Status::error(dir + " lacks tensors the config needs: " + missing);
    return m;
}

Parameter<float>* LlamaTrainModel::find(const std::string& name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &params_[it->second];
}

Var LlamaTrainModel::leaf(Tape<float>& tape, const std::string& name) {
    Parameter<float>* p = find(name);
    TS_CHECK(p != nullptr, "model has no tensor " + name);
    return tape.leaf(*p);
}

Var LlamaTrainModel::hidden(Tape<float>& t, const std::vector<int64_t>& ids, int64_t batch, int64_t len) {
    TS_CHECK(batch > 0 && len > 0 && static_cast<int64_t>(ids.size()) == batch * len,
             "hidden: " + std::to_string(ids.size()) + " ids for a batch of " + std::to_string(batch) +
                 " × " + std::to_string(len));
    return hiddenFromEmbeds(t, t.reshape(t.embedding(leaf(t, layout_.prefix + "embed_tokens.weight"), ids),
                                         {batch, len, cfg_.hidden}));
}

Var LlamaTrainModel::hiddenFromEmbeds(Tape<float>& t, Var embeds) {
    const TransformerConfig& c = cfg_;
    const Shape& es = t.shape(embeds);
    TS_CHECK(es.size() == 3 && es[2] == c.hidden, "hiddenFromEmbeds: embeddings " + shapeString(es) +
                                                      " are not [batch, len, " + std::to_string(c.hidden) +
                                                      "]");
    const int64_t len = es[1];
    std::vector<int64_t> pos(static_cast<size_t>(es[0] * len));
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i) % len;
    const float eps = c.norm_eps;
    const AttentionSpec spec{c.heads, c.kv_heads, c.head_dim, true, {}};
    Var x = embeds;
    for (int64_t l = 0; l < c.layers; ++l) {
        const std::string p = layout_.prefix + "layers." + std::to_string(l) + ".";
        Var h = t.rmsNorm(x, leaf(t, p + "input_layernorm.weight"), eps);
        Var q = t.rope(t.linear(h, leaf(t, p + "self_attn.q_proj.weight")), c.heads, c.head_dim, pos,
                       c.rope_theta);
        Var k = t.rope(t.linear(h, leaf(t, p + "self_attn.k_proj.weight")), c.kv_heads, c.head_dim, pos,
                       c.rope_theta);
        Var v = t.linear(h, leaf(t, p + "self_attn.v_proj.weight"));
        x = t.add(x, t.linear(t.attention(q, k, v, spec), leaf(t, p + "self_attn.o_proj.weight")));
        Var m = t.rmsNorm(x, leaf(t, p + "post_attention_layernorm.weight"), eps);
        Var ff = t.swiglu(t.linear(m, leaf(t, p + "mlp.gate_proj.weight")),
                          t.linear(m, leaf(t, p + "mlp.up_proj.weight")));
        x = t.add(x, t.linear(ff, leaf(t, p + "mlp.down_proj.weight")));
    }
    return t.rmsNorm(x, leaf(t, layout_.prefix + "norm.weight"), eps);
}

Var LlamaTrainModel::logits(Tape<float>& t, Var hidden) {
    TS_CHECK(find(layout_.lm_head) || cfg_.tie_embeddings,
             "logits: the checkpoint has no " + layout_.lm_head);
    const std::string head = find(layout_.lm_head) ? layout_.lm_head : layout_.prefix + "embed_tokens.weight";
    return t.linear(hidden, leaf(t, head));
}

Var LlamaTrainModel::nextTokenLoss(Tape<float>& t, const std::vector<int64_t>& ids,
                                   const std::vector<int64_t>& labels, int64_t batch, int64_t len) {
    TS_CHECK(labels.size() == ids.size(), "nextTokenLoss: labels and ids differ in length");
    Var lg = logits(t, hidden(t, ids, batch, len));
    // Row (b, t) predicts labels[b, t + 1]; the last position of each row predicts nothing.
    std::vector<int64_t> targets(ids.size(), -100);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i + 1 < len; ++i) targets[b * len + i] = labels[b * len + i + 1];
    return t.crossEntropy(t.reshape(lg, {batch * len, cfg_.vocab}), targets, -100);
}

} // namespace tessera::train
