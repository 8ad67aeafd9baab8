// Chameleon family (Lumos-1's backbone): Llama layout plus per-head LayerNorm on q and k, and the
// swin_norm variant that normalises block outputs instead of inputs.
#include "models/transformer.h"

namespace tessera::models {

Expected<TransformerConfig> chameleonConfig(const ModelConfig& config) {
    TransformerConfig c = readLlamaStyleConfig(config, "chameleon");
    c.qkv_bias = c.o_bias = config.textBool("attention_bias", false);
    c.qk_norm = true;
    c.swin_norm = config.textBool("swin_norm", false);
    return c;
}

} // namespace tessera::models
