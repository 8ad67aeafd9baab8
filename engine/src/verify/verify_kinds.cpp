// The table of reference-set kinds beyond the causal-LM default. Add a row per new kind.
#include "verify/verify_dicode_decoder.h"
#include "verify/verify_dicode_llm.h"
#include "verify/verify_internal.h"

#include <cmath>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

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

namespace {

// DiCoDe: the LLM side's checks, then the decoder side's. Every golden neither side compares is a
// failed "not checked" entry, so a golden added to the set is never silently skipped.
Expected<VerifyReport> verifyDicode(const std::string& dir, Backend& backend) {
    VerifyReport report;
    report.kind = "dicode";
    if (Status s = verifyDicodeLlm(dir, backend, report); !s.ok()) return s;
    // Decoder side: U-Net, DDIM, VAE, schedule, contexts.
    auto decoder = verifyDicodeDecoder(dir, backend);
    if (!decoder) return decoder.status();
    for (VerifyCheck& c : decoder->checks) report.checks.push_back(std::move(c));
    for (std::string& n : decoder->notes) report.notes.push_back(std::move(n));
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    std::set<std::string> compared;
    for (const auto& c : report.checks) compared.insert(c.name);
    // golden.json gives each tensor's role; inputs are what the checks feed in, not results to compare.
    std::set<std::string> inputs;
    if (std::ifstream f(dir + "/golden.json"); f) {
        const nlohmann::json roles = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
        if (roles.is_object())
            for (const auto& [name, entry] : roles.items())
                if (entry.is_object() && entry.value("role", "") == "input") inputs.insert(name);
    }
    for (const std::string& name : gold->ckpt.names()) {
        if (compared.count(name) || inputs.count(name) || isDicodeLlmGolden(name)) continue;
        if (!gold->tensor(name, backend)) continue; // marks it as handled here, not as an unknown golden
        VerifyCheck c;
        c.name = name;
        c.max_abs_diff = INFINITY;
        c.detail = "not checked by the DiCoDe LLM or decoder checks";
        report.checks.push_back(std::move(c));
    }
    return report;
}

} // namespace

const std::vector<Kind>& extraKinds() {
    static const std::vector<Kind> kinds = {
        {"janus", isJanusConfig, verifyJanus},
        {"llava", isLlavaConfig, verifyLlava},
        // The Cosmos video tokenizer (Lumos-1): FSQ, decode with intermediates, causality, encode.
        {"cosmos", isCosmosConfig, verifyCosmos},
        // DiCoDe: deep-token Resampler, GPT-2 with the Gaussian-mixture head, and the video decoder.
        {"dicode", isDicodeConfig, verifyDicode},
        // Goldens only (pixels -> pre_quant, indices, quantized); the checkpoint is ../janus_tiny.
        {"janus-vq-encode", [](const ModelConfig&) { return false; }, verifyJanusVqEncode,
         isJanusVqEncodeSet},
        // Lumos-1 MM-RoPE positions, tables and frame-causal mask (meta.json + goldens, no checkpoint).
        {"mmrope", [](const ModelConfig&) { return false; }, verifyMmRope, isMmRopeSet},
    };
    return kinds;
}

} // namespace tessera::verify
