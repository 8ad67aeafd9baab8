// The shared decoder block every family file configures: norms, attention with GQA and optional
// QK-norm, gated MLP, KV cache. Families only read hyper-parameters and name tensors.
#pragma once

#include "tessera/engine/causal_lm.h"

#include <functional>

namespace tessera::models {

struct LayerWeights {
    Tensor attn_norm, mlp_norm;
    // q, k and v fused at load into one [qd + 2·kvd, D] matrix (one pass over x, one GEMV launch);
    // likewise gate and up into [2·ff, D]. The products are the same dot products as unfused.
    Tensor qkv, qkv_bias, o, o_bias;
    Tensor q_norm_w, q_norm_b, k_norm_w, k_norm_b;
    Tensor gate_up, down;
};

class Transformer final : public CausalLM {
public:
    // Binds every tensor; returns the binder's full list of problems on failure.
    static Expected<std::unique_ptr<CausalLM>> load(const Checkpoint& ckpt, Backend& backend,
                                                    TransformerConfig cfg, const LmLayout& layout);

    const TransformerConfig& config() const override { return cfg_; }
    Backend& backend() const override { return *backend_; }
    Tensor embed(const Tensor& ids) override;
    Tensor forward(const Tensor& embeds, KvCache& cache, const AttentionMask& mask,
                   const RopeTables* rope) override;
    Tensor logits(const Tensor& hidden) override;
    size_t weightBytes() const override { return weight_bytes_; }
    Expected<std::unique_ptr<CausalLM>> withOverlay(const WeightOverlay& overlay) const override;

private:
    Tensor attentionBlock(const LayerWeights& w, const Tensor& x, KvCache& cache, int64_t layer,
                          const AttentionMask& mask, const RopeTables& rope);
    Tensor mlpBlock(const LayerWeights& w, const Tensor& x);

    TransformerConfig cfg_;
    LmLayout layout_;
    Backend* backend_ = nullptr;
    Tensor embed_, final_norm_, lm_head_;
    std::vector<LayerWeights> layers_;
    size_t weight_bytes_ = 0;
    // 1D rotary tables [positions, head_dim] on the backend, computed once for the longest sequence
    // seen so far; a step's tables are row views of them (no host work, no upload per step).
    const RopeTables& ropeTable(int64_t positions);
    std::vector<float> rope_inv_freq_; // once per model, not std::pow per decode step
    RopeTables rope_table_;
    int64_t rope_table_len_ = 0;
};

// Concatenates tensors along dimension 0 into one new tensor (fused projections at load).
Tensor stackRows(Backend& backend, const std::vector<Tensor>& parts);

// Reads the hyper-parameters shared by Llama-style configs (hidden_size, heads, rope, eps, …).
TransformerConfig readLlamaStyleConfig(const ModelConfig& config, const std::string& family);

// Family entry points (one file each).
Expected<TransformerConfig> llamaConfig(const ModelConfig& config);
Expected<TransformerConfig> qwen2Config(const ModelConfig& config);
Expected<TransformerConfig> chameleonConfig(const ModelConfig& config);
// GPT-2 has its own block (learned positions, LayerNorm, fused q/k/v), so it loads itself.
Expected<std::unique_ptr<CausalLM>> loadGpt2(const Checkpoint& ckpt, Backend& backend, const LmLayout& layout);
// The same GPT-2 with its hyper-parameters (n_embd, n_layer, n_head, …) read from `config` and its
// tensors under `prefix` (DiCoDe nests it as "llm_agent.llm.transformer."). Throws tessera::Error on a
// bad config value; a missing or misshapen tensor is a Status naming it.
Expected<std::unique_ptr<CausalLM>> loadGpt2At(const Checkpoint& ckpt, Backend& backend, const ModelConfig& config,
                                               const std::string& prefix);

} // namespace tessera::models
