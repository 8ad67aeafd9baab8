// DiCoDe's LLM side on random weights: the checkpoint writer (official names, a config.json laid out
// like reference/dicode_tiny's) and `tessera-cli bench dicode-llm` (time per keyframe, tiny and real
// shapes in one run).
//
// The weights are streamed to disk a chunk at a time (the real shape is 3.4 GB in f32), so writing
// never holds the model in memory; the writer is its own because the other benchmarks' writers take
// transformers-style configs and names. The decoder side's benchmark (dicode_decoder_bench.cpp) writes
// through the same writer.
#include "bench/bench_scratch.h"
#include "bench/dicode_random_weights.h"
#include "tessera/engine/dicode.h"
#include "tessera/engine/engine.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace fs = std::filesystem;

namespace tessera {

namespace {

using Spec = dicode_bench::WeightSpec;

void addResampler(std::vector<Spec>& out, const std::string& p, const DicodeResamplerConfig& r) {
    using F = Spec::Fill;
    const int64_t d = r.dim, inner = r.dim_head * r.heads,
                  ff = static_cast<int64_t>(static_cast<double>(d) * r.ff_mult);
    out.push_back({p + "latents", {1, r.num_queries, d}, F::Embedding});
    out.push_back({p + "proj_in.weight", {d, r.embedding_dim}, F::FanIn});
    out.push_back({p + "proj_in.bias", {d}, F::Zero});
    out.push_back({p + "proj_out.weight", {r.output_dim, d}, F::FanIn});
    out.push_back({p + "proj_out.bias", {r.output_dim}, F::Zero});
    out.push_back({p + "norm_out.weight", {r.output_dim}, F::One});
    out.push_back({p + "norm_out.bias", {r.output_dim}, F::Zero});
    for (int64_t l = 0; l < r.depth; ++l) {
        const std::string a = p + "layers." + std::to_string(l) + ".0.",
                          f = p + "layers." + std::to_string(l) + ".1.";
        for (const char* n : {"norm1", "norm2"}) {
            out.push_back({a + n + ".weight", {d}, F::One});
            out.push_back({a + n + ".bias", {d}, F::Zero});
        }
        out.push_back({a + "to_q.weight", {inner, d}, F::FanIn});
        out.push_back({a + "to_kv.weight", {2 * inner, d}, F::FanIn});
        out.push_back({a + "to_out.weight", {d, inner}, F::FanIn});
        out.push_back({f + "0.weight", {d}, F::One});
        out.push_back({f + "0.bias", {d}, F::Zero});
        out.push_back({f + "1.weight", {ff, d}, F::FanIn});
        out.push_back({f + "3.weight", {d, ff}, F::FanIn});
    }
}

std::vector<Spec> dicodeTensors(const DicodeLlmShape& s, bool resamplers) {
    using F = Spec::Fill;
    const int64_t h = s.hidden, vocab = s.base_vocab + 66,
                  p = 2 * s.gmm_components * s.token_dim + s.gmm_components;
    std::vector<Spec> out;
    const std::string t = "llm_agent.llm.transformer.";
    out.push_back({t + "wte.weight", {vocab, h}, F::Embedding});
    out.push_back({t + "wpe.weight", {s.positions, h}, F::Embedding});
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string lp = t + "h." + std::to_string(l) + ".";
        for (const char* n : {"ln_1", "ln_2"}) {
            out.push_back({lp + n + ".weight", {h}, F::One});
            out.push_back({lp + n + ".bias", {h}, F::Zero});
        }
        // Conv1D stores [in, out]: the fan-in is the rows.
        out.push_back({lp + "attn.c_attn.weight", {h, 3 * h}, F::FanInRows});
        out.push_back({lp + "attn.c_attn.bias", {3 * h}, F::Zero});
        out.push_back({lp + "attn.c_proj.weight", {h, h}, F::FanInRows});
        out.push_back({lp + "attn.c_proj.bias", {h}, F::Zero});
        out.push_back({lp + "mlp.c_fc.weight", {h, 4 * h}, F::FanInRows});
        out.push_back({lp + "mlp.c_fc.bias", {4 * h}, F::Zero});
        out.push_back({lp + "mlp.c_proj.weight", {4 * h, h}, F::FanInRows});
        out.push_back({lp + "mlp.c_proj.bias", {h}, F::Zero});
    }
    out.push_back({t + "ln_f.weight", {h}, F::One});
    out.push_back({t + "ln_f.bias", {h}, F::Zero});
    out.push_back({"llm_agent.input_resampler.0.weight", {h, s.token_dim}, F::FanIn});
    out.push_back({"llm_agent.input_resampler.0.bias", {h}, F::Zero});
    out.push_back({"llm_agent.input_resampler.2.weight", {h, h}, F::FanIn});
    out.push_back({"llm_agent.input_resampler.2.bias", {h}, F::Zero});
    out.push_back({"llm_agent.output_resampler.0.weight", {h, h}, F::FanIn});
    out.push_back({"llm_agent.output_resampler.0.bias", {h}, F::Zero});
    out.push_back({"llm_agent.output_resampler.2.weight", {p, h}, F::FanIn});
    out.push_back({"llm_agent.output_resampler.2.bias", {p}, F::Zero});
    out.push_back({"llm_agent.video_pos_token.frame_token", {s.max_frames, 1, h}, F::Embedding});
    out.push_back({"llm_agent.video_pos_token.pos_token", {1, s.num_img_tokens, h}, F::Embedding});
    if (resamplers) {
        addResampler(out, "image_proj_model.", s.resampler);
        addResampler(out, "llm_agent.pre_input_resampler.", s.resampler);
    }
    return out;
}

nlohmann::json resamplerJson(const DicodeResamplerConfig& r) {
    return {{"dim", r.dim},
            {"depth", r.depth},
            {"dim_head", r.dim_head},
            {"heads", r.heads},
            {"num_queries", r.num_queries},
            {"embedding_dim", r.embedding_dim},
            {"output_dim", r.output_dim},
            {"ff_mult", r.ff_mult}};
}

nlohmann::json dicodeConfig(const DicodeLlmShape& s) {
    const int64_t base = s.base_vocab, h = s.hidden,
                  p = 2 * s.gmm_components * s.token_dim + s.gmm_components;
    nlohmann::json pre = resamplerJson(s.resampler);
    pre["_target_"] = "src.llm.resampler.Resampler";
    auto seq = [](int64_t in, int64_t mid, int64_t out) {
        return nlohmann::json{
            {"_target_", "torch.nn.Sequential"},
            {"_args_",
             {{{"_target_", "torch.nn.Linear"}, {"in_features", in}, {"out_features", mid}},
              {{"_target_", "torch.nn.GELU"}},
              {{"_target_", "torch.nn.Linear"}, {"in_features", mid}, {"out_features", out}}}}};
    };
    return {
        {"description", "DiCoDe LLM side with random weights (" + s.name + " shape)"},
        {"tokenizer_model",
         {{"target", "src.tokenizer.models.ddpm3d.LatentVisualDiffusion"},
          {"params",
           {{"image_proj_stage_config",
             {{"target", "src.tokenizer.modules.encoders.resampler.Resampler"},
              {"params", resamplerJson(s.resampler)}}}}}}},
        {"llm",
         {{"agent",
           {{"_target_", "src.llm.models.ContinuousLVLMSimple"},
            {"pre_input_resampler", pre},
            {"input_resampler", seq(s.token_dim, h, h)},
            {"output_resampler", seq(h, h, p)},
            {"num_img_tokens", s.num_img_tokens},
            {"max_length", s.max_frames * s.num_img_tokens},
            {"num_gmm_kernel", s.gmm_components},
            {"loss_func", "gmm"}}},
          {"gpt2",
           {{"model_type", "gpt2"},
            {"architectures", {"GPT2LMHeadModel"}},
            {"activation_function", "gelu_new"},
            {"n_embd", h},
            {"n_layer", s.layers},
            {"n_head", s.heads},
            {"n_positions", s.positions},
            {"n_inner", nullptr},
            {"layer_norm_epsilon", 1e-5},
            {"scale_attn_weights", true},
            {"tie_word_embeddings", true},
            {"vocab_size", base + 66},
            {"base_vocab_size_before_resize", base}}},
          {"special_tokens",
           {{"</img>", base}, {"<img>", base + 1}, {"<img_00000>", base + 2}, {"eos_pad", base - 1}}},
          {"generate_kwargs",
           {{"num_img_tokens", s.num_img_tokens},
            {"add_sep", true},
            {"text_length", s.text_length},
            {"do_sample", true},
            {"var_scale", 0.01},
            {"cfg_scale", 1.0},
            {"max_length", 512}}}}},
    };
}

} // namespace

namespace dicode_bench {

namespace {

// splitmix64: a tensor's values depend only on (seed, tensor index, element index).
uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

} // namespace

Status writeRandomSafetensors(const std::string& path, const std::vector<WeightSpec>& tensors,
                              uint64_t seed) {
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = static_cast<size_t>(shapeNumel(t.shape)) * 4;
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    header["__metadata__"] = {{"format", "pt"}};
    std::string text = header.dump();
    while ((8 + text.size()) % 64 != 0) text.push_back(' '); // 64-byte aligned data: used in place
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    std::vector<float> chunk(size_t{1} << 20);
    for (size_t ti = 0; ti < tensors.size() && ok; ++ti) {
        const Spec& t = tensors[ti];
        const int64_t n = shapeNumel(t.shape);
        const int64_t fan_in = t.shape.empty()                   ? 1
                               : t.fill == Spec::Fill::FanInRows ? t.shape[0]
                                                                 : std::max<int64_t>(1, n / t.shape[0]);
        const float amp = t.fill == Spec::Fill::Embedding
                              ? 0.05f
                              : static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
        const uint64_t key = mix(seed ^ mix(ti + 1));
        for (int64_t done = 0; done < n && ok;) {
            const int64_t m = std::min<int64_t>(n - done, static_cast<int64_t>(chunk.size()));
            for (int64_t i = 0; i < m; ++i) {
                float v = 0;
                if (t.fill == Spec::Fill::One)
                    v = 1.0f;
                else if (t.fill != Spec::Fill::Zero)
                    v = amp * (static_cast<float>(mix(key + static_cast<uint64_t>(done + i)) >> 40) *
                                   (2.0f / 16777216.0f) -
                               1.0f);
                chunk[static_cast<size_t>(i)] = v;
            }
            ok = std::fwrite(chunk.data(), 4, static_cast<size_t>(m), f.get()) == static_cast<size_t>(m);
            done += m;
        }
    }
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

} // namespace dicode_bench

Expected<DicodeLlmShape> dicodeLlmShape(const std::string& name) {
    DicodeLlmShape s;
    s.name = name;
    if (name == "tiny") {
        s.base_vocab = 40, s.hidden = 64, s.layers = 2, s.heads = 4, s.positions = 64;
        s.text_length = 8, s.num_img_tokens = 4, s.gmm_components = 4, s.token_dim = 32, s.max_frames = 16;
        s.resampler = {32, 2, 16, 3, 4, 40, 32, 4};
        return s;
    }
    if (name == "real") {
        s.base_vocab = 50257, s.hidden = 1280, s.layers = 36, s.heads = 20, s.positions = 1024;
        s.text_length = 80, s.num_img_tokens = 16, s.gmm_components = 16, s.token_dim = 1024,
        s.max_frames = 32;
        s.resampler = {1024, 4, 64, 12, 16, 1280, 1024, 4};
        return s;
    }
    return Status::error("unknown DiCoDe shape '" + name + "'; known: tiny, real");
}

Status writeRandomDicodeCheckpoint(const DicodeLlmShape& s, const std::string& dir, uint64_t seed,
                                   bool resamplers) {
    if (s.hidden <= 0 || s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.base_vocab < 2 ||
        s.num_img_tokens <= 0 || s.gmm_components <= 0 || s.token_dim <= 0 || s.max_frames <= 0 ||
        s.positions <= 0)
        return Status::error("DiCoDe shape '" + s.name +
                             "': sizes must be positive and the width a multiple of the heads");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    {
        std::ofstream cfg(fs::path(dir) / "config.json");
        cfg << dicodeConfig(s).dump(1) << "\n";
        if (!cfg) return Status::error("cannot write " + dir + "/config.json");
    }
    return dicode_bench::writeRandomSafetensors((fs::path(dir) / "model.safetensors").string(),
                                                dicodeTensors(s, resamplers), seed);
}

Expected<nlohmann::json> runDicodeLlmBench(const DicodeLlmBenchOptions& o) {
    if (o.keyframes < 1) return Status::error("bench dicode-llm: --keyframes must be at least 1");
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    auto be = createBackend("cpu", o.threads);
    if (!be) return be.status();
    nlohmann::json runs = nlohmann::json::array();
    for (const std::string& name : o.shapes) {
        auto shape = dicodeLlmShape(name);
        if (!shape) return shape.status();
        bench::ScratchDir scratch(bench::scratchPath(o.scratch_dir, "tessera-dicode-llm-bench"));
        const auto t_write = Clock::now();
        if (Status st = writeRandomDicodeCheckpoint(*shape, scratch.path.string(), o.seed, false); !st.ok())
            return st;
        const auto t_load = Clock::now();
        auto llm = DicodeLlm::load(scratch.path.string(), **be);
        if (!llm) return llm.status();
        const auto t_gen = Clock::now();
        std::vector<double> at_ms;
        DicodeGenerateOptions g;
        g.keyframes = o.keyframes;
        g.seed = o.seed;
        g.on_keyframe = [&](int64_t, const std::vector<float>&) {
            at_ms.push_back(ms(Clock::now() - t_gen));
            return true;
        };
        auto r = (*llm)->generate({5, 6, 7, 8, 9, 10, 11, 12}, g);
        if (!r) return r.status();
        std::vector<double> per;
        for (size_t i = 0; i < at_ms.size(); ++i) per.push_back(at_ms[i] - (i ? at_ms[i - 1] : 0.0));
        double steady = 0;
        for (size_t i = 1; i < per.size(); ++i) steady += per[i];
        steady = per.size() > 1 ? steady / static_cast<double>(per.size() - 1) : per.front();
        const TransformerConfig& c = (*llm)->backboneConfig();
        const DicodeLlmConfig& dc = (*llm)->config();
        runs.push_back({{"shape", name},
                        {"layers", c.layers},
                        {"hidden", c.hidden},
                        {"tokens_per_keyframe", dc.num_img_tokens},
                        {"gmm", {dc.gmm_components, dc.token_dim}},
                        {"prompt", dc.text_length + 1},
                        {"keyframes", r->keyframes},
                        {"ms_per_keyframe", per},
                        {"steady_ms_per_keyframe", steady},
                        {"ms_per_token_step", steady / static_cast<double>(dc.num_img_tokens)},
                        {"write_s", ms(t_load - t_write) / 1000.0},
                        {"load_ms", ms(t_gen - t_load)}});
    }
    return nlohmann::json{{"bench", "dicode-llm"},
                          {"backend", (*be)->info().name},
                          {"threads", (*be)->info().threads},
                          {"weights", "f32"},
                          {"sampling", "do_sample, var_scale 0.01"},
                          {"runs", runs},
                          {"load_avg_1m", bench::loadAverage()}};
}

} // namespace tessera
