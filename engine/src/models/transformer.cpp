// Shared decoder-only transformer: weight binding by name, forward pass with KV cache, LM head.
#include "models/transformer.h"

#include <cmath>

namespace tessera {

// ---- KV cache ----------------------------------------------------------------------------------------

KvCache::KvCache(Backend& backend, const TransformerConfig& cfg, int64_t batch, int64_t capacity)
    : batch_(batch), capacity_(capacity) {
    for (int64_t l = 0; l < cfg.layers; ++l) {
        k_.push_back(backend.alloc(backend.kvCacheDtype(), {batch, cfg.kv_heads, capacity, cfg.head_dim}));
        v_.push_back(backend.alloc(backend.kvCacheDtype(), {batch, cfg.kv_heads, capacity, cfg.head_dim}));
    }
}

void KvCache::crop(int64_t pos) {
    TS_ASSERT(pos >= 0 && pos <= length_, "KvCache::crop beyond the cached length");
    length_ = pos;
}

size_t KvCache::bytes() const {
    size_t total = 0;
    for (const auto& t : k_) total += t.bytes();
    for (const auto& t : v_) total += t.bytes();
    return total;
}

namespace {

// Same arithmetic order as the reference: inv_freq in f32, angle = pos * inv_freq in f32.
std::vector<float> ropeInvFreq(int64_t head_dim, double theta) {
    std::vector<float> inv(static_cast<size_t>(head_dim / 2));
    for (int64_t d = 0; d < head_dim / 2; ++d)
        inv[static_cast<size_t>(d)] = static_cast<float>(
            1.0 / std::pow(theta, static_cast<double>(2 * d) / static_cast<double>(head_dim)));
    return inv;
}

RopeTables ropeFromInvFreq(Backend& backend, const std::vector<float>& inv_freq, int64_t batch, int64_t start,
                           int64_t t, int64_t head_dim) {
    const int64_t half = head_dim / 2;
    std::vector<float> cos(static_cast<size_t>(batch * t * head_dim)), sin(cos.size());
    for (int64_t i = 0; i < t; ++i) {
        for (int64_t d = 0; d < half; ++d) {
            float angle = static_cast<float>(start + i) * inv_freq[static_cast<size_t>(d)];
            float c = std::cos(angle), s = std::sin(angle);
            for (int64_t b = 0; b < batch; ++b) {
                size_t base = static_cast<size_t>((b * t + i) * head_dim);
                cos[base + static_cast<size_t>(d)] = cos[base + static_cast<size_t>(d + half)] = c;
                sin[base + static_cast<size_t>(d)] = sin[base + static_cast<size_t>(d + half)] = s;
            }
        }
    }
    return {backend.fromF32(cos, {batch, t, head_dim}), backend.fromF32(sin, {batch, t, head_dim})};
}

} // namespace

namespace models {

Tensor stackRows(Backend& backend, const std::vector<Tensor>& parts) {
    TS_ASSERT(!parts.empty(), "stackRows: nothing to stack");
    Shape shape = parts[0].shape();
    int64_t rows = 0;
    for (const Tensor& t : parts) {
        TS_ASSERT(t.dtype() == parts[0].dtype() && t.rank() == parts[0].rank(), "stackRows: parts differ");
        rows += t.dim(0);
    }
    shape[0] = rows;
    std::vector<char> host(static_cast<size_t>(shapeNumel(shape)) * dtypeSize(parts[0].dtype()));
    size_t offset = 0;
    for (const Tensor& t : parts) {
        backend.read(t, host.data() + offset);
        offset += t.bytes();
    }
    return parts[0].rank() == 2 ? backend.uploadMatrix(host.data(), parts[0].dtype(), shape)
                                : backend.upload(host.data(), parts[0].dtype(), shape);
}

} // namespace models

RopeTables ropeTables1D(Backend& backend, int64_t batch, int64_t start, int64_t t, int64_t head_dim,
                        double theta) {
    return ropeFromInvFreq(backend, ropeInvFreq(head_dim, theta), batch, start, t, head_dim);
}

namespace models {

// RoPE scaling (linear, dynamic NTK, YaRN, Llama-3, …) changes the rotation of every position, and only
// plain RoPE is implemented: a config that asks for anything else is refused, never run unscaled. Both
// spellings are read: `rope_scaling` ({type|rope_type, factor, …}; null = none) and transformers v5's
// `rope_parameters.rope_type`.
static void refuseRopeScaling(const ModelConfig& config) {
    auto kind = [](const nlohmann::json& o) -> std::string {
        for (const char* key : {"rope_type", "type"})
            if (auto it = o.find(key); it != o.end())
                return it->is_string() ? it->get<std::string>() : it->dump();
        return "";
    };
    for (const nlohmann::json* j : {&config.text(), &config.json()}) {
        if (!j->is_object()) continue;
        if (auto it = j->find("rope_scaling"); it != j->end() && !it->is_null()) {
            const std::string k = it->is_object() ? kind(*it) : it->dump();
            TS_CHECK(k == "default", "config.json: rope_scaling '" + (k.empty() ? it->dump() : k) +
                                         "' is not supported (only plain RoPE is implemented)");
        }
        if (auto it = j->find("rope_parameters"); it != j->end() && it->is_object()) {
            const std::string k = kind(*it);
            TS_CHECK(k.empty() || k == "default",
                     "config.json: rope_parameters.rope_type '" + k +
                         "' (RoPE scaling) is not supported (only plain RoPE is implemented)");
        }
    }
}

TransformerConfig readLlamaStyleConfig(const ModelConfig& config, const std::string& family) {
    TransformerConfig c;
    c.family = family;
    c.vocab = config.textInt("vocab_size");
    c.hidden = config.textInt("hidden_size");
    c.layers = config.textInt("num_hidden_layers");
    c.heads = config.textInt("num_attention_heads");
    c.kv_heads = config.textInt("num_key_value_heads", c.heads);
    TS_CHECK(c.hidden > 0 && c.heads > 0 && c.kv_heads > 0 && c.layers > 0 && c.vocab > 0,
             "config.json: sizes must be positive");
    // Far beyond any released model; rejects configs that would make loading loop or allocate forever.
    TS_CHECK(c.layers <= 4096 && c.heads <= 65536 && c.hidden <= (int64_t(1) << 20) && c.vocab <= (int64_t(1) << 26),
             "config.json: implausible sizes (num_hidden_layers " + std::to_string(c.layers) + ", hidden_size " +
                 std::to_string(c.hidden) + ", vocab_size " + std::to_string(c.vocab) + ")");
    TS_CHECK(c.hidden % c.heads == 0 || config.text().contains("head_dim"),
             "config.json: hidden_size is not a multiple of num_attention_heads");
    c.head_dim = config.textInt("head_dim", c.hidden / c.heads);
    TS_CHECK(c.heads % c.kv_heads == 0,
             "config.json: num_attention_heads must be a multiple of num_key_value_heads");
    TS_CHECK(c.head_dim % 2 == 0, "config.json: head_dim must be even for RoPE");
    c.intermediate = config.textInt("intermediate_size");
    c.max_positions = config.textInt("max_position_embeddings", 4096);
    c.norm_eps = static_cast<float>(config.textFloat("rms_norm_eps", 1e-6));
    c.rope_theta = config.ropeTheta(10000.0);
    refuseRopeScaling(config);
    c.tie_embeddings = config.tieWordEmbeddings(false);
    c.bos_id = config.textInt("bos_token_id", -1);
    c.eos_id = config.textInt("eos_token_id", -1);
    c.pad_id = config.textInt("pad_token_id", -1);
    return c;
}

Expected<std::unique_ptr<CausalLM>> Transformer::load(const Checkpoint& ckpt, Backend& backend,
                                                      TransformerConfig cfg, const LmLayout& layout) {
    auto m = std::unique_ptr<Transformer>(new Transformer());
    m->cfg_ = cfg;
    m->layout_ = layout;
    m->backend_ = &backend;
    m->rope_inv_freq_ = ropeInvFreq(cfg.head_dim, cfg.rope_theta);
    WeightBinder wb(ckpt, backend);
    const int64_t d = cfg.hidden, hd = cfg.head_dim, qd = cfg.heads * hd, kvd = cfg.kv_heads * hd,
                  ff = cfg.intermediate;
    const std::string& p = layout.prefix;
    m->embed_ = wb.matrix(p + "embed_tokens.weight", {cfg.vocab, d});
    m->final_norm_ = wb.get(p + "norm.weight", {d});
    if (wb.has(layout.lm_head)) {
        m->lm_head_ = wb.matrix(layout.lm_head, {cfg.vocab, d});
    } else if (cfg.tie_embeddings) {
        m->lm_head_ = m->embed_;
    } else {
        m->lm_head_ = wb.matrix(layout.lm_head, {cfg.vocab, d}); // reports it missing
    }
    for (int64_t l = 0; l < cfg.layers; ++l) {
        const std::string lp = p + "layers." + std::to_string(l) + ".";
        LayerWeights w;
        w.attn_norm = wb.get(lp + "input_layernorm.weight", {d});
        w.mlp_norm = wb.get(lp + "post_attention_layernorm.weight", {d});
        Tensor q = wb.matrix(lp + "self_attn.q_proj.weight", {qd, d});
        Tensor k = wb.matrix(lp + "self_attn.k_proj.weight", {kvd, d});
        Tensor v = wb.matrix(lp + "self_attn.v_proj.weight", {kvd, d});
        w.o = wb.matrix(lp + "self_attn.o_proj.weight", {d, qd});
        Tensor qb, kb, vb;
        if (cfg.qkv_bias) {
            qb = wb.get(lp + "self_attn.q_proj.bias", {qd});
            kb = wb.get(lp + "self_attn.k_proj.bias", {kvd});
            vb = wb.get(lp + "self_attn.v_proj.bias", {kvd});
        }
        if (cfg.o_bias) w.o_bias = wb.get(lp + "self_attn.o_proj.bias", {d});
        if (cfg.qk_norm) {
            w.q_norm_w = wb.get(lp + "self_attn.q_norm.weight", {cfg.heads, hd});
            w.q_norm_b = wb.get(lp + "self_attn.q_norm.bias", {cfg.heads, hd});
            w.k_norm_w = wb.get(lp + "self_attn.k_norm.weight", {cfg.kv_heads, hd});
            w.k_norm_b = wb.get(lp + "self_attn.k_norm.bias", {cfg.kv_heads, hd});
        }
        Tensor gate = wb.matrix(lp + "mlp.gate_proj.weight", {ff, d});
        Tensor up = wb.matrix(lp + "mlp.up_proj.weight", {ff, d});
        w.down = wb.matrix(lp + "mlp.down_proj.weight", {d, ff});
        if (q.defined() && k.defined() && v.defined()) w.qkv = stackRows(backend, {q, k, v});
        if (qb.defined() && kb.defined() && vb.defined()) w.qkv_bias = stackRows(backend, {qb, kb, vb});
        if (gate.defined() && up.defined()) w.gate_up = stackRows(backend, {gate, up});
        m->layers_.push_back(std::move(w));
    }
    Status s = wb.finish();
    if (!s.ok()) return Status::error(ckpt.dir() + ": " + s.message());
    // What is resident on the backend: fused matrices replace their parts, 16-bit weights stay 16-bit.
    m->weight_bytes_ = m->embed_.bytes() + m->final_norm_.bytes() +
                       (m->lm_head_.buffer() == m->embed_.buffer() ? 0 : m->lm_head_.bytes());
    for (const auto& w : m->layers_)
        for (const Tensor* t : {&w.attn_norm, &w.mlp_norm, &w.qkv, &w.qkv_bias, &w.o, &w.o_bias, &w.q_norm_w,
                                &w.q_norm_b, &w.k_norm_w, &w.k_norm_b, &w.gate_up, &w.down})
            if (t->defined()) m->weight_bytes_ += t->bytes();
    return std::unique_ptr<CausalLM>(std::move(m));
}

Expected<std::unique_ptr<CausalLM>> Transformer::withOverlay(const WeightOverlay& overlay) const {
    auto m = std::unique_ptr<Transformer>(new Transformer(*this)); // every tensor shared
    Backend& be = *backend_;
    const int64_t hd = cfg_.head_dim, qd = cfg_.heads * hd, kvd = cfg_.kv_heads * hd, ff = cfg_.intermediate;
    const std::string& p = layout_.prefix;
    // Where a checkpoint name lives: a tensor field and a row range of it (fused projections).
    struct Target {
        Tensor* field = nullptr;
        int64_t begin = 0, end = 0;
    };
    auto resolve = [&](const std::string& name) -> Target {
        auto whole = [](Tensor& t) { return Target{&t, 0, t.defined() ? t.dim(0) : 0}; };
        if (name == p + "embed_tokens.weight") return whole(m->embed_);
        if (name == p + "norm.weight") return whole(m->final_norm_);
        if (name == layout_.lm_head && !cfg_.tie_embeddings) return whole(m->lm_head_);
        const std::string lp = p + "layers.";
        if (name.rfind(lp, 0) != 0) return {};
        size_t dot = name.find('.', lp.size());
        if (dot == std::string::npos) return {};
        int64_t l = -1;
        try {
            l = std::stoll(name.substr(lp.size(), dot - lp.size()));
        } catch (const std::exception&) {
            return {};
        }
        if (l < 0 || l >= cfg_.layers) return {};
        LayerWeights& w = m->layers_[static_cast<size_t>(l)];
        const std::string rest = name.substr(dot + 1);
        if (rest == "self_attn.q_proj.weight") return {&w.qkv, 0, qd};
        if (rest == "self_attn.k_proj.weight") return {&w.qkv, qd, qd + kvd};
        if (rest == "self_attn.v_proj.weight") return {&w.qkv, qd + kvd, qd + 2 * kvd};
        if (rest == "self_attn.q_proj.bias" && w.qkv_bias.defined()) return {&w.qkv_bias, 0, qd};
        if (rest == "self_attn.k_proj.bias" && w.qkv_bias.defined()) return {&w.qkv_bias, qd, qd + kvd};
        if (rest == "self_attn.v_proj.bias" && w.qkv_bias.defined()) return {&w.qkv_bias, qd + kvd, qd + 2 * kvd};
        if (rest == "self_attn.o_proj.weight") return whole(w.o);
        if (rest == "self_attn.o_proj.bias" && w.o_bias.defined()) return whole(w.o_bias);
        if (rest == "mlp.gate_proj.weight") return {&w.gate_up, 0, ff};
        if (rest == "mlp.up_proj.weight") return {&w.gate_up, ff, 2 * ff};
        if (rest == "mlp.down_proj.weight") return whole(w.down);
        if (rest == "input_layernorm.weight") return whole(w.attn_norm);
        if (rest == "post_attention_layernorm.weight") return whole(w.mlp_norm);
        if (rest == "self_attn.q_norm.weight" && w.q_norm_w.defined()) return whole(w.q_norm_w);
        if (rest == "self_attn.q_norm.bias" && w.q_norm_b.defined()) return whole(w.q_norm_b);
        if (rest == "self_attn.k_norm.weight" && w.k_norm_w.defined()) return whole(w.k_norm_w);
        if (rest == "self_attn.k_norm.bias" && w.k_norm_b.defined()) return whole(w.k_norm_b);
        return {};
    };
    try {
        for (const auto& [name, value] : overlay.tensors) {
            Target t = resolve(name);
            if (!t.field || !t.field->defined())
                return Status::error("overlay '" + overlay.name + "': " + name + " is not a weight of this model");
            Tensor& field = *t.field;
            Shape piece = field.shape();
            piece[0] = t.end - t.begin;
            if (!value.defined() || value.shape() != piece)
                return Status::error("overlay '" + overlay.name + "': " + name + " has shape " +
                                     (value.defined() ? shapeString(value.shape()) : std::string("(none)")) +
                                     ", the model's is " + shapeString(piece));
            // The new field: the old rows, with [begin, end) replaced or added to, in the field's dtype.
            std::vector<float> all = be.readF32(field);
            const std::vector<float> v = value.backend().readF32(value);
            const int64_t row = field.numel() / std::max<int64_t>(1, field.dim(0));
            float* dst = all.data() + t.begin * row;
            for (size_t i = 0; i < v.size(); ++i) dst[i] = overlay.mode == WeightOverlay::Mode::Add ? dst[i] + v[i] : v[i];
            const DType dt = field.dtype();
            std::vector<uint16_t> narrow;
            const void* src = all.data();
            if (dt == DType::BF16 || dt == DType::F16) {
                narrow.resize(all.size());
                for (size_t i = 0; i < all.size(); ++i) narrow[i] = dt == DType::BF16 ? f32ToBf16(all[i]) : f32ToF16(all[i]);
                src = narrow.data();
            }
            field = field.rank() == 2 ? be.uploadMatrix(src, dt, field.shape()) : be.upload(src, dt, field.shape());
        }
    } catch (const Error& e) {
        return Status::error("overlay '" + overlay.name + "': " + e.what());
    }
    if (cfg_.tie_embeddings && lm_head_.buffer() == embed_.buffer()) m->lm_head_ = m->embed_;
    return std::unique_ptr<CausalLM>(std::move(m));
}

Tensor Transformer::embed(const Tensor& ids) {
    return backend_->embedding(embed_, ids);
}

Tensor Transformer::attentionBlock(const LayerWeights& w, const Tensor& x, KvCache& cache, int64_t layer,
                                   const AttentionMask& mask, const RopeTables& rope) {
    Backend& be = *backend_;
    const int64_t b = x.dim(0), t = x.dim(1), hd = cfg_.head_dim, qd = cfg_.heads * hd, kvd = cfg_.kv_heads * hd;
    Tensor qkv = be.matmul(x, w.qkv, w.qkv_bias.defined() ? &w.qkv_bias : nullptr);
    Tensor q = be.slice(qkv, 2, 0, qd).reshape({b, t, cfg_.heads, hd});
    Tensor k = be.slice(qkv, 2, qd, qd + kvd).reshape({b, t, cfg_.kv_heads, hd});
    Tensor v = be.slice(qkv, 2, qd + kvd, qd + 2 * kvd).reshape({b, t, cfg_.kv_heads, hd});
    if (cfg_.qk_norm) {
        // nn.LayerNorm's default eps, as the reference's per-head norm uses.
        q = be.layerNorm(q, &w.q_norm_w, &w.q_norm_b, 1e-5f);
        k = be.layerNorm(k, &w.k_norm_w, &w.k_norm_b, 1e-5f);
    }
    q = be.rope(q, rope.cos, rope.sin);
    k = be.rope(k, rope.cos, rope.sin);
    const int64_t pos = cache.length();
    be.kvWrite(cache.keys(layer), cache.values(layer), k, v, pos);
    Tensor a = be.attention(q, cache.keys(layer), cache.values(layer), pos + t, mask,
                            1.0f / std::sqrt(static_cast<float>(hd)));
    return be.matmul(a.reshape({b, t, cfg_.heads * hd}), w.o, w.o_bias.defined() ? &w.o_bias : nullptr);
}

Tensor Transformer::mlpBlock(const LayerWeights& w, const Tensor& x) {
    Backend& be = *backend_;
    const int64_t ff = cfg_.intermediate, last = x.rank() - 1;
    Tensor gu = be.matmul(x, w.gate_up);
    return be.matmul(be.swiglu(be.slice(gu, static_cast<int>(last), 0, ff), be.slice(gu, static_cast<int>(last), ff, 2 * ff)),
                     w.down);
}

const RopeTables& Transformer::ropeTable(int64_t positions) {
    if (positions > rope_table_len_) {
        // Grow geometrically so a lengthening sequence recomputes the table a handful of times at most.
        int64_t len = std::max<int64_t>(256, rope_table_len_);
        while (len < positions) len *= 2;
        if (cfg_.max_positions > 0) len = std::max(positions, std::min(len, cfg_.max_positions));
        RopeTables t = ropeFromInvFreq(*backend_, rope_inv_freq_, 1, 0, len, cfg_.head_dim);
        rope_table_ = {t.cos.reshape({len, cfg_.head_dim}), t.sin.reshape({len, cfg_.head_dim})};
        rope_table_len_ = len;
    }
    return rope_table_;
}

Tensor Transformer::forward(const Tensor& embeds, KvCache& cache, const AttentionMask& mask,
                            const RopeTables* rope) {
    Backend& be = *backend_;
    TS_ASSERT(embeds.rank() == 3 && embeds.dim(2) == cfg_.hidden, "forward: embeds must be [B, T, hidden]");
    TS_ASSERT(embeds.dim(0) == cache.batch(), "forward: batch differs from the cache's");
    const int64_t b = embeds.dim(0), t = embeds.dim(1);
    TS_CHECK(cache.length() + t <= cache.capacity(), "sequence of " + std::to_string(cache.length() + t) +
                                                         " tokens exceeds the reserved context of " +
                                                         std::to_string(cache.capacity()));
    RopeTables own;
    if (!rope) {
        const RopeTables& table = ropeTable(cache.length() + t);
        own = {table.cos.rows(cache.length(), cache.length() + t), table.sin.rows(cache.length(), cache.length() + t)};
        if (b == 1) own = {own.cos.reshape({1, t, cfg_.head_dim}), own.sin.reshape({1, t, cfg_.head_dim})};
        rope = &own;
    }
    Tensor h = embeds;
    for (int64_t l = 0; l < cfg_.layers; ++l) {
        const LayerWeights& w = layers_[static_cast<size_t>(l)];
        if (cfg_.swin_norm) {
            h = be.add(h,
                       be.rmsNorm(attentionBlock(w, h, cache, l, mask, *rope), w.attn_norm, cfg_.norm_eps));
            h = be.add(h, be.rmsNorm(mlpBlock(w, h), w.mlp_norm, cfg_.norm_eps));
        } else {
            h = be.add(h,
                       attentionBlock(w, be.rmsNorm(h, w.attn_norm, cfg_.norm_eps), cache, l, mask, *rope));
            h = be.add(h, mlpBlock(w, be.rmsNorm(h, w.mlp_norm, cfg_.norm_eps)));
        }
    }
    cache.advance(t);
    return be.rmsNorm(h, final_norm_, cfg_.norm_eps);
}

Tensor Transformer::logits(const Tensor& hidden) {
    return backend_->matmul(hidden, lm_head_);
}

} // namespace models
} // namespace tessera
