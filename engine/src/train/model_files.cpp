// What the image-generation trainers share (model_files.h).
#include "train/model_files.h"

#include "tessera/engine/engine.h"

#include <fstream>
#include <sstream>

namespace tessera::train::files {

namespace {
// janusWordTokenizer's fixed ids.
constexpr int32_t kPadId = 0, kBosId = 1, kEosId = 2;
} // namespace

Status writeText(const std::string& path, const std::string& text) {
    return writeFileAtomically(path, {{text.data(), text.size()}});
}

Expected<std::string> readText(const std::string& path, bool required) {
    std::ifstream in(path, std::ios::binary);
    if (!in && required) return Status::error("cannot read " + path);
    if (!in) return std::string();
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

int64_t kvHeadsOf(const JanusGenConfig& m) {
    return m.kv_heads > 0 ? m.kv_heads : m.heads;
}

int64_t intermediateOf(const JanusGenConfig& m) {
    return m.intermediate > 0 ? m.intermediate : (8 * m.hidden / 3 + 31) / 32 * 32;
}

Status checkLlamaShape(const JanusGenConfig& m) {
    const int64_t d = m.hidden, heads = m.heads, kv = kvHeadsOf(m);
    if (d <= 0 || m.layers <= 0 || heads <= 0 || kv <= 0 || d % heads != 0 || (d / heads) % 2 != 0 ||
        heads % kv != 0)
        return Status::error("model size: hidden (" + std::to_string(d) + ") must split into heads (" +
                             std::to_string(heads) + ") of an even width, and heads into kv heads (" +
                             std::to_string(kv) + ")");
    return {};
}

nlohmann::ordered_json llamaConfigJson(const JanusGenConfig& m, int64_t vocab) {
    return {{"model_type", "llama"},
            {"vocab_size", vocab},
            {"hidden_size", m.hidden},
            {"intermediate_size", intermediateOf(m)},
            {"num_hidden_layers", m.layers},
            {"num_attention_heads", m.heads},
            {"num_key_value_heads", kvHeadsOf(m)},
            {"head_dim", m.hidden / m.heads},
            {"hidden_act", "silu"},
            {"max_position_embeddings", m.max_positions},
            {"rms_norm_eps", m.norm_eps},
            {"rope_theta", m.rope_theta},
            {"bos_token_id", kBosId},
            {"eos_token_id", kEosId},
            {"pad_token_id", kPadId},
            {"tie_word_embeddings", true},
            {"attention_bias", false},
            {"mlp_bias", false}};
}

void addLlamaWeights(const AddWeight& add, const std::string& prefix, const JanusGenConfig& m,
                     int64_t vocab) {
    const int64_t d = m.hidden, heads = m.heads, kv = kvHeadsOf(m), hd = d / heads, ff = intermediateOf(m);
    const double w = kInitStd, w_out = residualInitStd(m.layers);
    add(prefix + "embed_tokens.weight", {vocab, d}, w, 0);
    for (int64_t l = 0; l < m.layers; ++l) {
        const std::string p = prefix + "layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {d}, 0, 1.0);
        add(p + "self_attn.q_proj.weight", {heads * hd, d}, w, 0);
        add(p + "self_attn.k_proj.weight", {kv * hd, d}, w, 0);
        add(p + "self_attn.v_proj.weight", {kv * hd, d}, w, 0);
        add(p + "self_attn.o_proj.weight", {d, heads * hd}, w_out, 0);
        add(p + "post_attention_layernorm.weight", {d}, 0, 1.0);
        add(p + "mlp.gate_proj.weight", {ff, d}, w, 0);
        add(p + "mlp.up_proj.weight", {ff, d}, w, 0);
        add(p + "mlp.down_proj.weight", {d, ff}, w_out, 0);
    }
    add(prefix + "norm.weight", {d}, 0, 1.0);
}

} // namespace tessera::train::files
