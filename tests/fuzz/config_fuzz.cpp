// Fuzz target: arbitrary bytes as config.json text, through ModelConfig::parse and every accessor.
//
// Accessors may reject a value with tessera::Error; any other exception escapes and aborts the run,
// which is exactly what the fuzzer should report.
#include "tessera/engine/checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// The keys model families read through the typed accessors, plus ones that are often malformed.
constexpr const char* kKeys[] = {"vocab_size",
                                 "hidden_size",
                                 "num_hidden_layers",
                                 "num_attention_heads",
                                 "num_key_value_heads",
                                 "head_dim",
                                 "intermediate_size",
                                 "max_position_embeddings",
                                 "rms_norm_eps",
                                 "bos_token_id",
                                 "eos_token_id",
                                 "attention_bias",
                                 "tie_word_embeddings",
                                 "rope_theta",
                                 "model_type",
                                 "text_config",
                                 ""};

template <class F> void tolerateError(F&& f) {
    try {
        f();
    } catch (const tessera::Error&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto cfg = tessera::ModelConfig::parse(text, "fuzz/config.json");
    if (!cfg) return 0;
    volatile size_t sink = 0;
    volatile double fsink = 0.0;
    sink = sink + cfg->architecture().size() + cfg->modelType().size();
    sink = sink + cfg->text().size() + cfg->json().size();
    tolerateError([&] { fsink = fsink + cfg->ropeTheta(10000.0); });
    sink = sink + (cfg->tieWordEmbeddings(false) ? 1 : 0) + (cfg->tieWordEmbeddings(true) ? 1 : 0);
    for (const char* key : kKeys) {
        tolerateError([&] { sink = sink + static_cast<size_t>(cfg->textInt(key)); });
        tolerateError([&] { sink = sink + static_cast<size_t>(cfg->textInt(key, -1)); });
        tolerateError([&] { fsink = fsink + cfg->textFloat(key, 0.5); });
        tolerateError([&] { sink = sink + (cfg->textBool(key, true) ? 1 : 0); });
    }
    // What the model registry reads next to the accessors.
    sink = sink + cfg->text().value("model_type", cfg->modelType()).size();
    return 0;
}
