// LLaVA (IG-LLM's base): a CLIP vision tower (features from a chosen layer, CLS dropped), a two-layer
// projector, and a Llama LM whose image-placeholder embeddings are replaced by the projected features.
#pragma once

#include <memory>

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"

namespace tessera {

class LlavaModel {
public:
    static Expected<std::unique_ptr<LlavaModel>> load(const Checkpoint& ckpt, Backend& backend);
    virtual ~LlavaModel() = default;

    virtual CausalLM& lm() = 0;
    // Projected image features [B, N, D] for pixel_values [B, 3, S, S].
    virtual Tensor imageFeatures(const Tensor& pixel_values) = 0;
    // Text embeddings of input_ids [B, T] with every image placeholder replaced, in order, by the
    // image features. Fails (tessera::Error) when the placeholder count differs from the features'.
    virtual Tensor inputEmbeds(const Tensor& input_ids, const Tensor& pixel_values) = 0;
};

} // namespace tessera
