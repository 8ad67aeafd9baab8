// Training a Janus-layout VQ image tokenizer (encoder, codebook, decoder) on the tape.
//
// The parameters carry the names and shapes the Janus VQ loader binds (engine/src/models/janus_vq.cpp,
// transformers' JanusVQVAE under `model.vqmodel.`), so a saved model loads with the normal loader and its
// decoder turns codes into pixels exactly as the training forward pass does. The quantiser searches
// between unit vectors (the original VQ-16's codebook_l2_norm) and the decoder reads unit codebook rows,
// as the loader's decoder does. Encoder downsampling is the loader's: pad one row and column at the
// right/bottom, then a stride-2 3x3 convolution (written on the tape as a 5x5 convolution with padding 2
// whose first two rows and columns are zero, which touches the same pixels).
//
// Ownership: a VqTrainModel owns its parameters. Thread affinity: one thread at a time. Failure modes:
// a bad configuration or input shape throws tessera::Error from the constructor or forward();
// save() returns a Status naming the file.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/train.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::train {

struct VqTrainConfig {
    int64_t channels = 32;   // every level's width (a multiple of 32: the loader's GroupNorm has 32 groups)
    int levels = 4;          // downsampling factor 2^(levels - 1)
    int blocks = 1;          // res blocks per level
    int64_t codebook = 256;  // codes
    int64_t code_dim = 8;    // codebook row width
    int64_t z_channels = 32; // encoder output / decoder input width
    float commitment = 0.25f;
    // The reconstruction loss weighs pixel p by 1 + object_weight·min(1, max(|x_p − m|, |r_p − m|)) (x the
    // target, r the reconstruction, held constant; m: the target's per-channel median, the ground of a
    // Shapes render; |·| the RGB distance in [-1, 1] units), the weights scaled to mean 1 per image.
    // 0 = plain MSE. Small objects cover a few percent of a picture, so plain MSE is mostly the ground;
    // weighing the reconstruction's own strays too keeps it from painting objects over the ground.
    float object_weight = 0.0f;
};

class VqTrainModel {
public:
    VqTrainModel(const VqTrainConfig& config, uint64_t seed);
    const VqTrainConfig& config() const { return config_; }
    std::vector<Parameter<float>>& parameters() { return params_; }
    int64_t downsample() const { return int64_t{1} << (config_.levels - 1); }

    struct Forward {
        Var reconstruction;         // [B, 3, H, W], pixels in [-1, 1]
        Var loss;       // the weighted reconstruction loss + codebook + commitment·commitment loss
        Var pixel_loss; // mse(reconstruction, pixels), unweighted
        std::vector<int64_t> codes; // [B, H/f, W/f] row-major
        Var latents;                // [B·H/f·W/f, code_dim] unit encoder vectors the codes were chosen for
    };
    // pixels: [batch, 3, height, width] in [-1, 1]; sides multiples of downsample().
    Forward forward(Tape<float>& tape, const std::vector<float>& pixels, int64_t batch, int64_t height,
                    int64_t width);

    // Dead-code restart: runs the model on `pixels` (no gradients) and points every codebook row that no
    // latent of this batch chose at one of the batch's latents, those farthest from their chosen code
    // first (each latent used once; at most as many rows as latents). Depends only on the weights and
    // the pixels, so a run restarted from a checkpoint repeats it exactly. Returns the rows moved.
    int restartUnusedCodes(const std::vector<float>& pixels, int64_t batch, int64_t height, int64_t width);

    // model.safetensors (`dtype`: F32, F16 or BF16) and config.json (its torch_dtype) into `dir`
    // (created if missing).
    Status save(const std::string& dir, DType dtype = DType::F32) const;

private:
    Parameter<float>& param(const std::string& name);
    VqTrainConfig config_;
    std::vector<Parameter<float>> params_;
};

} // namespace tessera::train
