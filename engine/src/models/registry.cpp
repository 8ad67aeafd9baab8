// The one table of causal-LM architectures this build knows.
#include <functional>

#include "models/transformer.h"
#include "tessera/engine/platform.h"

namespace tessera {

namespace {

using Loader = std::function<Expected<std::unique_ptr<CausalLM>>(const Checkpoint&, Backend&, const LmLayout&)>;

struct Family {
    const char* architecture;
    const char* model_type;
    Loader load;
};

// Families on the shared Llama-style transformer differ only in how they read config.json.
Loader onTransformer(Expected<TransformerConfig> (*config)(const ModelConfig&)) {
    return [config](const Checkpoint& ckpt, Backend& backend, const LmLayout& layout) -> Expected<std::unique_ptr<CausalLM>> {
        auto tc = config(ckpt.config());
        if (!tc) return Status::error(ckpt.dir() + ": " + tc.error());
        return models::Transformer::load(ckpt, backend, *tc, layout);
    };
}

const std::vector<Family>& families() {
    static const std::vector<Family> table = {
        {"LlamaForCausalLM", "llama", onTransformer(models::llamaConfig)},
        {"Qwen2ForCausalLM", "qwen2", onTransformer(models::qwen2Config)},
        {"ChameleonForConditionalGeneration", "chameleon", onTransformer(models::chameleonConfig)},
        {"ChameleonForCausalLM", "chameleon", onTransformer(models::chameleonConfig)},
        {"GPT2LMHeadModel", "gpt2", models::loadGpt2},
    };
    return table;
}

} // namespace

std::vector<std::string> supportedCausalLmArchitectures() {
    std::vector<std::string> out;
    for (const auto& f : families()) out.push_back(f.architecture);
    return out;
}

Expected<std::unique_ptr<CausalLM>> loadCausalLM(const Checkpoint& ckpt, Backend& backend, const LmLayout& layout) {
    if (Status fits = requireMemoryFor(ckpt.totalBytes(), ckpt.dir()); !fits.ok()) return fits;
    const ModelConfig& cfg = ckpt.config();
    const std::string arch = cfg.architecture();
    // A nested text_config names its own model_type (Janus, LLaVA: "llama").
    const std::string text_type = cfg.text().contains("model_type") && cfg.text()["model_type"].is_string()
                                      ? cfg.text()["model_type"].get<std::string>()
                                      : cfg.modelType();
    const Family* found = nullptr;
    for (const auto& f : families())
        if (arch == f.architecture) found = &f;
    if (!found)
        for (const auto& f : families())
            if (text_type == f.model_type) found = &f;
    if (!found) {
        std::string known;
        for (const auto& a : supportedCausalLmArchitectures()) known += " " + a;
        return Status::error(ckpt.dir() + ": unknown architecture '" + arch + "' (model_type '" + text_type +
                             "'); supported:" + known);
    }
    try {
        return found->load(ckpt, backend, layout);
    } catch (const Error& e) {
        return Status::error(ckpt.dir() + ": " + e.what());
    } catch (const std::bad_alloc&) {
        return Status::error(ckpt.dir() + ": out of memory while loading the model");
    } catch (const std::exception& e) {
        return Status::error(ckpt.dir() + ": malformed checkpoint: " + e.what());
    }
}

} // namespace tessera

namespace tessera {

Expected<std::unique_ptr<CausalLM>> CausalLM::withOverlay(const WeightOverlay& overlay) const {
    return Status::error("overlay '" + overlay.name + "': the " + config().family + " family does not take weight overlays");
}

} // namespace tessera
