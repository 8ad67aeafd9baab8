// Benchmark models: preset configs, the tensors a config implies, and random f32 checkpoints on disk.
#include "models/transformer.h"
#include "tessera/engine/bench.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace fs = std::filesystem;

namespace tessera::bench {

// ---- presets -----------------------------------------------------------------------------------------

namespace {

nlohmann::json llamaStyle(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
                          int64_t intermediate, bool tied, int64_t max_positions) {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", vocab},
            {"hidden_size", hidden},
            {"num_hidden_layers", layers},
            {"num_attention_heads", heads},
            {"num_key_value_heads", kv_heads},
            {"intermediate_size", intermediate},
            {"max_position_embeddings", max_positions},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"tie_word_embeddings", tied},
            {"attention_bias", false},
            {"mlp_bias", false},
            {"torch_dtype", "float32"}};
}

} // namespace

std::vector<std::string> decodePresets() {
    return {"llama-tiny", "llama-100m", "janus-pro-1b"};
}

Expected<nlohmann::json> presetConfig(const std::string& name) {
    // A few MB: for tests and smoke runs.
    if (name == "llama-tiny") return llamaStyle(512, 128, 2, 4, 2, 256, false, 1024);
    // GPT-2-small-sized Llama with tied embeddings: 109,529,856 parameters, 438 MB in f32.
    if (name == "llama-100m") return llamaStyle(32000, 768, 12, 12, 12, 2048, true, 2048);
    // The language model inside Janus-Pro-1B (Llama: 24 layers, d 2048, 102400-token vocabulary).
    if (name == "janus-pro-1b") return llamaStyle(102400, 2048, 24, 16, 16, 5632, false, 16384);
    std::string known;
    for (const auto& p : decodePresets()) known += " " + p;
    return Status::error("unknown preset '" + name + "'; known:" + known);
}

// ---- tensors implied by a config ---------------------------------------------------------------------

Expected<std::vector<TensorSpec>> checkpointTensors(const nlohmann::json& config) {
    auto mc = ModelConfig::parse(config.dump(), "config.json");
    if (!mc) return mc.status();
    const std::string type = mc->text().value("model_type", mc->modelType());
    const std::string arch = mc->architecture();
    Expected<TransformerConfig> tc = Status::error("");
    try {
        if (type == "llama" || arch == "LlamaForCausalLM")
            tc = models::llamaConfig(*mc);
        else if (type == "qwen2" || arch == "Qwen2ForCausalLM")
            tc = models::qwen2Config(*mc);
        else if (type == "chameleon" || arch.rfind("Chameleon", 0) == 0)
            tc = models::chameleonConfig(*mc);
        else
            return Status::error("config.json: model_type '" + type +
                                 "' is not a supported decoder (llama, qwen2, chameleon)");
    } catch (const Error& e) {
        return Status::error(e.what());
    }
    if (!tc) return tc.status();
    const TransformerConfig& c = *tc;
    const int64_t d = c.hidden, hd = c.head_dim, qd = c.heads * hd, kvd = c.kv_heads * hd,
                  ff = c.intermediate;
    std::vector<TensorSpec> t;
    t.push_back({"model.embed_tokens.weight", {c.vocab, d}});
    for (int64_t l = 0; l < c.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        t.push_back({p + "input_layernorm.weight", {d}});
        t.push_back({p + "post_attention_layernorm.weight", {d}});
        t.push_back({p + "self_attn.q_proj.weight", {qd, d}});
        t.push_back({p + "self_attn.k_proj.weight", {kvd, d}});
        t.push_back({p + "self_attn.v_proj.weight", {kvd, d}});
        t.push_back({p + "self_attn.o_proj.weight", {d, qd}});
        if (c.qkv_bias) {
            t.push_back({p + "self_attn.q_proj.bias", {qd}});
            t.push_back({p + "self_attn.k_proj.bias", {kvd}});
            t.push_back({p + "self_attn.v_proj.bias", {kvd}});
        }
        if (c.o_bias) t.push_back({p + "self_attn.o_proj.bias", {d}});
        if (c.qk_norm) {
            t.push_back({p + "self_attn.q_norm.weight", {c.heads, hd}});
            t.push_back({p + "self_attn.q_norm.bias", {c.heads, hd}});
            t.push_back({p + "self_attn.k_norm.weight", {c.kv_heads, hd}});
            t.push_back({p + "self_attn.k_norm.bias", {c.kv_heads, hd}});
        }
        t.push_back({p + "mlp.gate_proj.weight", {ff, d}});
        t.push_back({p + "mlp.up_proj.weight", {ff, d}});
        t.push_back({p + "mlp.down_proj.weight", {d, ff}});
    }
    t.push_back({"model.norm.weight", {d}});
    if (!c.tie_embeddings) t.push_back({"lm_head.weight", {c.vocab, d}});
    return t;
}

int64_t parameterCount(const std::vector<TensorSpec>& tensors) {
    int64_t n = 0;
    for (const auto& t : tensors) n += shapeNumel(t.shape);
    return n;
}

// ---- writing -----------------------------------------------------------------------------------------

namespace {

// splitmix64: fast, seedable, good enough to make weights that are not all alike.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [-1, 1).
    float symmetric() {
        return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) / (1 << 23);
    }
};

bool isNormWeight(const std::string& name) {
    return name.find("norm.weight") != std::string::npos ||
           name.find("layernorm.weight") != std::string::npos;
}

} // namespace

Status writeRandomCheckpoint(const nlohmann::json& config, const std::string& dir, uint64_t seed, DType dtype) {
    if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16)
        return Status::error("random checkpoints are f32, bf16 or f16");
    const size_t elem = dtypeSize(dtype);
    auto tensors = checkpointTensors(config);
    if (!tensors) return tensors.status();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    {
        std::ofstream cfg(fs::path(dir) / "config.json");
        cfg << config.dump(2) << "\n";
        if (!cfg) return Status::error("cannot write " + dir + "/config.json");
    }
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : *tensors) {
        size_t bytes = static_cast<size_t>(shapeNumel(t.shape)) * elem;
        header[t.name] = {{"dtype", dtypeName(dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    header["__metadata__"] = {{"format", "pt"}, {"tessera", "random benchmark weights"}};
    std::string text = header.dump();
    // Pad with spaces (allowed by the format) so the data section starts 64-byte aligned in the file:
    // the mmap'd f32 weights are then used in place with aligned rows.
    while ((8 + text.size()) % 64 != 0) text.push_back(' ');
    const std::string path = (fs::path(dir) / "model.safetensors").string();
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    uint64_t len = text.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(len >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    Rng rng{seed};
    std::vector<float> chunk(1 << 20);
    std::vector<uint16_t> narrow(dtype == DType::F32 ? 0 : chunk.size());
    for (const auto& t : *tensors) {
        if (!ok) break;
        const int64_t n = shapeNumel(t.shape);
        const bool norm = isNormWeight(t.name);
        // ±1/sqrt(fan-in) keeps activations in a realistic range through the layers.
        const float scale = t.shape.size() == 2 ? 1.0f / std::sqrt(static_cast<float>(t.shape[1])) : 0.02f;
        for (int64_t done = 0; done < n && ok;) {
            const int64_t m = std::min<int64_t>(n - done, static_cast<int64_t>(chunk.size()));
            for (int64_t i = 0; i < m; ++i)
                chunk[static_cast<size_t>(i)] = norm ? 1.0f : rng.symmetric() * scale;
            if (dtype == DType::F32) {
                ok = std::fwrite(chunk.data(), 4, static_cast<size_t>(m), f.get()) == static_cast<size_t>(m);
            } else {
                for (int64_t i = 0; i < m; ++i)
                    narrow[static_cast<size_t>(i)] = dtype == DType::BF16 ? f32ToBf16(chunk[static_cast<size_t>(i)])
                                                                          : f32ToF16(chunk[static_cast<size_t>(i)]);
                ok = std::fwrite(narrow.data(), 2, static_cast<size_t>(m), f.get()) == static_cast<size_t>(m);
            }
            done += m;
        }
    }
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

} // namespace tessera::bench
