// The table of reference-set kinds beyond the causal-LM default. Add a row per new kind.
#include "verify/verify_internal.h"

namespace tessera::verify {

// verify_janus.cpp
bool isJanusConfig(const ModelConfig& cfg);
Expected<VerifyReport> verifyJanus(const std::string& dir, Backend& backend);
bool isJanusVqEncodeSet(const std::string& dir);
Expected<VerifyReport> verifyJanusVqEncode(const std::string& dir, Backend& backend);
// verify_llava.cpp
bool isLlavaConfig(const ModelConfig& cfg);
Expected<VerifyReport> verifyLlava(const std::string& dir, Backend& backend);
// verify_cosmos.cpp
bool isCosmosConfig(const ModelConfig& cfg);
Expected<VerifyReport> verifyCosmos(const std::string& dir, Backend& backend);
// verify_mmrope.cpp
bool isMmRopeSet(const std::string& dir);
Expected<VerifyReport> verifyMmRope(const std::string& dir, Backend& backend);

const std::vector<Kind>& extraKinds() {
    static const std::vector<Kind> kinds = {
        {"janus", isJanusConfig, verifyJanus},
        {"llava", isLlavaConfig, verifyLlava},
        // The Cosmos video tokenizer (Lumos-1): FSQ, decode with intermediates, causality, encode.
        {"cosmos", isCosmosConfig, verifyCosmos},
        // Goldens only (pixels -> pre_quant, indices, quantized); the checkpoint is ../janus_tiny.
        {"janus-vq-encode", [](const ModelConfig&) { return false; }, verifyJanusVqEncode,
         isJanusVqEncodeSet},
        // Lumos-1 MM-RoPE positions, tables and frame-causal mask (meta.json + goldens, no checkpoint).
        {"mmrope", [](const ModelConfig&) { return false; }, verifyMmRope, isMmRopeSet},
    };
    return kinds;
}

} // namespace tessera::verify
