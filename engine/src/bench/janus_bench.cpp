// The Janus generation benchmark. Sections: presets · tensors of a shape · writing a checkpoint ·
// the benchmark (previews off, then on).
#include "bench/bench_scratch.h"
#include "tessera/engine/janus_bench.h"

#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

// ---- presets -----------------------------------------------------------------------------------------

std::vector<std::string> janusPresets() {
    return {"janus-tiny", "janus-small", "janus-pro-1b", "janus-pro-7b"};
}

Expected<JanusShape> janusPresetShape(const std::string& name) {
    JanusShape s; // VQ-16 decoder of Janus-Pro, 24×24 tokens -> 384² pixels
    if (name == "janus-small") return s;
    if (name == "janus-pro-1b") {
        s.vocab = 102400;
        s.hidden = 2048;
        s.layers = 24;
        s.heads = 16;
        s.kv_heads = 16;
        s.intermediate = 5632;
        s.max_positions = 16384;
        s.gen_projection = 2048;
        return s;
    }
    if (name == "janus-pro-7b") {
        s.vocab = 102400;
        s.hidden = 4096;
        s.layers = 30;
        s.heads = 32;
        s.kv_heads = 32;
        s.intermediate = 11008;
        s.max_positions = 16384;
        s.gen_projection = 4096;
        return s;
    }
    if (name == "janus-tiny")
        return Status::error("janus-tiny is the reference checkpoint as stored; it has no generated shape");
    std::string known;
    for (const auto& p : janusPresets()) known += " " + p;
    return Status::error("unknown Janus preset '" + name + "'; known:" + known);
}

nlohmann::json janusConfig(const JanusShape& s) {
    const int64_t vision_tokens = (s.vision_image / s.vision_patch) * (s.vision_image / s.vision_patch);
    nlohmann::json text = {{"model_type", "llama"},
                           {"vocab_size", s.vocab},
                           {"hidden_size", s.hidden},
                           {"num_hidden_layers", s.layers},
                           {"num_attention_heads", s.heads},
                           {"num_key_value_heads", s.kv_heads},
                           {"head_dim", s.hidden / s.heads},
                           {"intermediate_size", s.intermediate},
                           {"max_position_embeddings", s.max_positions},
                           {"hidden_act", "silu"},
                           {"rms_norm_eps", 1e-5},
                           {"rope_parameters", {{"rope_theta", 10000.0}, {"rope_type", "default"}}},
                           {"attention_bias", false},
                           {"mlp_bias", false},
                           {"tie_word_embeddings", false},
                           {"bos_token_id", 1},
                           {"eos_token_id", 2},
                           {"pad_token_id", 0}};
    nlohmann::json vision = {{"model_type", "janus_vision_model"},
                             {"hidden_size", s.vision_hidden},
                             {"num_hidden_layers", s.vision_layers},
                             {"num_attention_heads", s.vision_heads},
                             {"patch_size", s.vision_patch},
                             {"image_size", s.vision_image},
                             {"num_image_tokens", vision_tokens},
                             {"num_channels", 3},
                             {"mlp_ratio", 4.0},
                             {"hidden_act", "gelu"},
                             {"layer_norm_eps", 1e-6},
                             {"attention_bias", true},
                             {"use_qk_norm", false},
                             {"projection_dim", s.hidden}};
    nlohmann::json vq = {{"model_type", "janus_vqgan"},
                         {"num_embeddings", s.codebook},
                         {"embed_dim", s.code_dim},
                         {"base_channels", s.base_channels},
                         {"channel_multiplier", s.channel_multiplier},
                         {"num_res_blocks", s.num_res_blocks},
                         {"latent_channels", s.latent_channels},
                         {"double_latent", false},
                         {"in_channels", 3},
                         {"out_channels", 3},
                         {"num_patches", s.grid},
                         {"hidden_act", "gelu"},
                         {"image_token_embed_dim", s.gen_projection},
                         {"projection_dim", s.hidden},
                         {"num_hidden_layers", 2}};
    return {{"architectures", {"JanusForConditionalGeneration"}},
            {"model_type", "janus"},
            {"dtype", "float32"},
            {"image_token_id", 299},
            {"tie_word_embeddings", true},
            {"text_config", text},
            {"vision_config", vision},
            {"vq_config", vq}};
}

// ---- tensors of a shape --------------------------------------------------------------------------------

namespace {

using Specs = std::vector<TensorSpec>;

void linear(Specs& t, const std::string& p, int64_t out, int64_t in, bool bias = true) {
    t.push_back({p + ".weight", {out, in}});
    if (bias) t.push_back({p + ".bias", {out}});
}
void conv(Specs& t, const std::string& p, int64_t out, int64_t in, int64_t k) {
    t.push_back({p + ".weight", {out, in, k, k}});
    t.push_back({p + ".bias", {out}});
}
void norm(Specs& t, const std::string& p, int64_t ch) {
    t.push_back({p + ".weight", {ch}});
    t.push_back({p + ".bias", {ch}});
}
void resBlock(Specs& t, const std::string& p, int64_t in, int64_t out) {
    norm(t, p + ".norm1", in);
    conv(t, p + ".conv1", out, in, 3);
    norm(t, p + ".norm2", out);
    conv(t, p + ".conv2", out, out, 3);
    if (in != out) conv(t, p + ".nin_shortcut", out, in, 1);
}
void attnBlock(Specs& t, const std::string& p, int64_t ch) {
    norm(t, p + ".norm", ch);
    for (const char* n : {".q", ".k", ".v", ".proj_out"}) conv(t, p + n, ch, ch, 1);
}
void mid(Specs& t, const std::string& p, int64_t ch) {
    resBlock(t, p + ".mid.block_1", ch, ch);
    attnBlock(t, p + ".mid.attn_1", ch);
    resBlock(t, p + ".mid.block_2", ch, ch);
}

// transformers' JanusVQVAE: the encoder goes down the channel multipliers with attention at its last
// (lowest-resolution) level; the decoder comes back up with one more res block per level and attention
// at its first level.
void vqTensors(Specs& t, const JanusShape& s) {
    const std::string p = "model.vqmodel";
    const auto& mult = s.channel_multiplier;
    const size_t levels = mult.size();
    const int64_t base = s.base_channels;
    conv(t, p + ".encoder.conv_in", base, 3, 3);
    int64_t ch = base;
    for (size_t l = 0; l < levels; ++l) {
        const std::string lp = p + ".encoder.down." + std::to_string(l);
        const int64_t out = base * mult[l];
        for (int64_t b = 0; b < s.num_res_blocks; ++b) {
            resBlock(t, lp + ".block." + std::to_string(b), ch, out);
            ch = out;
            if (l + 1 == levels) attnBlock(t, lp + ".attn." + std::to_string(b), ch);
        }
        if (l + 1 < levels) conv(t, lp + ".downsample.conv", ch, ch, 3);
    }
    mid(t, p + ".encoder", ch);
    norm(t, p + ".encoder.norm_out", ch);
    conv(t, p + ".encoder.conv_out", s.latent_channels, ch, 3);

    conv(t, p + ".quant_conv", s.code_dim, s.latent_channels, 1);
    t.push_back({p + ".quantize.embedding.weight", {s.codebook, s.code_dim}});
    conv(t, p + ".post_quant_conv", s.latent_channels, s.code_dim, 1);

    ch = base * mult.back();
    conv(t, p + ".decoder.conv_in", ch, s.latent_channels, 3);
    mid(t, p + ".decoder", ch);
    for (size_t l = 0; l < levels; ++l) {
        const std::string lp = p + ".decoder.up." + std::to_string(l);
        const int64_t out = base * mult[levels - 1 - l];
        for (int64_t b = 0; b <= s.num_res_blocks; ++b) {
            resBlock(t, lp + ".block." + std::to_string(b), ch, out);
            ch = out;
            if (l == 0) attnBlock(t, lp + ".attn." + std::to_string(b), ch);
        }
        if (l + 1 < levels) conv(t, lp + ".upsample.conv", ch, ch, 3);
    }
    norm(t, p + ".decoder.norm_out", ch);
    conv(t, p + ".decoder.conv_out", 3, ch, 3);
}

} // namespace

std::vector<TensorSpec> janusTensors(const JanusShape& s) {
    Specs t;
    const int64_t d = s.hidden, hd = s.hidden / s.heads, kvd = s.kv_heads * hd, ff = s.intermediate;
    const std::string lm = "model.language_model.";
    t.push_back({lm + "embed_tokens.weight", {s.vocab, d}});
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = lm + "layers." + std::to_string(l) + ".";
        t.push_back({p + "input_layernorm.weight", {d}});
        t.push_back({p + "post_attention_layernorm.weight", {d}});
        linear(t, p + "self_attn.q_proj", s.heads * hd, d, false);
        linear(t, p + "self_attn.k_proj", kvd, d, false);
        linear(t, p + "self_attn.v_proj", kvd, d, false);
        linear(t, p + "self_attn.o_proj", d, s.heads * hd, false);
        linear(t, p + "mlp.gate_proj", ff, d, false);
        linear(t, p + "mlp.up_proj", ff, d, false);
        linear(t, p + "mlp.down_proj", d, ff, false);
    }
    t.push_back({lm + "norm.weight", {d}});

    t.push_back({"model.generation_embeddings.weight", {s.codebook, s.code_dim}});
    linear(t, "model.generation_aligner.fc1", d, s.code_dim);
    linear(t, "model.generation_aligner.hidden_layers.0", d, d);
    linear(t, "model.generation_head.proj_out", s.gen_projection, d);
    linear(t, "model.generation_head.vision_head", s.codebook, s.gen_projection);

    const std::string v = "model.vision_model.";
    const int64_t vh = s.vision_hidden, side = s.vision_image / s.vision_patch;
    t.push_back({v + "embeddings.patch_embedding.weight", {vh, 3, s.vision_patch, s.vision_patch}});
    t.push_back({v + "embeddings.patch_embedding.bias", {vh}});
    t.push_back({v + "embeddings.position_embedding.weight", {side * side, vh}});
    for (int64_t l = 0; l < s.vision_layers; ++l) {
        const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
        norm(t, p + "layer_norm1", vh);
        for (const char* n : {"q_proj", "k_proj", "v_proj", "projection_layer"})
            linear(t, p + "self_attn." + n, vh, vh);
        norm(t, p + "layer_norm2", vh);
        linear(t, p + "mlp.fc1", 4 * vh, vh);
        linear(t, p + "mlp.fc2", vh, 4 * vh);
    }
    norm(t, v + "post_layernorm", vh);
    linear(t, "model.aligner.fc1", d, vh);
    linear(t, "model.aligner.hidden_layers.0", d, d);

    vqTensors(t, s);
    return t;
}

// ---- writing a checkpoint ------------------------------------------------------------------------------

namespace {

// splitmix64 with Box-Muller on top: seedable and fast enough for gigabytes of weights.
struct NormalRng {
    uint64_t s;
    bool has_spare = false;
    float spare = 0;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double unit() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; } // (0, 1)
    float normal() {
        if (has_spare) {
            has_spare = false;
            return spare;
        }
        const double r = std::sqrt(-2.0 * std::log(unit())), a = 6.283185307179586 * unit();
        spare = static_cast<float>(r * std::sin(a));
        has_spare = true;
        return static_cast<float>(r * std::cos(a));
    }
};

enum class Fill { Normal, One, Zero };

Fill fillFor(const TensorSpec& t) {
    const std::string& n = t.name;
    auto ends = [&](const std::string& suffix) {
        return n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends(".bias")) return Fill::Zero;
    if (t.shape.size() == 1 && n.find("norm") != std::string::npos) return Fill::One;
    return Fill::Normal;
}

// Vocabulary size the tokenizer can produce: its model vocabulary and any added token beyond it.
Expected<int64_t> tokenizerVocab(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return Status::error("cannot read " + path.string());
    nlohmann::json tok = nlohmann::json::parse(in, nullptr, false);
    if (!tok.is_object()) return Status::error(path.string() + " is not valid JSON");
    int64_t n = 0;
    if (auto m = tok.find("model"); m != tok.end() && m->is_object())
        if (auto v = m->find("vocab"); v != m->end() && (v->is_object() || v->is_array()))
            n = static_cast<int64_t>(v->size());
    if (auto a = tok.find("added_tokens"); a != tok.end() && a->is_array())
        for (const auto& t : *a)
            if (t.is_object() && t.contains("id") && t["id"].is_number_integer())
                n = std::max<int64_t>(n, t["id"].get<int64_t>() + 1);
    return n;
}

// bf16 data: each 1M-element chunk of a tensor draws from its own generator, seeded from (seed, tensor,
// chunk), so chunks are filled on all hardware threads and the bytes do not depend on the thread count
// (a 7B checkpoint is about seven billion normal draws: minutes on one thread).
bool writeBf16Data(const std::vector<TensorSpec>& tensors, FILE* f, uint64_t seed, float stddev) {
    constexpr int64_t kChunk = int64_t{1} << 20;
    const int threads = static_cast<int>(std::max(1u, std::min(32u, std::thread::hardware_concurrency())));
    std::vector<std::vector<uint16_t>> bufs(static_cast<size_t>(threads), std::vector<uint16_t>(size_t{1} << 20));
    for (size_t ti = 0; ti < tensors.size(); ++ti) {
        const int64_t n = shapeNumel(tensors[ti].shape);
        const Fill fill = fillFor(tensors[ti]);
        for (int64_t first = 0; first < n; first += kChunk * threads) {
            std::vector<std::thread> pool;
            int used = 0;
            for (int w = 0; w < threads && first + w * kChunk < n; ++w, ++used) {
                pool.emplace_back([&, w] {
                    const int64_t begin = first + w * kChunk, m = std::min(kChunk, n - begin);
                    NormalRng rng{seed ^ (0x9E3779B97F4A7C15ull * (ti + 1)) ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(begin / kChunk + 1))};
                    uint16_t* out = bufs[static_cast<size_t>(w)].data();
                    for (int64_t i = 0; i < m; ++i)
                        out[i] = f32ToBf16(fill == Fill::Normal ? rng.normal() * stddev : (fill == Fill::One ? 1.0f : 0.0f));
                });
            }
            for (auto& th : pool) th.join();
            for (int w = 0; w < used; ++w) {
                const size_t m = static_cast<size_t>(std::min(kChunk, n - (first + w * kChunk)));
                if (std::fwrite(bufs[static_cast<size_t>(w)].data(), 2, m, f) != m) return false;
            }
        }
    }
    return true;
}

// Safetensors: 8-byte little-endian header length, the JSON header, then the data, padded so the
// data starts 64-byte aligned (the mmap'd weights are used in place).
Status writeSafetensors(const std::vector<TensorSpec>& tensors, const std::string& path, uint64_t seed, DType dtype) {
    const bool bf16 = dtype == DType::BF16;
    const size_t elem = bf16 ? 2 : 4;
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = static_cast<size_t>(shapeNumel(t.shape)) * elem;
        header[t.name] = {{"dtype", bf16 ? "BF16" : "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    header["__metadata__"] = {{"format", "pt"}, {"tessera", "random Janus benchmark weights"}};
    std::string text = header.dump();
    while ((8 + text.size()) % 64 != 0) text.push_back(' ');
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    NormalRng rng{seed};
    std::vector<float> chunk(size_t{1} << 20);
    // Small weights keep activations finite through dozens of layers whatever the width.
    constexpr float kStd = 0.02f;
    if (bf16 && ok) ok = writeBf16Data(tensors, f.get(), seed, kStd);
    for (const auto& t : tensors) {
        if (bf16) break;
        if (!ok) break;
        const int64_t n = shapeNumel(t.shape);
        const Fill fill = fillFor(t);
        for (int64_t done = 0; done < n && ok;) {
            const int64_t m = std::min<int64_t>(n - done, static_cast<int64_t>(chunk.size()));
            for (int64_t i = 0; i < m; ++i)
                chunk[static_cast<size_t>(i)] =
                    fill == Fill::Normal ? rng.normal() * kStd : (fill == Fill::One ? 1.0f : 0.0f);
            ok = std::fwrite(chunk.data(), 4, static_cast<size_t>(m), f.get()) == static_cast<size_t>(m);
            done += m;
        }
    }
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

Status copyTokenizer(const fs::path& from, const fs::path& to) {
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
        std::error_code ec;
        fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing, ec);
        if (ec) return Status::error("cannot copy " + (from / name).string() + ": " + ec.message());
    }
    return {};
}

} // namespace

size_t janusStepWeightBytes(const JanusShape& s, DType dtype) {
    const int64_t hd = s.hidden / std::max<int64_t>(1, s.heads);
    const int64_t attn = s.hidden * (2 * s.heads * hd + 2 * s.kv_heads * hd);
    const int64_t mlp = 3 * s.hidden * s.intermediate;
    const int64_t aligner = s.hidden * s.code_dim + s.hidden * s.hidden;
    const int64_t head = s.hidden * s.gen_projection + s.gen_projection * s.codebook;
    return static_cast<size_t>(s.layers * (attn + mlp) + aligner + head) * dtypeSize(dtype);
}

Status writeRandomJanusCheckpoint(const JanusShape& s, const std::string& dir,
                                  const std::string& tokenizer_dir, uint64_t seed, DType dtype) {
    if (dtype != DType::F32 && dtype != DType::BF16) return Status::error("random Janus weights are f32 or bf16");
    if (s.hidden <= 0 || s.heads <= 0 || s.hidden % s.heads != 0 || s.kv_heads <= 0 ||
        s.heads % s.kv_heads != 0)
        return Status::error("hidden size must split evenly into heads, and heads into key/value heads");
    if (s.grid < 1 || s.channel_multiplier.empty() || s.codebook < 1 || s.code_dim < 1)
        return Status::error("grid, codebook and channel multipliers must be non-empty");
    for (int64_t m : s.channel_multiplier)
        if (m < 1 || (s.base_channels * m) % 32 != 0)
            return Status::error("VQ channels must be positive multiples of 32 (GroupNorm with 32 groups)");
    if (s.latent_channels % 32 != 0) return Status::error("VQ latent channels must be a multiple of 32");
    auto tok_vocab = tokenizerVocab(fs::path(tokenizer_dir) / "tokenizer.json");
    if (!tok_vocab) return tok_vocab.status();
    if (s.vocab < *tok_vocab)
        return Status::error("LM vocabulary of " + std::to_string(s.vocab) +
                             " is smaller than the tokenizer's " + std::to_string(*tok_vocab));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    {
        std::ofstream cfg(fs::path(dir) / "config.json");
        nlohmann::json config = janusConfig(s);
        if (dtype == DType::BF16) config["dtype"] = "bfloat16";
        cfg << config.dump(2) << "\n";
        if (!cfg) return Status::error("cannot write " + dir + "/config.json");
    }
    if (Status st = copyTokenizer(tokenizer_dir, dir); !st.ok()) return st;
    return writeSafetensors(janusTensors(s), (fs::path(dir) / "model.safetensors").string(), seed, dtype);
}

// ---- the benchmark -------------------------------------------------------------------------------------

nlohmann::ordered_json JanusBenchResult::toJson() const {
    auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
    nlohmann::ordered_json j;
    j["bench"] = "janus";
    j["preset"] = preset;
    j["grid"] = grid;
    j["image_size"] = image_size;
    j["codebook"] = codebook;
    j["images"] = images;
    j["steps"] = steps;
    j["preview_every"] = preview_every;
    j["weight_bytes"] = weight_bytes;
    j["backend"] = backend;
    j["ms_per_step"] = r3(ms_per_step);
    j["generate_ms"] = r3(generate_ms);
    j["generate_on_ms"] = r3(generate_on_ms);
    j["preview_ms"] = r3(preview_ms);
    j["preview_count"] = preview_count;
    j["previews_due"] = previews_due;
    j["preview_overhead_percent"] = r3(preview_overhead_percent);
    j["wall_off_ms"] = r3(wall_off_ms);
    j["wall_on_ms"] = r3(wall_on_ms);
    j["wall_ratio_on_vs_off"] = r3(wall_ratio_on_vs_off);
    j["first_preview_ms"] = r3(first_preview_ms);
    j["preview_decode_ms"] = r3(preview_decode_ms);
    j["final_decode_ms"] = r3(final_decode_ms);
    j["tokens_identical"] = tokens_identical;
    j["write_ms"] = r3(write_ms);
    j["load_ms"] = r3(load_ms);
    j["warmup_ms"] = r3(warmup_ms);
    j["threads"] = threads;
    j["load_avg"] = load_avg_1m;
    j["dtype"] = dtype;
    j["kv_dtype"] = kv_dtype;
    j["seconds_per_image"] = r3(seconds_per_image);
    if (step_weight_bytes > 0) {
        j["step_weight_bytes"] = step_weight_bytes;
        j["copy_gb_per_s"] = r3(copy_gb_per_s);
        j["floor_ms_per_step"] = r3(floor_ms_per_step);
        j["fraction_of_floor"] = r3(fraction_of_floor);
    }
    if (sampling_janus_ms >= 0) j["sampling_janus_16img_16k_ms"] = r3(sampling_janus_ms);
    if (sampling_lumos_ms >= 0) j["sampling_lumos_4032x64k_ms"] = r3(sampling_lumos_ms);
    return j;
}

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Run {
    JanusResult result;
    double wall_ms = 0;
    double first_preview_ms = -1;
    int previews = 0;
};

Expected<Run> generateOnce(JanusPipeline& pipe, const JanusRequest& req) {
    Run run;
    const auto t0 = Clock::now();
    JobContext ctx(
        1,
        [&](const Event& e) {
            const auto* pr = std::get_if<PreviewReady>(&e);
            if (!pr || pr->final) return;
            if (run.previews++ == 0) run.first_preview_ms = msSince(t0);
        },
        nullptr);
    auto r = pipe.generate(req, ctx);
    if (!r) return r.status();
    run.wall_ms = msSince(t0);
    run.result = std::move(*r);
    return run;
}

// The checkpoint folder to load: the reference itself, or a written one (removed afterwards unless kept).
Expected<std::string> prepareCheckpoint(const JanusBenchOptions& o, ScratchDir& scratch,
                                        double& write_ms) {
    const fs::path dir = o.keep_dir.empty() ? scratchPath(o.scratch_dir, "tessera-janus-bench") : fs::path(o.keep_dir);
    if (o.keep_dir.empty()) scratch.path = dir;
    const auto t0 = Clock::now();
    if (o.preset == "janus-tiny") {
        if (o.grid == 0 && o.keep_dir.empty()) {
            scratch.path.clear();
            return o.reference_dir;
        }
        // The reference with another grid: a copy whose vq_config names it.
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (!ec)
            fs::copy(o.reference_dir, dir, fs::copy_options::overwrite_existing | fs::copy_options::recursive,
                     ec);
        if (ec)
            return Status::error("cannot copy " + o.reference_dir + " to " + dir.string() + ": " +
                                 ec.message());
        fs::permissions(dir / "config.json", fs::perms::owner_write, fs::perm_options::add, ec);
        std::ifstream in(dir / "config.json");
        nlohmann::json cfg = nlohmann::json::parse(in, nullptr, false);
        in.close();
        if (!cfg.is_object()) return Status::error(dir.string() + "/config.json is not valid JSON");
        if (o.grid > 0) cfg["vq_config"]["num_patches"] = o.grid;
        std::ofstream out(dir / "config.json", std::ios::trunc);
        out << cfg.dump(2) << "\n";
        if (!out) return Status::error("cannot write " + (dir / "config.json").string());
        write_ms = msSince(t0);
        return dir.string();
    }
    auto shape = janusPresetShape(o.preset);
    if (!shape) return shape.status();
    if (o.grid > 0) shape->grid = o.grid;
    // Room for the prompt after the image tokens.
    shape->max_positions = std::max<int64_t>(shape->max_positions, shape->grid * shape->grid + 256);
    // A kept folder written earlier for the same shape, seed and dtype is reused: writing a 7B
    // checkpoint costs minutes, and the weights are a pure function of these.
    const nlohmann::json stamp = {{"config", janusConfig(*shape)}, {"seed", o.seed}, {"dtype", dtypeName(o.dtype)}};
    const fs::path stamp_path = dir / "tessera-bench-stamp.json";
    if (!o.keep_dir.empty()) {
        std::ifstream in(stamp_path);
        if (in && nlohmann::json::parse(in, nullptr, false) == stamp) return dir.string();
    }
    Status st = writeRandomJanusCheckpoint(*shape, dir.string(), o.reference_dir, o.seed, o.dtype);
    if (!st.ok()) return st;
    if (!o.keep_dir.empty()) {
        std::ofstream out(stamp_path, std::ios::trunc);
        out << stamp.dump() << "\n";
    }
    write_ms = msSince(t0);
    return dir.string();
}

} // namespace

Expected<JanusBenchResult> runJanusBench(const JanusBenchOptions& o) {
    if (o.grid < 0 || o.grid > 64) return Status::error("grid must be between 1 and 64 tokens per side");
    if (o.images < 1 || o.images > 64) return Status::error("images must be between 1 and 64");
    if (o.preview_every < 0) return Status::error("preview cadence must be 0 (once per row) or more tokens");
    if (o.reference_dir.empty()) return Status::error("no reference folder for the tokenizer (janus_tiny)");
    JanusBenchResult r;
    r.preset = o.preset;
    r.images = o.images;

    ScratchDir scratch;
    auto dir = prepareCheckpoint(o, scratch, r.write_ms);
    if (!dir) return dir.status();

    auto backend = createBackend(o.backend, o.threads);
    if (!backend) return backend.status();
    r.backend = (*backend)->info().name;
    r.threads = (*backend)->info().threads;
    try {
        (*backend)->setKvCacheDtype(o.kv_dtype);
    } catch (const Error& e) {
        return Status::error(e.what());
    }
    r.kv_dtype = dtypeName(o.kv_dtype);
    const auto t_load = Clock::now();
    auto pipe = JanusPipeline::load(*dir, **backend);
    if (!pipe) return pipe.status();
    r.load_ms = msSince(t_load);
    const JanusInfo& info = (*pipe)->info();
    r.grid = info.grid_h;
    r.image_size = info.image_size;
    r.codebook = info.codebook;
    r.weight_bytes = info.weight_bytes;
    r.steps = static_cast<int64_t>(info.grid_h) * info.grid_w;
    r.preview_every = o.preview_every > 0 ? o.preview_every : info.grid_w;

    JanusRequest req;
    req.prompt = o.prompt;
    req.seed = o.seed;
    req.images = o.images;
    req.preview_every = o.preview_every;
    req.previews = false;
    {
        // Untimed: first touches of the mapped weights, the thread pool and the decoder's buffers would
        // otherwise land in the previews-off run. Cancelling after a row still runs the final decode.
        const auto t_warm = Clock::now();
        std::atomic<bool> cancel{false};
        int sampled = 0;
        JobContext ctx(
            1,
            [&](const Event& e) {
                if (std::get_if<TokenSampled>(&e) && ++sampled >= info.grid_w * o.images) cancel = true;
            },
            &cancel);
        auto warm = (*pipe)->generate(req, ctx);
        if (!warm) return warm.status();
        r.warmup_ms = msSince(t_warm);
    }
    auto off = generateOnce(**pipe, req);
    if (!off) return off.status();
    req.previews = true;
    auto on = generateOnce(**pipe, req);
    if (!on) return on.status();

    r.generate_ms = off->result.generate_ms;
    r.ms_per_step = r.steps > 0 ? r.generate_ms / static_cast<double>(r.steps) : 0;
    r.wall_off_ms = off->wall_ms;
    r.final_decode_ms = off->wall_ms - off->result.generate_ms;
    r.generate_on_ms = on->result.generate_ms;
    r.preview_ms = on->result.preview_ms;
    r.preview_count = on->previews;
    for (int64_t step = 1; step < r.steps; ++step)
        if (step % r.preview_every == 0) r.previews_due += o.images;
    r.preview_overhead_percent = r.generate_on_ms > 0 ? r.preview_ms / r.generate_on_ms * 100.0 : 0;
    r.wall_on_ms = on->wall_ms;
    r.wall_ratio_on_vs_off = r.wall_off_ms > 0 ? r.wall_on_ms / r.wall_off_ms : 0;
    r.first_preview_ms = on->first_preview_ms;
    const int cadence_points = o.images > 0 ? r.preview_count / o.images : 0;
    r.preview_decode_ms = cadence_points > 0 ? r.preview_ms / cadence_points : 0;
    r.tokens_identical =
        off->result.tokens == on->result.tokens && !off->result.cancelled && !on->result.cancelled;
    r.seconds_per_image = off->wall_ms / 1000.0 / o.images;
    r.dtype = dtypeName(o.dtype);
    if (auto shape = janusPresetShape(o.preset)) {
        // The floor: this step's weight bytes at the bandwidth of a copy measured now, on this backend.
        r.step_weight_bytes = janusStepWeightBytes(*shape, o.dtype);
        const double bw = (*backend)->copyBandwidth(size_t{1} << 28, 8);
        r.copy_gb_per_s = bw / 1e9;
        r.floor_ms_per_step = bw > 0 ? static_cast<double>(r.step_weight_bytes) / bw * 1000.0 : 0;
        r.fraction_of_floor = r.ms_per_step > 0 ? r.floor_ms_per_step / r.ms_per_step : 0;
    }
    if (o.sampling) {
        auto sj = runSamplingBench(16, 1, 16384, o.threads, 5, o.backend);
        if (!sj) return sj.status();
        r.sampling_janus_ms = sj->ms_per_step;
        auto sl = runSamplingBench(1, 4032, 64000, o.threads, 2, o.backend);
        if (!sl) return sl.status();
        r.sampling_lumos_ms = sl->ms_per_step;
    }
    r.load_avg_1m = loadAverage();
    return r;
}

} // namespace tessera::bench
