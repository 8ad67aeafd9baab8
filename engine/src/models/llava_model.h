// LLaVA (IG-LLM's base): a CLIP vision tower (features from a chosen layer, CLS dropped), a two-layer
// projector, and a Llama LM whose image-placeholder embeddings are replaced by the projected features.
// IG-LLM checkpoints add a float head: the LM's final-normed hidden state where the model predicts the
// `[NUM]` token regresses the number that token stands for.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"

#include <memory>
#include <vector>

namespace tessera {

// config.json `float_head_type` (top level, or in text_config): the official IG-LLM choices.
//   none          no head; numbers are spelled as digits in the text
//   linear        Linear(H, 1)                                   tensors float_head.{weight,bias}
//   tanh_mlp_gelu Tanh -> Linear(H, H) -> GELU (erf) -> Linear(H, 1)
//                                                                tensors float_head.{1,3}.{weight,bias}
// The tensors may also sit under `model.` or `language_model.` (checkpoints saved from a wrapper).
enum class FloatHeadType { None, Linear, TanhMlpGelu };
const char* floatHeadTypeName(FloatHeadType type);

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

    virtual FloatHeadType floatHeadType() const = 0;
    // The float head on hidden states [..., H] (final-normed, as CausalLM::forward returns them): one
    // value per row, read back to the host. Throws tessera::Error when the checkpoint has no head or
    // the last dimension is not H.
    virtual std::vector<float> floatValues(const Tensor& hidden) = 0;
};

} // namespace tessera
