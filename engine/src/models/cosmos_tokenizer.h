// The Cosmos DV tokenizer's native implementation (cosmos_tokenizer.cpp), seen by the reference-set
// runner: the public CosmosTokenizer plus decode/encode variants that report their intermediates.
//
// Activations are [frames, channels, height, width]: time folded into the batch dimension, so every
// (1,3,3) conv is one conv2d, the per-frame GroupNorm is groupNorm over the batch, and a (3,1,1) causal
// conv is a sum of 1×1 convs over time-shifted frames (gatherRows with the first frame replicated).
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/cosmos.h"

#include <functional>
#include <string>
#include <vector>

namespace tessera::cosmos {

// Called with an intermediate activation [frames, channels, height, width] on the running backend, named
// as the reference sets name them ("decode_conv_in", "encode_z", …). Empty = not called.
using Probe = std::function<void(const std::string& name, const Tensor& tchw)>;

// One official CausalConv3d: weight [Cout, Cin, kt, kh, kw] with either kt = 1 (spatial or pointwise)
// or kh = kw = 1 (causal temporal, first frame replicated kt − 1 times in front).
struct Conv3d {
    int64_t kt = 1, k = 1;
    Tensor w;                 // kt = 1: [Cout, Cin, k, k]
    std::vector<Tensor> taps; // kt > 1: kt tensors [Cout, Cin, 1, 1]; tap j reads frame t − (kt − 1 − j)
    Tensor b;
    Tensor run(Backend& be, const Tensor& x, int stride = 1, int pad = -1) const;
};

struct Norm {
    Tensor w, b;
    Tensor run(Backend& be, const Tensor& x) const; // per-frame GroupNorm(1), eps 1e-6
};

struct ResBlock {
    Norm norm1, norm2;
    Conv3d conv1s, conv1t, conv2s, conv2t, nin; // nin undefined when widths match
};

struct AttnBlock {
    Norm norm;
    Conv3d q, k, v, proj;
};

struct Level {
    std::vector<ResBlock> blocks;
    bool resample = false; // spatial ×2 up (decoder) or ÷2 down (encoder)
    Conv3d resample_conv; // up: conv2 (1,3,3) in a residual; down: conv1 stride 2 with the 2×2 mean folded in
    Conv3d resample_out;  // conv3 (1×1×1)
};

struct Coder {
    Conv3d conv_in_s, conv_in_t;
    std::vector<Level> levels; // in execution order: encoder 0..L−1, decoder L−1..0
    std::vector<int> level_index;
    ResBlock mid1, mid2;
    AttnBlock attn_spatial, attn_temporal;
    Norm norm_out;
    Conv3d conv_out_s, conv_out_t;
};

class Model final : public CosmosTokenizer {
public:
    static Expected<std::unique_ptr<Model>> load(const std::string& dir, Backend& be, bool with_encoder);

    const CosmosFsq& fsq() const override { return fsq_; }
    int64_t temporalCompression() const override { return temporal_; }
    int64_t spatialCompression() const override { return spatial_; }
    bool hasEncoder() const override { return has_encoder_; }
    Expected<VideoF32> decode(Backend& be, const std::vector<int32_t>& codes, int64_t latent_frames,
                              int64_t h, int64_t w) const override {
        return decodeProbed(be, codes, latent_frames, h, w, {});
    }
    Expected<std::vector<int32_t>> encode(Backend& be, const VideoF32& video) const override {
        return encodeProbed(be, video, {});
    }

    Expected<VideoF32> decodeProbed(Backend& be, const std::vector<int32_t>& codes, int64_t latent_frames,
                                    int64_t h, int64_t w, const Probe& probe) const;
    Expected<std::vector<int32_t>> encodeProbed(Backend& be, const VideoF32& video, const Probe& probe) const;

private:
    Tensor runDecoder(Backend& be, Tensor x, const Probe& probe) const;
    Tensor runEncoder(Backend& be, Tensor x, const Probe& probe) const;

    CosmosFsq fsq_;
    int64_t temporal_ = 4, spatial_ = 8, patch_ = 4, channels_out_ = 3;
    bool has_encoder_ = false;
    Conv3d quant_conv_, post_quant_conv_;
    Coder encoder_, decoder_;
};

// The Haar wavelet patcher and unpatcher (exact host arithmetic, see cosmos_tokenizer.cpp).
// patch: [F][C][H][W] → [T][C·p³][H/p][W/p] with the first frame repeated p times; unpatch: inverse,
// dropping the first p − 1 frames.
std::vector<float> haarPatch(const std::vector<float>& fchw, int64_t frames, int64_t c, int64_t h, int64_t w,
                             int64_t patch);
std::vector<float> haarUnpatch(const std::vector<float>& tchw, int64_t t, int64_t c, int64_t h, int64_t w,
                               int64_t patch);

} // namespace tessera::cosmos
