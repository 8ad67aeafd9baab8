// Llama family (Janus-Pro's LM, Token-Shuffle's backbone, LlamaGen): RMSNorm, RoPE, SwiGLU, GQA.
#include "models/transformer.h"

namespace tessera::models {

Expected<TransformerConfig> llamaConfig(const ModelConfig& config) {
    TransformerConfig c = readLlamaStyleConfig(config, "llama");
    c.qkv_bias = c.o_bias = config.textBool("attention_bias", false);
    c.mlp_bias = config.textBool("mlp_bias", false);
    if (c.mlp_bias) return Status::error("Llama checkpoints with mlp_bias=true are not supported yet");
    return c;
}

} // namespace tessera::models
