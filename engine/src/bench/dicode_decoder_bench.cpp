// DiCoDe's decoder side on random weights: the tensor list of the U-Net and the VAE decoder as the
// official modules name them, the config of the tiny and the released shapes, the checkpoint writer,
// and `tessera-cli bench dicode` without a model (time per DDIM step with and without the x0 preview,
// with the fixed context computed once per clip or at every U-Net call, and the VAE decode of a clip).
// Sections: tensor list · shapes · writer · benchmark.
//
// The tensor list is written here rather than asked of the loader so that a test can hold it against
// the official state dict's key list (reference/dicode_tiny/released_config_state_dict_keys.tsv).
#include "bench/bench_scratch.h"
#include "bench/dicode_random_weights.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;

namespace tessera {

namespace dicode_bench {

// ---- tensor list ---------------------------------------------------------------------------------------

namespace {

using F = WeightSpec::Fill;

int64_t need(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_number_integer(),
             std::string("DiCoDe decoder config: ") + key + " missing or not an integer");
    return j[key].get<int64_t>();
}

std::vector<int64_t> needList(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_array(), std::string("DiCoDe decoder config: ") + key + " missing");
    std::vector<int64_t> out;
    for (const auto& v : j[key]) out.push_back(v.get<int64_t>());
    return out;
}

std::string at(const std::string& p, int64_t i) {
    return p + "." + std::to_string(i);
}

struct Specs {
    std::vector<WeightSpec> list;
    void norm(const std::string& p, int64_t ch) {
        list.push_back({p + ".weight", {ch}, F::One});
        list.push_back({p + ".bias", {ch}, F::Zero});
    }
    void weight(const std::string& p, Shape shape, bool bias = true) {
        const int64_t out = shape.front();
        list.push_back({p + ".weight", std::move(shape), F::FanIn});
        if (bias) list.push_back({p + ".bias", {out}, F::Zero});
    }
    void conv(const std::string& p, int64_t out, int64_t in, int64_t k) { weight(p, {out, in, k, k}); }

    void unetRes(const std::string& p, int64_t in, int64_t out, int64_t emb, bool tconv) {
        norm(p + ".in_layers.0", in);
        conv(p + ".in_layers.2", out, in, 3);
        weight(p + ".emb_layers.1", {out, emb});
        norm(p + ".out_layers.0", out);
        conv(p + ".out_layers.3", out, out, 3);
        if (in != out) conv(p + ".skip_connection", out, in, 1);
        if (!tconv) return;
        for (int i = 1; i <= 4; ++i) {
            const std::string c = p + ".temopral_conv.conv" + std::to_string(i);
            norm(c + ".0", out);
            weight(c + (i == 1 ? ".2" : ".3"), {out, out, 3, 1, 1});
        }
    }

    // A spatial (cross-attention over ctx-d tokens, optionally the gated image-token softmax) or
    // temporal (self-attention twice) transformer of `ch` channels and `inner` attention width.
    void transformer(const std::string& p, int64_t ch, int64_t inner, int64_t ctx, bool temporal, bool conv1d,
                     bool image_tokens) {
        norm(p + ".norm", ch);
        weight(p + ".proj_in", conv1d ? Shape{inner, ch, 1} : Shape{inner, ch});
        const std::string b = p + ".transformer_blocks.0";
        for (int a = 1; a <= 2; ++a) {
            const std::string q = b + ".attn" + std::to_string(a);
            const int64_t kv = a == 2 && !temporal ? ctx : inner;
            weight(q + ".to_q", {inner, inner}, false);
            weight(q + ".to_k", {inner, kv}, false);
            weight(q + ".to_v", {inner, kv}, false);
            weight(q + ".to_out.0", {inner, inner});
            if (a == 2 && !temporal && image_tokens) {
                weight(q + ".to_k_ip", {inner, kv}, false);
                weight(q + ".to_v_ip", {inner, kv}, false);
                list.push_back({q + ".alpha", {}, F::Zero});
            }
        }
        for (const char* n : {".norm1", ".norm2", ".norm3"}) norm(b + n, inner);
        weight(b + ".ff.net.0.proj", {8 * inner, inner});
        weight(b + ".ff.net.2", {inner, 4 * inner});
        weight(p + ".proj_out", conv1d ? Shape{ch, inner, 1} : Shape{ch, inner});
    }

    void vaeRes(const std::string& p, int64_t in, int64_t out) {
        norm(p + ".norm1", in);
        conv(p + ".conv1", out, in, 3);
        norm(p + ".norm2", out);
        conv(p + ".conv2", out, out, 3);
        if (in != out) conv(p + ".nin_shortcut", out, in, 1);
    }
};

} // namespace

std::vector<WeightSpec> decoderTensors(const nlohmann::json& params) {
    TS_CHECK(params.contains("unet_config") && params.contains("first_stage_config"),
             "DiCoDe decoder config: unet_config and first_stage_config are needed");
    const nlohmann::json& u = params["unet_config"]["params"];
    Specs s;
    const std::string p = "model.diffusion_model";
    const int64_t mc = need(u, "model_channels"), in_ch = need(u, "in_channels"),
                  out_ch = need(u, "out_channels"), ctx = need(u, "context_dim"),
                  nres = need(u, "num_res_blocks"), hc = need(u, "num_head_channels");
    const std::vector<int64_t> mult = needList(u, "channel_mult"),
                               attn = needList(u, "attention_resolutions");
    const bool tconv = u.value("temporal_conv", false), tattn = u.value("temporal_attention", true),
               init_attn = u.value("addition_attention", false), ip = u.value("image_cross_attention", false),
               fs_cond = u.value("fs_condition", false);
    const int64_t emb = 4 * mc;
    auto inAttn = [&](int64_t ds) { return std::find(attn.begin(), attn.end(), ds) != attn.end(); };
    auto attnLayers = [&](const std::string& q, int64_t ch) {
        s.transformer(at(q, 1), ch, ch, ctx, false, false, ip);
        if (tattn) s.transformer(at(q, 2), ch, ch, ctx, true, false, false);
    };

    s.weight(p + ".time_embed.0", {emb, mc});
    s.weight(p + ".time_embed.2", {emb, emb});
    if (fs_cond) {
        s.weight(p + ".fps_embedding.0", {emb, mc});
        s.weight(p + ".fps_embedding.2", {emb, emb});
    }
    s.conv(p + ".input_blocks.0.0", mc, in_ch, 3);
    if (init_attn) s.transformer(p + ".init_attn.0", mc, 8 * hc, ctx, true, true, false);
    std::vector<int64_t> chans{mc};
    int64_t ch = mc, ds = 1, block = 1;
    for (size_t level = 0; level < mult.size(); ++level) {
        for (int64_t r = 0; r < nres; ++r, ++block) {
            const std::string q = at(p + ".input_blocks", block);
            s.unetRes(q + ".0", ch, mult[level] * mc, emb, tconv);
            ch = mult[level] * mc;
            if (inAttn(ds)) attnLayers(q, ch);
            chans.push_back(ch);
        }
        if (level + 1 != mult.size()) {
            s.conv(at(p + ".input_blocks", block++) + ".0.op", ch, ch, 3);
            chans.push_back(ch);
            ds *= 2;
        }
    }
    s.unetRes(p + ".middle_block.0", ch, ch, emb, tconv);
    attnLayers(p + ".middle_block", ch);
    s.unetRes(at(p + ".middle_block", tattn ? 3 : 2), ch, ch, emb, tconv);
    block = 0;
    for (int64_t level = static_cast<int64_t>(mult.size()) - 1; level >= 0; --level) {
        for (int64_t i = 0; i <= nres; ++i, ++block) {
            const std::string q = at(p + ".output_blocks", block);
            const int64_t ich = chans.back();
            chans.pop_back();
            const int64_t out = mult[static_cast<size_t>(level)] * mc;
            s.unetRes(q + ".0", ch + ich, out, emb, tconv);
            ch = out;
            int64_t next = 1;
            if (inAttn(ds)) {
                attnLayers(q, ch);
                next = tattn ? 3 : 2;
            }
            if (level != 0 && i == nres) {
                s.conv(at(q, next) + ".conv", ch, ch, 3);
                ds /= 2;
            }
        }
    }
    s.norm(p + ".out.0", ch);
    s.conv(p + ".out.2", out_ch, mc, 3);

    const nlohmann::json& fsp = params["first_stage_config"]["params"];
    const nlohmann::json& dd = fsp["ddconfig"];
    const int64_t vch = need(dd, "ch"), z = need(dd, "z_channels"), vres = need(dd, "num_res_blocks"),
                  vout = need(dd, "out_ch"), embed = fsp.value("embed_dim", int64_t{4});
    const std::vector<int64_t> vmult = needList(dd, "ch_mult");
    TS_CHECK(!vmult.empty(), "DiCoDe decoder config: ddconfig.ch_mult is empty");
    const std::string d = "first_stage_model.decoder";
    s.conv("first_stage_model.post_quant_conv", z, embed, 1);
    int64_t c = vch * vmult.back();
    s.conv(d + ".conv_in", c, z, 3);
    s.vaeRes(d + ".mid.block_1", c, c);
    s.norm(d + ".mid.attn_1.norm", c);
    for (const char* n : {".q", ".k", ".v", ".proj_out"}) s.conv(d + ".mid.attn_1" + n, c, c, 1);
    s.vaeRes(d + ".mid.block_2", c, c);
    for (int64_t l = static_cast<int64_t>(vmult.size()) - 1; l >= 0; --l) {
        const int64_t out = vch * vmult[static_cast<size_t>(l)];
        for (int64_t i = 0; i <= vres; ++i) {
            s.vaeRes(at(at(d + ".up", l) + ".block", i), c, out);
            c = out;
        }
        if (l != 0) s.conv(at(d + ".up", l) + ".upsample.conv", c, c, 3);
    }
    s.norm(d + ".norm_out", c);
    s.conv(d + ".conv_out", vout, c, 3);
    return std::move(s.list);
}

} // namespace dicode_bench

// ---- shapes --------------------------------------------------------------------------------------------

Expected<nlohmann::json> dicodeDecoderParams(const std::string& shape, int64_t frames) {
    const bool real = shape == "real";
    if (!real && shape != "tiny")
        return Status::error("unknown DiCoDe shape '" + shape + "'; known: tiny, real");
    if (frames < 0 || frames % 2 != 0)
        return Status::error("DiCoDe clips need an even number of latent frames, got " +
                             std::to_string(frames));
    // tiny: reference/dicode_tiny's config.json; real: the released configs/tokenizer/config.yaml
    // (shared/specs/dicode.md section 4).
    const int64_t mc = real ? 320 : 32, ctx = real ? 1024 : 32, latent = real ? 32 : 8;
    const nlohmann::json mult = real ? nlohmann::json{1, 2, 4, 4} : nlohmann::json{1, 1};
    const nlohmann::json attn = real ? nlohmann::json{4, 2, 1} : nlohmann::json{1};
    const nlohmann::json unet = {{"in_channels", 4},
                                 {"out_channels", 4},
                                 {"model_channels", mc},
                                 {"attention_resolutions", attn},
                                 {"num_res_blocks", real ? 2 : 1},
                                 {"channel_mult", mult},
                                 {"num_head_channels", real ? 64 : 8},
                                 {"transformer_depth", 1},
                                 {"context_dim", ctx},
                                 {"use_linear", true},
                                 {"temporal_conv", true},
                                 {"temporal_attention", true},
                                 {"temporal_selfatt_only", true},
                                 {"use_relative_position", false},
                                 {"use_causal_attention", false},
                                 {"temporal_length", frames > 0 ? frames : (real ? 16 : 4)},
                                 {"addition_attention", true},
                                 {"image_cross_attention", true},
                                 {"image_cross_attention_scale_learnable", true},
                                 {"default_fs", 3},
                                 {"fs_condition", true}};
    const nlohmann::json dd = {{"double_z", true},
                               {"z_channels", 4},
                               {"resolution", real ? 256 : 32},
                               {"in_channels", 3},
                               {"out_ch", 3},
                               {"ch", real ? 128 : 32},
                               {"ch_mult", real ? nlohmann::json{1, 2, 4, 4} : nlohmann::json{1, 1, 1}},
                               {"num_res_blocks", real ? 2 : 1},
                               {"attn_resolutions", nlohmann::json::array()},
                               {"dropout", 0.0}};
    const nlohmann::json resampler = {{"dim", real ? 1024 : 32},
                                      {"depth", real ? 4 : 2},
                                      {"dim_head", real ? 64 : 16},
                                      {"heads", real ? 12 : 3},
                                      {"num_queries", real ? 16 : 4},
                                      {"embedding_dim", real ? 1280 : 40},
                                      {"output_dim", ctx},
                                      {"ff_mult", 4}};
    return nlohmann::json{
        {"rescale_betas_zero_snr", true},
        {"parameterization", "v"},
        {"linear_start", 0.00085},
        {"linear_end", 0.012},
        {"timesteps", 1000},
        {"image_size", {latent, latent}},
        {"channels", 4},
        {"scale_factor", 0.18215},
        {"image_proj_type", "headrear"},
        {"no_text", true},
        {"unet_config",
         {{"target", "src.tokenizer.modules.networks.openaimodel3d.UNetModel"}, {"params", unet}}},
        {"first_stage_config",
         {{"target", "src.tokenizer.models.autoencoder.AutoencoderKL"},
          {"params", {{"embed_dim", 4}, {"ddconfig", dd}}}}},
        {"image_proj_stage_config",
         {{"target", "src.tokenizer.modules.encoders.resampler.Resampler"}, {"params", resampler}}}};
}

// ---- writer ----------------------------------------------------------------------------------------------

Status writeRandomDicodeDecoder(const nlohmann::json& params, const std::string& dir, uint64_t seed) {
    std::vector<dicode_bench::WeightSpec> specs;
    try {
        specs = dicode_bench::decoderTensors(params);
    } catch (const Error& e) {
        return Status::error(e.what());
    } catch (const nlohmann::json::exception& e) {
        return Status::error(std::string("DiCoDe decoder config: ") + e.what());
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    {
        const nlohmann::json cfg = {
            {"description", "DiCoDe decoder side with random weights"},
            {"tokenizer_model",
             {{"target", "src.tokenizer.models.ddpm3d.LatentVisualDiffusion"}, {"params", params}}}};
        std::ofstream out(fs::path(dir) / "config.json");
        out << cfg.dump(1) << "\n";
        if (!out) return Status::error("cannot write " + dir + "/config.json");
    }
    return dicode_bench::writeRandomSafetensors((fs::path(dir) / "model.safetensors").string(), specs, seed);
}

// ---- benchmark -------------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::vector<float> normalValues(size_t n, uint64_t seed, float scale) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
}

struct StepTimes {
    std::vector<double> step_ms; // per DDIM step, in sampling order
    double preview_map_ms = 0;   // the latent→RGB map of the last step's x0, timed on its own
    double vae_ms = 0;           // the VAE decode after the last step (0 when not decoded)
    double total_ms = 0;
    size_t peak_rss_bytes = 0;
};

Expected<StepTimes> timeClip(const DicodeDecoder& dec, const std::vector<float>& a,
                             const std::vector<float>& b, const std::vector<float>& text,
                             const std::vector<float>& uc, DicodeDecodeOptions o) {
    StepTimes r;
    bench::resetPeakResident();
    const auto start = Clock::now();
    auto last = start;
    DicodeCallbacks cb;
    cb.on_step = [&](const DicodeStepEvent& ev) {
        r.step_ms.push_back(msSince(last));
        const auto p = Clock::now();
        (void)DicodeDecoder::previewFrames(ev.pred_x0, dec.frames(), dec.latentHeight(), dec.latentWidth());
        r.preview_map_ms = msSince(p);
        last = Clock::now();
    };
    auto clip = dec.decodeClip(a, b, text, uc, o, cb);
    if (!clip) return clip.status();
    if (o.decode_frames) r.vae_ms = msSince(last);
    r.total_ms = msSince(start);
    r.peak_rss_bytes = bench::procStatusBytes("VmHWM");
    return r;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

} // namespace

Expected<nlohmann::json> runDicodeDecoderBench(const DicodeDecoderBenchOptions& o) {
    if (o.ddim_steps < 2)
        return Status::error("bench dicode: the decoder runs need at least 2 DDIM steps (the first is "
                             "a warm-up)");
    auto be = createBackend("cpu", o.threads);
    if (!be) return be.status();
    nlohmann::json runs = nlohmann::json::array();
    for (const std::string& name : o.shapes) {
        const int64_t frames = name == "real" ? o.real_frames : 0;
        auto params = dicodeDecoderParams(name, frames);
        if (!params) return params.status();
        bench::ScratchDir scratch(bench::scratchPath(o.scratch_dir, "tessera-dicode-decoder-bench"));
        const auto t_write = Clock::now();
        if (Status st = writeRandomDicodeDecoder(*params, scratch.path.string(), o.seed); !st.ok()) return st;
        const double write_ms = msSince(t_write);
        std::error_code ec;
        const auto weight_bytes = fs::file_size(scratch.path / "model.safetensors", ec);
        const auto t_load = Clock::now();
        auto dec = DicodeDecoder::load(scratch.path.string(), **be);
        if (!dec) return dec.status();
        const double load_ms = msSince(t_load);
        const int64_t dim = (*dec)->contextDim();
        const int64_t n = (*params)["image_proj_stage_config"]["params"]["num_queries"].get<int64_t>();
        const size_t tokens = static_cast<size_t>(n * dim);
        const std::vector<float> a = normalValues(tokens, o.seed + 1, 1.0f),
                                 b = normalValues(tokens, o.seed + 2, 1.0f),
                                 uc = normalValues(tokens, o.seed + 3, 1.0f),
                                 text = normalValues(static_cast<size_t>(77 * dim), o.seed + 4, 1.0f);
        DicodeDecodeOptions opt; // the demo's: eta 1, guidance 7.5 with rescale 0.7, fs 6
        opt.steps = o.ddim_steps;
        opt.seed = o.seed;
        // Three kinds of clip in one run: previews on (and the VAE decode), previews off, and previews off
        // with the fixed context recomputed at every U-Net call. Each clip's first step is a warm-up; the
        // kinds take turns over the rounds so a change in the machine's load does not favour one; the
        // figures are medians.
        const int64_t rounds = o.rounds > 0 ? o.rounds : (name == "real" ? 1 : 3);
        std::vector<double> with_ms, without_ms, recomputed_ms, vae_ms, map_ms, first_ms;
        size_t peak_rss = 0;
        for (int64_t round = 0; round < rounds; ++round)
            for (int k = 0; k < 3; ++k) {
                const int kind = static_cast<int>((k + round) % 3);
                opt.preview = kind == 0;
                opt.decode_frames = kind == 0;
                opt.reuse_context = kind != 2;
                auto r = timeClip(**dec, a, b, text, uc, opt);
                if (!r) return r.status();
                std::vector<double>& into = kind == 0 ? with_ms : kind == 1 ? without_ms : recomputed_ms;
                into.insert(into.end(), r->step_ms.begin() + 1, r->step_ms.end());
                first_ms.push_back(r->step_ms.front());
                if (kind == 0) vae_ms.push_back(r->vae_ms), map_ms.push_back(r->preview_map_ms);
                peak_rss = std::max(peak_rss, r->peak_rss_bytes);
            }
        const double step_with = median(with_ms), step_without = median(without_ms),
                     step_recomputed = median(recomputed_ms), vae = median(vae_ms), map = median(map_ms);
        const int64_t t = (*dec)->frames(), h = (*dec)->latentHeight(), w = (*dec)->latentWidth();
        nlohmann::json run = {
            {"shape", name},
            {"latent", {(*dec)->latentChannels(), t, h, w}},
            {"frames_measured", t},
            {"frames_released", 16},
            {"context_tokens_per_frame", 77 + n},
            {"weight_bytes", static_cast<uint64_t>(ec ? 0 : weight_bytes)},
            {"write_s", write_ms / 1000.0},
            {"load_ms", load_ms},
            {"unet_calls_per_step", 2},
            {"ms_per_ddim_step_with_preview", step_with},
            {"ms_per_ddim_step_without_preview", step_without},
            {"preview_overhead_percent",
             step_without > 0 ? 100.0 * (step_with - step_without) / step_without : 0.0},
            {"preview_map_ms", map},
            {"preview_map_percent_of_step", step_without > 0 ? 100.0 * map / step_without : 0.0},
            {"ms_per_ddim_step_context_recomputed", step_recomputed},
            {"context_cache_saving_percent",
             step_recomputed > 0 ? 100.0 * (step_recomputed - step_without) / step_recomputed : 0.0},
            {"vae_decode_ms", vae},
            {"vae_decode_ms_per_frame", vae / static_cast<double>(t)},
            {"rounds", rounds},
            {"timed_steps_per_figure", without_ms.size()},
            {"first_step_ms", first_ms},
            {"peak_rss_bytes", peak_rss}};
        runs.push_back(std::move(run));
    }
    return nlohmann::json{{"backend", (*be)->info().name},
                          {"threads", (*be)->info().threads},
                          {"weights", "f32"},
                          {"ddim_steps_per_clip", o.ddim_steps},
                          {"runs", runs},
                          {"load_avg_1m", bench::loadAverage()}};
}

} // namespace tessera
