// Janus-Pro model: the Llama LM plus generation embeddings/aligner/head, the VQ image decoder and
// encoder, and the understanding path (SigLIP-style vision encoder + aligner). Loads both the
// transformers layout (`model.language_model.*`, `model.vqmodel.*`, …) and the original DeepSeek
// layout (`language_model.model.*`, `gen_vision_model.*`, …); see the name map in janus_model.cpp.
#pragma once

#include <memory>
#include <string>

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"

namespace tessera {

struct JanusConfig {
    std::string layout;          // "transformers" | "deepseek"
    int64_t image_token_id = -1; // placeholder id scattered with vision features (understanding)
    int64_t codebook_size = 0;   // VQ codes = generation-head vocabulary
    int64_t code_dim = 0;        // codebook embedding dim (8)
    int64_t grid = 0;            // tokens per side of a generated image (24 for 384²)
    int64_t image_size = 0;      // pixels per side of a generated image
    int64_t vision_tokens = 0;   // understanding: image tokens per image
};

class JanusModel {
public:
    static Expected<std::unique_ptr<JanusModel>> load(const Checkpoint& ckpt, Backend& backend);
    virtual ~JanusModel() = default;

    virtual const JanusConfig& config() const = 0;
    virtual CausalLM& lm() = 0;
    virtual Backend& backend() const = 0;

    // gen_aligner(gen_embed(ids)): image token ids [B, T] -> LM input embeddings [B, T, D].
    virtual Tensor imageTokenEmbeds(const Tensor& ids) = 0;
    // gen_head: hidden [..., D] -> image-token logits [..., codebook].
    virtual Tensor genHead(const Tensor& hidden) = 0;
    // VQ decoder: ids [B, h*w] (raster) -> pixels [B, 3, H, W] as the reference decoder outputs them
    // (before the [-1,1] -> [0,255] mapping).
    virtual Tensor decodeImageTokens(const Tensor& ids, int64_t h, int64_t w) = 0;
    // Same, from code vectors [B, code_dim, h, w] (already looked up and normalised as the
    // quantiser does): lets previews blend or blank cells.
    virtual Tensor decodeCodes(const Tensor& codes) = 0;
    // Codebook rows for ids, as the quantiser returns them: [B, code_dim, h, w].
    virtual Tensor codesFor(const Tensor& ids, int64_t h, int64_t w) = 0;
    // VQ encoder + quantiser: pixels [B, 3, H, W] in [-1, 1] -> code indices [B, h*w].
    virtual Tensor encodeImage(const Tensor& pixels) = 0;
    // Understanding: text embeddings of input_ids [B, T] with the image placeholders replaced by the
    // aligned vision features of pixel_values [B, 3, S, S]. Returns [B, T, D].
    virtual Tensor understandingEmbeds(const Tensor& input_ids, const Tensor& pixel_values) = 0;
    virtual size_t weightBytes() const = 0;
};

} // namespace tessera
