// DiCoDe's deep-token Resampler (image_proj_model, llm_agent.pre_input_resampler): binding by the
// official names and the forward pass on the backend's ops.
#include "tessera/engine/dicode_resampler.h"

#include <cmath>

namespace tessera {

namespace {

int64_t positiveInt(const nlohmann::json& params, const char* key, int64_t fallback) {
    auto it = params.find(key);
    if (it == params.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (int64_t(1) << 20))
        throw Error(std::string("config.json: Resampler ") + key + " must be a positive integer");
    return it->get<int64_t>();
}

} // namespace

Expected<DicodeResamplerConfig> DicodeResamplerConfig::fromJson(const nlohmann::json& params) {
    if (!params.is_object())
        return Status::error("config.json: the Resampler's parameters are not an object");
    try {
        DicodeResamplerConfig c;
        c.dim = positiveInt(params, "dim", 1024);
        c.depth = positiveInt(params, "depth", 8);
        c.dim_head = positiveInt(params, "dim_head", 64);
        c.heads = positiveInt(params, "heads", 16);
        c.num_queries = positiveInt(params, "num_queries", 8);
        c.embedding_dim = positiveInt(params, "embedding_dim", 768);
        c.output_dim = positiveInt(params, "output_dim", 1024);
        if (auto it = params.find("ff_mult"); it != params.end()) {
            if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 64)
                return Status::error("config.json: Resampler ff_mult must be a positive number");
            c.ff_mult = it->get<double>();
        }
        for (const char* unsupported : {"video_length", "output_shape"})
            if (auto it = params.find(unsupported); it != params.end() && !it->is_null())
                return Status::error(std::string("config.json: Resampler ") + unsupported +
                                     " is not supported");
        for (const char* unsupported : {"extra_self_attn", "extra_output_proj", "use_cosine", "no_norm_out"})
            if (auto it = params.find(unsupported); it != params.end() && it->is_boolean() && it->get<bool>())
                return Status::error(std::string("config.json: Resampler ") + unsupported +
                                     " is not supported");
        return c;
    } catch (const Error& e) {
        return Status::error(e.what());
    }
}

Expected<DicodeResampler> DicodeResampler::load(const Checkpoint& ckpt, Backend& be, const std::string& p,
                                                const DicodeResamplerConfig& cfg) {
    DicodeResampler r;
    r.cfg_ = cfg;
    r.be_ = &be;
    const int64_t d = cfg.dim, inner = cfg.dim_head * cfg.heads,
                  ff = static_cast<int64_t>(static_cast<double>(d) * cfg.ff_mult);
    WeightBinder wb(ckpt, be);
    r.latents_ = wb.get(p + "latents", {1, cfg.num_queries, d});
    r.proj_in_w_ = wb.matrix(p + "proj_in.weight", {d, cfg.embedding_dim});
    r.proj_in_b_ = wb.get(p + "proj_in.bias", {d});
    r.proj_out_w_ = wb.matrix(p + "proj_out.weight", {cfg.output_dim, d});
    r.proj_out_b_ = wb.get(p + "proj_out.bias", {cfg.output_dim});
    r.norm_out_w_ = wb.get(p + "norm_out.weight", {cfg.output_dim});
    r.norm_out_b_ = wb.get(p + "norm_out.bias", {cfg.output_dim});
    for (int64_t l = 0; l < cfg.depth; ++l) {
        const std::string a = p + "layers." + std::to_string(l) + ".0.",
                          f = p + "layers." + std::to_string(l) + ".1.";
        Layer w;
        w.norm1_w = wb.get(a + "norm1.weight", {d});
        w.norm1_b = wb.get(a + "norm1.bias", {d});
        w.norm2_w = wb.get(a + "norm2.weight", {d});
        w.norm2_b = wb.get(a + "norm2.bias", {d});
        w.to_q = wb.matrix(a + "to_q.weight", {inner, d});
        w.to_kv = wb.matrix(a + "to_kv.weight", {2 * inner, d});
        w.to_out = wb.matrix(a + "to_out.weight", {d, inner});
        w.ff_norm_w = wb.get(f + "0.weight", {d});
        w.ff_norm_b = wb.get(f + "0.bias", {d});
        w.ff_in = wb.matrix(f + "1.weight", {ff, d});
        w.ff_out = wb.matrix(f + "3.weight", {d, ff});
        r.layers_.push_back(std::move(w));
    }
    Status s = wb.finish();
    if (!s.ok()) return Status::error(ckpt.dir() + ": " + s.message());
    return r;
}

Tensor DicodeResampler::forward(const Tensor& features) const {
    TS_CHECK(be_ != nullptr, "DicodeResampler: not loaded");
    Backend& be = *be_;
    Tensor x = features.rank() == 2 ? features.reshape({1, features.dim(0), features.dim(1)}) : features;
    TS_CHECK(x.rank() == 3 && x.dim(2) == cfg_.embedding_dim, "Resampler: features must be [B, N, " +
                                                                  std::to_string(cfg_.embedding_dim) +
                                                                  "], got " + shapeString(features.shape()));
    TS_CHECK(x.dim(0) > 0 && x.dim(1) > 0, "Resampler: empty features");
    const int64_t b = x.dim(0), n = x.dim(1), q_len = cfg_.num_queries, h = cfg_.heads, dh = cfg_.dim_head,
                  inner = h * dh, kv_len = n + q_len;
    x = be.matmul(x, proj_in_w_, &proj_in_b_);
    Tensor lat = be.gatherRows(latents_, std::vector<int64_t>(static_cast<size_t>(b), 0)); // [B, Q, dim]
    // The reference scales q and k by dim_head^-1/4 each before the product (for f16 range); the same
    // here, so the rounding follows it.
    const float s = static_cast<float>(1.0 / std::sqrt(std::sqrt(static_cast<double>(dh))));
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    for (const Layer& w : layers_) {
        Tensor xn = be.layerNorm(x, &w.norm1_w, &w.norm1_b, 1e-5f);
        Tensor ln = be.layerNorm(lat, &w.norm2_w, &w.norm2_b, 1e-5f);
        Tensor q = be.scale(be.matmul(ln, w.to_q), s).reshape({b, q_len, h, dh});
        Tensor kv = be.matmul(be.concat(xn, ln, 1), w.to_kv); // [B, N+Q, 2·inner]
        Tensor k = be.scale(be.slice(kv, 2, 0, inner), s).reshape({b, kv_len, h, dh});
        Tensor v = be.slice(kv, 2, inner, 2 * inner).reshape({b, kv_len, h, dh});
        Tensor kc = be.alloc(DType::F32, {b, h, kv_len, dh}), vc = be.alloc(DType::F32, {b, h, kv_len, dh});
        be.kvWrite(kc, vc, k, v, 0);
        Tensor a = be.attention(q, kc, vc, kv_len, full, 1.0f).reshape({b, q_len, inner});
        lat = be.add(lat, be.matmul(a, w.to_out));
        Tensor f = be.layerNorm(lat, &w.ff_norm_w, &w.ff_norm_b, 1e-5f);
        lat = be.add(lat, be.matmul(be.activation(be.matmul(f, w.ff_in), Activation::Gelu), w.ff_out));
    }
    lat = be.matmul(lat, proj_out_w_, &proj_out_b_);
    return be.layerNorm(lat, &norm_out_w_, &norm_out_b_, 1e-5f);
}

} // namespace tessera
