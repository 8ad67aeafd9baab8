// Token-Shuffle model family: a Llama LM whose image positions each carry one s×s window of VQ tokens.
//
// Input shuffle: the LM's embedding of each VQ code (shared table) → MLP_in (D → D/s²) → the s² slots
// of a window concatenated along channels → residual MLP blocks → one D-dim position. Output unshuffle:
// residual MLP blocks on the final-normed hidden state → s² slots of D/s² → MLP_out (→ D) per slot →
// one shared classifier → s² rows of image logits, the next window's slots. Text is never shuffled.
// The schema (config fields, tensor names, folder layout) is docs/TOKEN_SHUFFLE.md.
//
// Thread affinity: a model and its caches are used by one thread at a time. Loading errors come back
// as a Status naming the folder, the file and the tensor.
#pragma once

#include "models/janus_parts.h"
#include "tessera/engine/causal_lm.h"

#include <memory>
#include <string>

namespace tessera::models {

struct TokenShuffleSettings {
    int64_t window = 2;
    int64_t image_vocab_start = -1;
    int64_t image_vocab_size = 0;
    int64_t grid = 64; // default image side in VQ tokens
    int64_t in_blocks = 2, out_blocks = 2;
    double mlp_ratio = 1.0;
    Activation act = Activation::Gelu;
    bool rms_norm = false; // residual_norm: "rms"
    int64_t image_start_id = -1, image_end_id = -1;
    bool own_classifier = false;
    std::string weights = "token_shuffle.safetensors";
    std::string vq = "vq";
};

// Whether config.json carries a "token_shuffle" object.
bool isTokenShuffleConfig(const ModelConfig& config);
// Reads and checks the "token_shuffle" object (throws nothing; errors name the field).
Expected<TokenShuffleSettings> readTokenShuffleSettings(const ModelConfig& config, int64_t hidden,
                                                        int64_t vocab);

// x + fc2(act(fc1(norm(x)))).
struct ResidualMlp {
    Tensor norm, fc1_w, fc1_b, fc2_w, fc2_b;
    Tensor forward(Backend& be, const Tensor& x, Activation act, float eps) const;
};

class TokenShuffleModel {
public:
    // Binds the LM (Llama family), the token_shuffle.* tensors (model.safetensors or the `weights`
    // file) and, with with_vq, the VQ decoder of the `vq` folder.
    static Expected<std::unique_ptr<TokenShuffleModel>> load(const Checkpoint& ckpt, Backend& backend,
                                                             bool with_vq);

    const TokenShuffleSettings& settings() const { return s_; }
    CausalLM& lm() { return *lm_; }
    Backend& backend() const { return *be_; }
    int64_t window() const { return s_.window; }
    int64_t vocab() const { return s_.image_vocab_size; }
    // VQ decoder (null when loaded without it).
    const janus::VqModel* vq() const { return has_vq_ ? &vq_ : nullptr; }

    // codes: `batch` rows of n·s² VQ codes each, window after window, slots row-major inside a window.
    // Returns the shuffled input embeddings [batch, n, D]. Codes outside the codebook throw Error.
    Tensor shuffleIn(const std::vector<int64_t>& codes, int64_t batch);
    // hidden [B, n, D] (final-normed LM output) → logits [B, n·s², image_vocab_size]: row j·s² + k
    // predicts slot k of the window after position j.
    Tensor unshuffleLogits(const Tensor& hidden);
    // Resident bytes: the LM plus the Token-Shuffle tensors (the VQ decoder not counted).
    size_t weightBytes() const { return lm_->weightBytes() + own_bytes_; }
    size_t vqBytes() const { return vq_bytes_; }
    // Upper bound on the activations one VQ decode of a `tokens`×`tokens` window holds at once: the
    // four largest feature maps a decoder level keeps alive (block input, normalised copy, two conv
    // outputs), the middle attention's score matrix, `threads` conv scratch blocks of at most 8 MiB
    // (engine/README.md, CPU convolution memory), and the window's pixels twice (tensor and host copy).
    // It holds because the tiled decode returns cached blocks after every level
    // (VqModel::decodeCodesTiledToHost). 0 without a VQ decoder.
    size_t vqWindowBoundBytes(int64_t tokens, int threads) const;

private:
    TokenShuffleSettings s_;
    Backend* be_ = nullptr;
    std::unique_ptr<CausalLM> lm_;
    Tensor mlp_in_w_, mlp_in_b_, mlp_out_w_, mlp_out_b_, classifier_;
    std::vector<ResidualMlp> in_blocks_, out_blocks_;
    float eps_ = 1e-6f;
    size_t own_bytes_ = 0, vq_bytes_ = 0;
    janus::VqModel vq_;
    bool has_vq_ = false;
    int64_t vq_in_channels_ = 0;             // decoder conv_in output channels (at the token resolution)
    int64_t vq_out_channels_ = 3;            // decoder conv_out output channels (the image's)
    std::vector<int64_t> vq_level_channels_; // decoder level l runs at 2^l × the token resolution
};

} // namespace tessera::models
