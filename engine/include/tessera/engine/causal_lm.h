// Decoder-only transformers (Llama, Qwen2, Chameleon, …) behind one small contract, plus the KV cache.
//
// A CausalLM owns its weights on one backend. forward() consumes embeddings (so pipelines can feed
// image-token embeddings, as Janus and DiCoDe do), appends their keys/values to a KvCache and returns
// the final-normed hidden states; logits() applies the LM head. Thread affinity: a model and its
// caches are used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/status.h"

namespace tessera {

struct TransformerConfig {
    std::string family; // "llama", "qwen2", "chameleon", "gpt2"
    int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0;
    int64_t max_positions = 0;
    float norm_eps = 1e-5f;
    double rope_theta = 10000.0;
    bool qkv_bias = false;
    bool o_bias = false;
    bool mlp_bias = false;
    bool qk_norm = false;   // per-head LayerNorm on q and k (Chameleon)
    bool swin_norm = false; // normalise after attention/MLP instead of before (Chameleon-7B/30B)
    bool tie_embeddings = false;
    int64_t bos_id = -1, eos_id = -1, pad_id = -1;
};

// Where a family's tensors sit in a checkpoint: Janus nests the LM under another prefix.
struct LmLayout {
    std::string prefix = "model.";           // embed_tokens, layers.N, norm live under it
    std::string lm_head = "lm_head.weight";  // tied models fall back to the embedding
};

// Per-layer keys and values for `batch` rows, up to `capacity` positions.
class KvCache {
public:
    KvCache() = default;
    KvCache(Backend& backend, const TransformerConfig& cfg, int64_t batch, int64_t capacity);

    int64_t batch() const { return batch_; }
    int64_t capacity() const { return capacity_; }
    int64_t length() const { return length_; }
    // Forget everything from position `pos` on (branching resamples from there).
    void crop(int64_t pos);
    size_t bytes() const;

    Tensor& keys(int64_t layer) { return k_[static_cast<size_t>(layer)]; }
    Tensor& values(int64_t layer) { return v_[static_cast<size_t>(layer)]; }
    void advance(int64_t n) { length_ += n; }

private:
    std::vector<Tensor> k_, v_;
    int64_t batch_ = 0, capacity_ = 0, length_ = 0;
};

// Rotary tables for positions: cos, sin [B, T, head_dim].
struct RopeTables {
    Tensor cos, sin;
};
// Standard 1D RoPE for positions [start, start + t) in every row.
RopeTables ropeTables1D(Backend& backend, int64_t batch, int64_t start, int64_t t, int64_t head_dim, double theta);

// A named set of tensors that replace or add to a model's weights (EAR's trained projections, a
// LoRA merged to a delta), by checkpoint tensor name (e.g. "model.layers.3.self_attn.q_proj.weight").
struct WeightOverlay {
    enum class Mode { Replace, Add };
    std::string name;
    Mode mode = Mode::Replace;
    std::map<std::string, Tensor> tensors; // any float dtype, on any backend (read once when applied)
};

class CausalLM {
public:
    virtual ~CausalLM() = default;
    virtual const TransformerConfig& config() const = 0;
    virtual Backend& backend() const = 0;

    KvCache newCache(int64_t batch, int64_t capacity) const { return KvCache(backend(), config(), batch, capacity); }
    // ids [B, T] (i64) -> embeddings [B, T, D].
    virtual Tensor embed(const Tensor& ids) = 0;
    // embeds [B, T, D] at positions [cache.length(), +T). Returns final-normed hidden states [B, T, D].
    // `rope` overrides the 1D tables (MM-RoPE); `mask` defaults to causal over the whole cache.
    virtual Tensor forward(const Tensor& embeds, KvCache& cache, const AttentionMask& mask = {},
                           const RopeTables* rope = nullptr) = 0;
    // hidden [..., D] -> logits [..., V].
    virtual Tensor logits(const Tensor& hidden) = 0;
    // Bytes of the weights as they are resident on the backend (16-bit weights counted as 16-bit).
    virtual size_t weightBytes() const = 0;
    // A second view of this model with `overlay` applied. Tensors the overlay does not touch are shared
    // with this model (no copy, no reload); this model is unchanged, so both views can run side by side
    // (each with its own caches). Unknown names or wrong shapes are an error naming them.
    virtual Expected<std::unique_ptr<CausalLM>> withOverlay(const WeightOverlay& overlay) const;
};

// Architectures this build can load as a CausalLM (for messages and `doctor`).
std::vector<std::string> supportedCausalLmArchitectures();

// Loads the causal LM described by the checkpoint's config (text_config when nested).
Expected<std::unique_ptr<CausalLM>> loadCausalLM(const Checkpoint& ckpt, Backend& backend,
                                                 const LmLayout& layout = {});

} // namespace tessera
