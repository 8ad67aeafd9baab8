// DiCoDe's deep-token Resampler: image features [B, N, E] -> deep tokens [B, Q, output_dim].
//
// The one class behind `image_proj_model` (the decoder's image tokens) and
// `llm_agent.pre_input_resampler` (the LLM's targets): learned latents [1, Q, dim]; proj_in on the
// features; `depth` × (PerceiverAttention over [LN1(x) | LN2(latents)], q, k and v from LN2'd latents
// and both, softmax in f32 with dim_head^-1/4 applied to q and to k; then LN → Linear → GELU(erf) →
// Linear), each residual; proj_out; LayerNorm norm_out. No linear inside the layers has a bias.
//
// Ownership: the resampler holds its weights on one backend (shared with the checkpoint's mapping on
// the CPU). Threads: one thread at a time. Failures: load() returns a Status naming missing or
// misshapen tensors; forward() throws tessera::Error for features of the wrong width.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/status.h"

#include <string>

namespace tessera {

struct DicodeResamplerConfig {
    int64_t dim = 1024, depth = 4, dim_head = 64, heads = 12, num_queries = 16, embedding_dim = 1280,
            output_dim = 1024;
    double ff_mult = 4;
    // Reads the official kwargs (dim, depth, dim_head, heads, num_queries, embedding_dim, output_dim,
    // ff_mult) from a JSON object such as config.json's image_proj_stage_config.params.
    static Expected<DicodeResamplerConfig> fromJson(const nlohmann::json& params);
};

class DicodeResampler {
public:
    // Binds `<prefix>latents`, `proj_in`, `layers.N.0.{norm1,norm2,to_q,to_kv,to_out}`,
    // `layers.N.1.{0,1,3}`, `proj_out`, `norm_out` (prefix e.g. "image_proj_model.").
    static Expected<DicodeResampler> load(const Checkpoint& ckpt, Backend& backend, const std::string& prefix,
                                          const DicodeResamplerConfig& config);

    const DicodeResamplerConfig& config() const { return cfg_; }
    // features [B, N, embedding_dim] (or [N, embedding_dim]) -> deep tokens [B, num_queries, output_dim].
    Tensor forward(const Tensor& features) const;

private:
    struct Layer {
        Tensor norm1_w, norm1_b, norm2_w, norm2_b, to_q, to_kv, to_out;
        Tensor ff_norm_w, ff_norm_b, ff_in, ff_out;
    };
    DicodeResamplerConfig cfg_;
    Backend* be_ = nullptr;
    Tensor latents_, proj_in_w_, proj_in_b_, proj_out_w_, proj_out_b_, norm_out_w_, norm_out_b_;
    std::vector<Layer> layers_;
};

} // namespace tessera
