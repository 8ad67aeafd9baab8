// Qwen2 family: Llama layout with q/k/v biases (no o_proj bias), usually tied embeddings.
#include "models/transformer.h"

namespace tessera::models {

Expected<TransformerConfig> qwen2Config(const ModelConfig& config) {
    TransformerConfig c = readLlamaStyleConfig(config, "qwen2");
    c.qkv_bias = true;
    if (config.textBool("use_sliding_window", false))
        return Status::error("Qwen2 sliding-window attention is not supported yet");
    return c;
}

} // namespace tessera::models
