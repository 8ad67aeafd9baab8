// Janus-Pro model: the Llama LM plus generation embeddings/aligner/head, the VQ image decoder and
// encoder, and the understanding path (SigLIP-style vision encoder + aligner). Loads both the
// transformers layout (`model.language_model.*`, `model.vqmodel.*`, …) and the original DeepSeek
// layout (`language_model.model.*`, `gen_vision_model.*`, …); see the name map in janus_model.cpp.
//
// Config styles: transformers (`text_config`, `vision_config`, `vq_config`) and the original DeepSeek
// one (`language_config`, `vision_config.params`, `gen_vision_config.params`, …). The VQ and vision
// architectures are read off the tensor shapes, so both styles need only a few fields:
//   - image_token_id: top-level `image_token_id`, else `<image_placeholder>` in the folder's tokenizer.json;
//   - vision heads: transformers `vision_config.num_attention_heads`; DeepSeek from the SigLIP model name
//     (`vision_config.params.model_name`) or `vision_config.params.num_heads`;
//   - generated image side: transformers `vq_config.num_patches` (tokens per side); DeepSeek
//     `gen_vision_config.params.image_size` (pixels), default 384 as in the official generation script;
//   - VQ encode's codebook_l2_norm (latent and codebook rows L2-normalised before the nearest-code search):
//     transformers `vq_config.codebook_l2_norm`, default off as transformers' quantiser; DeepSeek
//     `gen_vision_config.params.codebook_l2_norm`, default on as the original VQ-16.
//
// Failure modes: load() returns a Status listing every missing or mis-shaped tensor. The run methods
// throw tessera::Error on inputs of the wrong shape or ids outside the codebook (as Backend ops do);
// callers at a module boundary turn that into a failed job. Thread affinity: one thread at a time.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"

#include <memory>
#include <string>

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

// What the VQ encoder and quantiser produce for pixels [B, 3, H, W].
struct JanusEncoding {
    Tensor pre_quant; // [B, code_dim, h, w]: quant_conv output, before quantisation
    Tensor quantized; // [B, code_dim, h, w]: nearest codebook rows (L2-normalised with codebook_l2_norm)
    Tensor indices;   // [B, h*w] i64, raster order
};

class JanusModel {
public:
    // generation_only: skip what text→image generation never runs (the SigLIP understanding tower and
    // its aligner, the VQ encoder); encode()/imageFeatures()/understandingEmbeds() then throw Error.
    static Expected<std::unique_ptr<JanusModel>> load(const Checkpoint& ckpt, Backend& backend,
                                                      bool generation_only = false);
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
    // Codebook rows for ids as the decoder uses them (L2-normalised, like the reference
    // get_codebook_entry): [B, code_dim, h, w].
    virtual Tensor codesFor(const Tensor& ids, int64_t h, int64_t w) = 0;
    // VQ encoder + quantiser: pixels [B, 3, H, W] in [-1, 1] -> code indices [B, h*w].
    virtual Tensor encodeImage(const Tensor& pixels) = 0;
    // Same, with the latent before and after quantisation.
    virtual JanusEncoding encode(const Tensor& pixels) = 0;
    // Understanding encoder + aligner: pixel_values [B, 3, S, S] -> LM-space features [B, N, D].
    virtual Tensor imageFeatures(const Tensor& pixel_values) = 0;
    // Understanding: text embeddings of input_ids [B, T] with the image placeholders replaced by the
    // aligned vision features of pixel_values [B, 3, S, S]. Returns [B, T, D].
    virtual Tensor understandingEmbeds(const Tensor& input_ids, const Tensor& pixel_values) = 0;
    virtual size_t weightBytes() const = 0;
    // Where the LM's tensors sit in this checkpoint (prefix and head name), for weight overlays.
    virtual const LmLayout& lmLayout() const = 0;
    // Replaces the LM by a view of it with `overlay` applied (CausalLM::withOverlay: untouched tensors
    // shared). Fails, leaving the model as it was, on unknown names or wrong shapes.
    virtual Status overlayLm(const WeightOverlay& overlay) = 0;
};

} // namespace tessera
