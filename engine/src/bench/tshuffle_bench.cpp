// Token-Shuffle: random checkpoints in the docs/TOKEN_SHUFFLE.md layout, and the benchmark behind
// `tessera-cli bench tshuffle` (tokens/s for s = 1, 2, 4 on one backbone; peak memory of a 2048² run).
// Sections: writing checkpoints · the benchmark (peak memory through bench_scratch.h).
#include "bench/bench_scratch.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus_bench.h"
#include "tessera/engine/token_shuffle.h"
#include "tessera/engine/tokenizer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

// ---- writing checkpoints -------------------------------------------------------------------------------

namespace {

// splitmix64 → uniform in [-1, 1).
struct Rng {
    uint64_t s;
    float symmetric() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        return static_cast<float>(static_cast<int64_t>(z >> 40) - (1 << 23)) / (1 << 23);
    }
};

// f32 safetensors; matrices uniform in ±gain/sqrt(fan-in), vectors (biases) zero.
Status writeShuffleTensors(const std::vector<TensorSpec>& tensors, const std::string& path, uint64_t seed) {
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = static_cast<size_t>(shapeNumel(t.shape)) * 4;
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 64 != 0) text.push_back(' ');
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    const uint64_t len = text.size();
    bool ok = std::fwrite(&len, 8, 1, f.get()) == 1 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    Rng rng{seed};
    for (const auto& t : tensors) {
        std::vector<float> v(static_cast<size_t>(shapeNumel(t.shape)), 0.0f);
        if (t.shape.size() == 2) {
            // Residual branches start small so the blocks stay close to the identity, as trained ones begin.
            const float gain = t.name.find(".fc2.") != std::string::npos ? 0.5f : 1.0f;
            const float scale = gain / std::sqrt(static_cast<float>(t.shape[1]));
            for (float& x : v) x = rng.symmetric() * scale;
        }
        ok = ok && std::fwrite(v.data(), 4, v.size(), f.get()) == v.size();
    }
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

} // namespace

nlohmann::json tokenShuffleConfig(const TokenShuffleShape& s, int64_t text_vocab, int64_t image_start,
                                  int64_t image_end) {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", text_vocab + s.codebook},
            {"hidden_size", s.hidden},
            {"num_hidden_layers", s.layers},
            {"num_attention_heads", s.heads},
            {"num_key_value_heads", s.kv_heads},
            {"intermediate_size", s.intermediate},
            {"max_position_embeddings", s.max_positions},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"tie_word_embeddings", false},
            {"attention_bias", false},
            {"mlp_bias", false},
            {"torch_dtype", "float32"},
            {"token_shuffle",
             {{"window", s.window},
              {"image_vocab_start", text_vocab},
              {"image_vocab_size", s.codebook},
              {"grid", s.grid},
              {"in_blocks", 2},
              {"out_blocks", 2},
              {"mlp_ratio", s.mlp_ratio},
              {"mlp_act", "gelu"},
              {"residual_norm", "none"},
              {"image_start_token_id", image_start},
              {"image_end_token_id", image_end},
              {"classifier", "lm_head"},
              {"weights", "token_shuffle.safetensors"},
              {"vq", "vq"}}}};
}

std::vector<TensorSpec> tokenShuffleTensors(const TokenShuffleShape& s) {
    const int64_t d = s.hidden, slot = d / (s.window * s.window);
    const int64_t r =
        std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(d) * s.mlp_ratio)));
    std::vector<TensorSpec> t = {{"token_shuffle.mlp_in.weight", {slot, d}},
                                 {"token_shuffle.mlp_in.bias", {slot}},
                                 {"token_shuffle.mlp_out.weight", {d, slot}},
                                 {"token_shuffle.mlp_out.bias", {d}}};
    for (const char* kind : {"in_blocks", "out_blocks"})
        for (int i = 0; i < 2; ++i) {
            const std::string p = std::string("token_shuffle.") + kind + "." + std::to_string(i) + ".";
            t.push_back({p + "fc1.weight", {r, d}});
            t.push_back({p + "fc1.bias", {r}});
            t.push_back({p + "fc2.weight", {d, r}});
            t.push_back({p + "fc2.bias", {d}});
        }
    return t;
}

Status writeRandomTokenShuffleCheckpoint(const TokenShuffleShape& s, const std::string& dir,
                                         const std::string& tokenizer_dir, uint64_t seed) {
    if (s.window != 1 && s.window != 2 && s.window != 4) return Status::error("the window must be 1, 2 or 4");
    if (s.hidden % (s.window * s.window) != 0) return Status::error("hidden must be a multiple of window²");
    auto tok = Tokenizer::load(tokenizer_dir);
    if (!tok) return Status::error(tokenizer_dir + ": " + tok.error());
    const int64_t text_vocab = static_cast<int64_t>(tok->vocabSize());
    const int32_t start = tok->tokenId(s.image_start_token), end = tok->tokenId(s.image_end_token);
    if (start < 0)
        return Status::error(tokenizer_dir + ": the tokenizer has no " + s.image_start_token + " token");
    // The LM (same seed → same backbone whatever the window).
    if (Status st = writeRandomCheckpoint(tokenShuffleConfig(s, text_vocab, start, end), dir, seed); !st.ok())
        return st;
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
        std::error_code ec;
        const fs::path from = fs::path(tokenizer_dir) / name;
        if (fs::exists(from))
            fs::copy_file(from, fs::path(dir) / name, fs::copy_options::overwrite_existing, ec);
        if (ec) return Status::error("cannot copy " + from.string() + ": " + ec.message());
    }
    if (Status st = writeShuffleTensors(tokenShuffleTensors(s),
                                        (fs::path(dir) / "token_shuffle.safetensors").string(), seed + 1);
        !st.ok())
        return st;
    // The VQ decoder: a random Janus checkpoint whose language model is minimal (only its VQ tensors are
    // read).
    JanusShape j;
    j.vocab = text_vocab;
    j.hidden = 32;
    j.layers = 1;
    j.heads = 2;
    j.kv_heads = 2;
    j.intermediate = 64;
    j.max_positions = 64;
    j.gen_projection = 32;
    j.codebook = s.codebook;
    j.code_dim = 8;
    j.base_channels = s.vq_base_channels;
    j.channel_multiplier = {1, 1, 2, 2, 4}; // 16x downsampling, as VQ-16
    j.num_res_blocks = s.vq_res_blocks;
    j.latent_channels = s.vq_base_channels;
    j.grid = 4;
    return writeRandomJanusCheckpoint(j, (fs::path(dir) / "vq").string(), tokenizer_dir, seed + 2);
}

// ---- the benchmark -------------------------------------------------------------------------------------

Expected<nlohmann::ordered_json> runTokenShuffleBench(const TokenShuffleBenchOptions& o) {
    if (o.reference_dir.empty())
        return Status::error("no tokenizer folder (tests/data/reference/janus_tiny)");
    const fs::path root =
        fs::path(o.scratch_dir.empty() ? fs::temp_directory_path() : fs::path(o.scratch_dir)) /
        ("tessera_tshuffle_bench_" + std::to_string(::getpid()));
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{root};
    auto be = createBackend(o.backend, o.threads);
    if (!be) return be.status();
    nlohmann::ordered_json out;
    out["bench"] = "tshuffle";
    TokenShuffleShape shape = o.shape;
    out["backbone"] = {{"hidden", shape.hidden},
                       {"layers", shape.layers},
                       {"heads", shape.heads},
                       {"codebook", shape.codebook}};
    out["threads"] = (*be)->info().threads;
    out["grid"] = o.grid;
    out["image_size"] = o.grid * 16;
    nlohmann::ordered_json runs = nlohmann::ordered_json::array();
    double base_ms_per_image = 0;
    for (int64_t s : o.windows) {
        shape.window = s;
        shape.grid = o.grid;
        const fs::path dir = root / fs::path("s").concat(std::to_string(s));
        if (Status st = writeRandomTokenShuffleCheckpoint(shape, dir.string(), o.reference_dir, o.seed);
            !st.ok())
            return st;
        auto p = TokenShufflePipeline::load(dir.string(), **be);
        if (!p) return p.status();
        TokenShuffleRequest req;
        req.prompt = o.prompt;
        req.seed = o.seed;
        req.sampler.cfg = 4.0f;
        req.grid = o.grid;
        req.previews = false;
        JobContext ctx(1, {}, nullptr);
        auto r = (*p)->generate(req, ctx);
        if (!r) return r.status();
        const double tokens = static_cast<double>(o.grid * o.grid);
        nlohmann::ordered_json row;
        row["window"] = s;
        row["steps"] = r->steps;
        row["generate_ms"] = r->generate_ms;
        row["ms_per_step"] = r->generate_ms / static_cast<double>(std::max<int64_t>(1, r->steps));
        row["tokens_per_s"] = tokens * 1000.0 / std::max(1e-9, r->generate_ms);
        row["vq_decode_ms"] = r->vq_decode_ms;
        if (s == o.windows.front()) base_ms_per_image = r->generate_ms;
        row["speedup_vs_first"] = base_ms_per_image / std::max(1e-9, r->generate_ms);
        runs.push_back(row);
    }
    out["runs"] = runs;

    if (o.large_grid > 0) {
        // One whole run at the large size (s = 2): decode loop and the tiled VQ decode, peak memory measured.
        shape.window = 2;
        shape.grid = o.large_grid;
        const fs::path dir = root / "large";
        if (Status st = writeRandomTokenShuffleCheckpoint(shape, dir.string(), o.reference_dir, o.seed);
            !st.ok())
            return st;
        auto p = TokenShufflePipeline::load(dir.string(), **be);
        if (!p) return p.status();
        TokenShuffleRequest req;
        req.prompt = o.prompt;
        req.seed = o.seed;
        req.sampler.cfg = 4.0f;
        req.grid = o.large_grid;
        req.previews = false;
        auto est = (*p)->estimate(req);
        if (!est) return est.status();
        const size_t before = procStatusBytes("VmRSS");
        const bool reset = resetPeakResident();
        JobContext ctx(1, {}, nullptr);
        auto r = (*p)->generate(req, ctx);
        if (!r) return r.status();
        const size_t peak = procStatusBytes("VmHWM");
        nlohmann::ordered_json large;
        large["grid"] = o.large_grid;
        large["image_size"] = r->images.empty() ? 0 : r->images[0].width;
        large["window"] = 2;
        large["steps"] = r->steps;
        large["generate_ms"] = r->generate_ms;
        large["tokens_per_s"] =
            static_cast<double>(o.large_grid * o.large_grid) * 1000.0 / std::max(1e-9, r->generate_ms);
        large["vq_decode_ms"] = r->vq_decode_ms;
        large["resident_before_bytes"] = before;
        large["peak_resident_bytes"] = peak;
        large["peak_reset"] = reset;
        // The bound covers what the run adds to the loaded process, not the process itself (code,
        // libraries, the load-time calibration decode).
        const size_t added = peak > before ? peak - before : 0;
        large["peak_added_bytes"] = added;
        large["estimate_peak_bound_bytes"] = est->peak_bytes_bound;
        large["estimate_vq_window_bytes"] = est->vq_window_bytes;
        large["estimate_output_bytes"] = est->output_bytes;
        large["estimate_kv_cache_bytes"] = est->kv_cache_bytes;
        large["estimate_runtime_bytes"] = est->runtime_bytes;
        large["peak_to_bound_ratio"] =
            static_cast<double>(added) / static_cast<double>(std::max<size_t>(1, est->peak_bytes_bound));
        large["within_bound"] = added <= est->peak_bytes_bound;
        out["large"] = large;
    }
    double load = -1;
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &load) != 1) load = -1;
        std::fclose(f);
    }
    out["load_avg_1m"] = load;
    return out;
}

} // namespace tessera::bench
