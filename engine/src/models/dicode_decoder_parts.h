// DiCoDe decoder side, seen by its own files and the reference-set runner: the zero-terminal-SNR
// v-prediction schedule and DDIM tables (dicode_ddim.cpp), the SD KL-f8 VAE decoder (dicode_vae.cpp)
// and the DynamiCrafter-style 3D U-Net (dicode_unet.cpp).
//
// Activations are [B·T, C, H, W]: frames folded into the batch, a sample's T frames adjacent, so every
// per-frame 2-D op is one batched op. Latents cross the boundary in the official [B, C, T, H, W]
// layout. Weights keep the official state-dict names (model.diffusion_model.*, first_stage_model.*).
// Loading throws tessera::Error naming the tensor; the public DicodeDecoder turns that into a Status.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"

#include <functional>
#include <string>
#include <vector>

namespace tessera::dicode {

// Called with an intermediate [B·T, C, H, W] (or [B, D] for embeddings) on the running backend, named
// as the reference set names it ("unet_act_init_attn", "vae_act_mid", …). Empty = not called.
using Probe = std::function<void(const std::string& name, const Tensor& t)>;

// ---- schedule and DDIM (dicode_ddim.cpp) ----------------------------------------------------------

struct Schedule {
    std::vector<double> alphas_cumprod_f64;           // ᾱ before storage
    std::vector<float> alphas_cumprod;                // ᾱ as the model stores it (float32)
    std::vector<float> sqrt_alphas_cumprod;           // √ᾱ (float64 math, stored float32)
    std::vector<float> sqrt_one_minus_alphas_cumprod; // √(1 − ᾱ)
    // betas = linspace(√start, √end, n)² in float64, optionally rescaled to zero terminal SNR.
    static Schedule make(int64_t timesteps, double linear_start, double linear_end, bool zero_terminal_snr);
};

struct DdimTables {
    std::vector<int64_t> timesteps; // ascending; sampling visits them in reverse
    std::vector<float> alphas, alphas_prev, sigmas;
};
// "uniform" spacing: t_k = linspace(0, T − ⌊T/S⌋, S) as int, + 1.
DdimTables ddimTables(const Schedule& s, int64_t steps, double eta);

// v-prediction guidance as the official sampler combines it: v = u + w(c − u), then, when rescale > 0,
// v ← r·v·std(c)/std(v) + (1 − r)·v with unbiased stds over each sample. In place on `cond` → result.
void guideV(const std::vector<float>& cond, const std::vector<float>& uncond, int64_t batch, float cfg,
            float rescale, std::vector<float>& out);

// ---- VAE decoder (dicode_vae.cpp) -------------------------------------------------------------------

struct VaeResBlock {
    Tensor norm1_w, norm1_b, conv1_w, conv1_b, norm2_w, norm2_b, conv2_w, conv2_b, nin_w, nin_b;
};

struct VaeAttn {
    Tensor norm_w, norm_b, q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b;
};

struct VaeLevel {
    std::vector<VaeResBlock> blocks;
    Tensor up_w, up_b; // undefined at level 0
};

class VaeDecoder {
public:
    // Binds first_stage_model.{post_quant_conv, decoder.*} with the ddconfig's shape.
    void load(WeightBinder& wb, const nlohmann::json& ddconfig, int64_t embed_dim, float scale_factor);
    // z [N, embed_dim, h, w] as the sampler gives it (scaled by scale_factor): z/scale_factor →
    // post_quant_conv → decoder. Returns [N, out_ch, 2^(L−1)·h, 2^(L−1)·w] (L = len(ch_mult)), unclamped.
    Tensor decode(Backend& be, const Tensor& z, const Probe& probe = {}) const;

private:
    Tensor resBlock(Backend& be, const VaeResBlock& b, const Tensor& x) const;
    Tensor attnBlock(Backend& be, const VaeAttn& a, const Tensor& x) const;
    float scale_factor_ = 0.18215f;
    Tensor post_quant_w_, post_quant_b_, conv_in_w_, conv_in_b_, norm_out_w_, norm_out_b_, conv_out_w_, conv_out_b_;
    VaeResBlock mid1_, mid2_;
    VaeAttn mid_attn_;
    std::vector<VaeLevel> up_; // official index: up_[0] is the full-resolution level (run last)
};

// ---- 3D U-Net (dicode_unet.cpp) ---------------------------------------------------------------------

struct UnetResBlock {
    Tensor in_norm_w, in_norm_b, in_conv_w, in_conv_b, emb_w, emb_b, out_norm_w, out_norm_b, out_conv_w,
        out_conv_b, skip_w, skip_b;
    bool temporal_conv = false;
    Tensor tnorm_w[4], tnorm_b[4], tconv_w[4], tconv_b[4];
};

struct UnetAttention {
    Tensor q_w, k_w, v_w, out_w, out_b, k_ip_w, v_ip_w;
    float ip_gate = 0; // tanh(α) + 1 when the image-token softmax is present
    int64_t heads = 1;
};

struct UnetTransformerBlock {
    Tensor norm1_w, norm1_b, norm2_w, norm2_b, norm3_w, norm3_b;
    UnetAttention attn1, attn2;
    Tensor ff_in_w, ff_in_b, ff_out_w, ff_out_b;
};

struct UnetTransformer {
    bool temporal = false;
    int64_t context_slot = -1; // spatial: its entry in UnetContext::layers
    Tensor norm_w, norm_b, proj_in_w, proj_in_b, proj_out_w, proj_out_b; // projections as [out, in]
    std::vector<UnetTransformerBlock> blocks;
};

struct UnetLayer {
    enum class Kind { Conv, Res, Spatial, Temporal, Down, Up };
    Kind kind = Kind::Conv;
    Tensor w, b; // Conv, Down, Up
    UnetResBlock res;
    UnetTransformer tr;
};

using UnetSequence = std::vector<UnetLayer>;

// The keys and values every spatial cross-attention takes from one context [B, 77 + T·n, D]: they do
// not change between DDIM steps, so a sampler computes them once per clip (Unet::prepareContext).
// Caches in the backend's attention layout: text [B, heads, 77, d] (shared by a sample's frames),
// image tokens [B·T, heads, n, d] (each frame its own).
struct UnetContextLayer {
    Tensor text_k, text_v, image_k, image_v; // image_* undefined without the image-token softmax
};
struct UnetContext {
    int64_t batch = 0, frames = 0;
    std::vector<UnetContextLayer> layers; // by UnetTransformer::context_slot
};

class Unet {
public:
    // Binds model.diffusion_model.* as the unet_config's params build it.
    void load(WeightBinder& wb, const nlohmann::json& params);
    // x [B, in_ch, T, h, w]; t, fs: one value per sample; context [B, 77 + T·n, D] (text, then each
    // frame's n image tokens). Returns v [B, out_ch, T, h, w].
    Tensor forward(Backend& be, const Tensor& x, const std::vector<int64_t>& t, const std::vector<int64_t>& fs,
                   const Tensor& context, const Probe& probe = {}) const;
    // The same with the context's keys and values computed beforehand (prepareContext with x's T).
    Tensor forward(Backend& be, const Tensor& x, const std::vector<int64_t>& t, const std::vector<int64_t>& fs,
                   const UnetContext& context, const Probe& probe = {}) const;
    // context [B, 77 + frames·n, D]. `text_from`: a context prepared from the same 77 text tokens (e.g.
    // the other guidance branch), whose text keys and values are shared instead of recomputed.
    UnetContext prepareContext(Backend& be, const Tensor& context, int64_t frames,
                               const UnetContext* text_from = nullptr) const;
    int64_t modelChannels() const { return mc_; }
    int64_t inChannels() const { return in_ch_; }
    int64_t contextDim() const { return context_dim_; }
    // Number of text tokens at the head of every context.
    static constexpr int64_t kTextTokens = 77;

private:
    Tensor embed(Backend& be, const std::vector<int64_t>& values, const Tensor& w1, const Tensor& b1,
                 const Tensor& w2, const Tensor& b2) const;
    Tensor runSequence(Backend& be, const UnetSequence& seq, Tensor h, const Tensor& emb, const UnetContext& ctx,
                       int64_t frames, const Probe& probe, const std::string& probe_prefix) const;
    Tensor resBlock(Backend& be, const UnetResBlock& r, const Tensor& x, const Tensor& emb, int64_t frames) const;
    Tensor transformer(Backend& be, const UnetTransformer& tr, const Tensor& x, const UnetContext& ctx,
                       int64_t frames) const;
    Tensor attention(Backend& be, const UnetAttention& a, const Tensor& x, const UnetContextLayer* ctx,
                     int64_t batch) const;

    int64_t mc_ = 0, in_ch_ = 4, out_ch_ = 4, context_dim_ = 0;
    Tensor time_w1_, time_b1_, time_w2_, time_b2_, fps_w1_, fps_b1_, fps_w2_, fps_b2_;
    bool fs_condition_ = false;
    int64_t default_fs_ = 3;
    std::vector<UnetSequence> input_, output_;
    UnetSequence init_attn_, middle_;
    std::vector<const UnetAttention*> cross_; // each spatial transformer's attn2, by context slot
    Tensor out_norm_w_, out_norm_b_, out_conv_w_, out_conv_b_;
};

// [B, C, T, H, W] ↔ [B·T, C, H, W] on the backend.
Tensor framesFromVideo(Backend& be, const Tensor& x);
Tensor videoFromFrames(Backend& be, const Tensor& x, int64_t batch);

// The official "headrear" context of one clip: [text | frames 0..T/2−1 get keyframe a's tokens, the rest
// keyframe b's]. text [77, D], a and b [n, D] (host f32). Returns [1, 77 + T·n, D] values.
std::vector<float> headrearContext(const std::vector<float>& text, const std::vector<float>& key_a,
                                   const std::vector<float>& key_b, int64_t frames, int64_t dim);

} // namespace tessera::dicode
