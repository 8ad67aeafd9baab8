// Janus-Pro internals shared by janus_model.cpp (loading, name map, generation and understanding
// paths), janus_vq.cpp (VQ encoder, quantiser, decoder) and janus_vision.cpp (SigLIP encoder).
//
// Weights are bound by their canonical (transformers) names; Binder maps each one to the layout the
// checkpoint uses, so every block is written once for both layouts.
#pragma once

#include "models/vit_block.h"
#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"

#include <set>
#include <string>
#include <vector>

namespace tessera::janus {

enum class Layout { Transformers, DeepSeek };

// Where a canonical tensor lives in a layout. DeepSeek fuses the vision q/k/v projections into one
// `qkv` tensor (part `part` of `parts` equal row blocks) and keeps a leading 1 on the position table.
struct TensorSource {
    std::string name;
    int part = -1;
    int parts = 0;
    bool squeeze_leading = false;
};

// The one name map: canonical (transformers) name or prefix -> the layout's name.
TensorSource mapName(const std::string& canonical, Layout layout);

// WeightBinder over canonical names, collecting every problem before reporting.
class Binder {
public:
    Binder(const Checkpoint& ckpt, Backend& backend, Layout layout)
        : ckpt_(ckpt), backend_(backend), layout_(layout), wb_(ckpt, backend) {}
    Tensor get(const std::string& canonical, const Shape& expected = {});
    bool has(const std::string& canonical) const;
    // Shape as the model sees it (after splitting/squeezing); empty when absent.
    Shape shapeOf(const std::string& canonical) const;
    void problem(const std::string& message) { problems_.push_back(message); }
    Status finish() const;
    size_t boundBytes() const { return bytes_; }

private:
    const Checkpoint& ckpt_;
    Backend& backend_;
    Layout layout_;
    WeightBinder wb_;
    std::vector<std::string> problems_;
    std::set<std::string> counted_;
    size_t bytes_ = 0;
};

// Linear -> activation -> Linear (aligners, generation head).
struct Mlp2 {
    Tensor w1, b1, w2, b2;
    Activation act = Activation::Gelu;
    Tensor forward(Backend& be, const Tensor& x) const;
};

// ---- VQ image tokenizer (janus_vq.cpp) ------------------------------------------------------------

struct VqResBlock {
    Tensor norm1_w, norm1_b, conv1_w, conv1_b, norm2_w, norm2_b, conv2_w, conv2_b, nin_w, nin_b;
};
struct VqAttnBlock {
    Tensor norm_w, norm_b, q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b;
};
struct VqLevel {
    std::vector<VqResBlock> blocks;
    std::vector<VqAttnBlock> attn; // empty, or one per block
    Tensor resample_w, resample_b; // up/downsample conv; undefined on the last level
};
struct VqCoder {
    Tensor conv_in_w, conv_in_b;
    std::vector<VqLevel> levels;
    VqResBlock mid_1, mid_2;
    VqAttnBlock mid_attn;
    Tensor norm_out_w, norm_out_b, conv_out_w, conv_out_b;
};

struct VqEncoding {
    Tensor pre_quant; // [B, C, h, w] quant_conv output
    Tensor quantized; // [B, C, h, w] codebook rows (L2-normalised only with codebook_l2_norm)
    Tensor indices;   // [B, h*w] i64
};

// How decodeCodesTiled cuts a token grid: square tiles of `tile` tokens per side, each decoded with
// `halo` tokens of context on every side (clipped at the image border); neighbouring windows are
// blended linearly where they overlap. The default tile is the grid
// the VQ-16 decoder was trained at (24 tokens, 384²); a window of 24 + 2·8 tokens decodes in about
// 1 GB on the CPU backend, whatever the image size.
struct VqTiling {
    int64_t tile = 24;
    int64_t halo = 8;
};

class VqModel {
public:
    // Binds encoder, quantiser and decoder; the architecture (levels, blocks, channels) is read off
    // the tensors, so it needs no config fields beyond what both layouts share.
    // with_encoder = false binds only what decoding needs (the codebook, post_quant_conv, decoder).
    void load(Binder& wb, Backend& be, bool with_encoder = true);
    int64_t codebookSize() const { return codebook_size_; }
    int64_t codeDim() const { return code_dim_; }
    int64_t downsample() const { return int64_t{1} << (decoder_.levels.size() - 1); }
    // The original VQ-16's codebook_l2_norm: encode() L2-normalises the latent and the codebook rows
    // before the nearest-code search. Off (transformers' quantiser) until set.
    void setCodebookL2Norm(bool on) { l2_norm_ = on; }

    Tensor codesFor(Backend& be, const Tensor& ids, int64_t h, int64_t w) const;
    Tensor decodeCodes(Backend& be, const Tensor& codes) const;
    // decodeCodes in bounded memory for large grids (2048² = 128x128 tokens): the grid is decoded in
    // overlapping windows (see VqTiling), cross-faded over the 2·halo tokens around each tile border. Not
    // bit-identical to decodeCodes: the decoder's attention and GroupNorm statistics see one window, not
    // the whole image, so pixels differ slightly, most near tile borders; a halo reaching past every
    // border (halo >= grid) reproduces decodeCodes exactly. A grid that fits in one tile is decoded
    // whole. Errors (bad shape, tile < 1, halo < 0) throw tessera::Error.
    Tensor decodeCodesTiled(Backend& be, const Tensor& codes, const VqTiling& tiling = {}) const;
    // The same pixels as decodeCodesTiled, [B, C, H, W] f32 in a host vector (its shape in `shape`),
    // without the image ever being a backend tensor: peak memory is one window's decode, the host
    // image and its blend weights (4 bytes a pixel). Returns the backend's cached blocks to the system
    // after every decoder level of every window (Backend::releaseCached), so the next job re-warms its
    // allocator.
    std::vector<float> decodeCodesTiledToHost(Backend& be, const Tensor& codes, const VqTiling& tiling,
                                              Shape& shape) const;
    VqEncoding encode(Backend& be, const Tensor& pixels) const;

private:
    void loadCoder(Binder& wb, const std::string& prefix, bool decoder, VqCoder& c);
    Tensor runCoder(Backend& be, const VqCoder& c, Tensor x, bool decoder,
                    bool release_per_level = false) const;
    // decodeCodes returning the backend's cached blocks after each level (one tiled-decode window).
    Tensor decodeWindow(Backend& be, const Tensor& codes) const;
    Tensor resBlock(Backend& be, const VqResBlock& b, const Tensor& x) const;
    Tensor attnBlock(Backend& be, const VqAttnBlock& a, const Tensor& x) const;

    VqCoder encoder_, decoder_;
    Tensor quant_conv_w_, quant_conv_b_, post_quant_w_, post_quant_b_;
    Tensor codebook_, codebook_unit_, codebook_sq_, unit_sq_, inv_sqrt_dim_;
    int64_t codebook_size_ = 0, code_dim_ = 0;
    bool l2_norm_ = false;
};

// ---- SigLIP-style vision encoder (janus_vision.cpp) --------------------------------------------------

struct VisionSettings {
    int64_t heads = 0;
    float layer_norm_eps = 1e-6f;
    Activation act = Activation::Gelu;
};

class VisionTower {
public:
    void load(Binder& wb, Backend& be, const VisionSettings& settings);
    int64_t hidden() const { return hidden_; }
    int64_t tokens() const { return tokens_; }
    int64_t imageSize() const { return image_size_; }
    // pixels [B, 3, S, S] -> post-LayerNorm features [B, tokens, hidden].
    Tensor forward(Backend& be, const Tensor& pixels) const;

private:
    using Layer = models::VitLayer;
    VisionSettings s_;
    Tensor patch_w_, patch_b_, pos_, post_w_, post_b_;
    std::vector<Layer> layers_;
    int64_t hidden_ = 0, tokens_ = 0, patch_ = 0, image_size_ = 0;
};

} // namespace tessera::janus
