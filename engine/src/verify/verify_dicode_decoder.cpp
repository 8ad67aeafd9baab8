// DiCoDe decoder-side checks (see verify_dicode_decoder.h). Tolerances from the set's README: max |Δ| ≤ 1e-4
// on single forwards; ≤ 1e-3 relative to max |x| for DDIM chains and decoded pixels; the schedule tables
// are float64 math stored as float32, checked at 1e-6.
#include "verify/verify_dicode_decoder.h"

#include "models/dicode_decoder_parts.h"
#include "tessera/engine/dicode_decoder.h"
#include "verify/verify_internal.h"

#include <map>

namespace tessera::verify {

namespace {

constexpr double kForward = 1e-4;
constexpr double kChain = 1e-3;
constexpr double kSchedule = 1e-6;

// [B, C, T, H, W] → [B·T, C, H, W] on the host.
std::vector<float> videoToFrames(const std::vector<float>& x, const Shape& s) {
    if (s.size() != 5) return x;
    const int64_t b = s[0], c = s[1], t = s[2], hw = s[3] * s[4];
    std::vector<float> out(x.size());
    for (int64_t i = 0; i < b; ++i)
        for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t ti = 0; ti < t; ++ti)
                std::copy_n(x.begin() + ((i * c + ci) * t + ti) * hw, hw, out.begin() + ((i * t + ti) * c + ci) * hw);
    return out;
}

std::vector<float> sliceRows(const std::vector<float>& x, size_t row, size_t per) {
    return std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(row * per),
                              x.begin() + static_cast<std::ptrdiff_t>((row + 1) * per));
}

} // namespace

Expected<VerifyReport> verifyDicodeDecoder(const std::string& dir, Backend& be) {
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    auto loaded = DicodeDecoder::load(dir, be);
    if (!loaded) return loaded.status();
    const DicodeDecoder& dec = **loaded;
    std::map<std::string, std::vector<float>> g;
    std::map<std::string, Shape> shape;
    std::map<std::string, std::vector<int64_t>> gi;
    for (const char* name :
         {"text_context", "clip_keyframe_tokens", "uc_img_tokens", "cond_context", "uncond_context", "unet_x", "unet_t",
          "unet_fs", "unet_v", "unet_b2_x", "unet_b2_t", "unet_b2_fs", "unet_b2_v", "ddim_xT", "ddim_timesteps",
          "ddim_alphas", "ddim_alphas_prev", "ddim_v_cond_step0", "ddim_v_uncond_step0", "ddim_sigmas_eta1",
          "ddim_eta1_noise", "vae_z", "vae_pixels", "vae_act_post_quant", "vae_act_mid", "vae_act_first_upsample",
          "sched_alphas_cumprod", "sched_ddim50_timesteps", "sched_ddim50_sigmas_eta1",
          "ddim_eta0_preview_pixels_step0"}) {
        auto t = gold->tensor(name, be);
        if (!t) return t.status();
        shape[name] = t->shape();
        if (t->dtype() == DType::I64)
            gi[name] = be.readI64(*t);
        else
            g[name] = be.readF32(*t);
    }
    for (const char* eta : {"eta0", "eta1"})
        for (const char* what : {"_x_steps", "_pred_x0_steps", "_final", "_pixels"}) {
            const std::string name = std::string("ddim_") + eta + what;
            auto t = gold->tensor(name, be);
            if (!t) return t.status();
            shape[name] = t->shape();
            g[name] = be.readF32(*t);
        }

    VerifyReport r;
    r.kind = "dicode-decoder";

    // ---- schedule and DDIM tables (computed from the config, not from the stored buffers)
    const dicode::Schedule& sch = dec.schedule();
    r.checks.push_back(compareF32("sched_alphas_cumprod", sch.alphas_cumprod, g["sched_alphas_cumprod"], kSchedule));
    {
        // The checkpoint's own buffer, which the decoder does not read.
        auto ck = Checkpoint::open(dir);
        if (!ck) return ck.status();
        auto buf = ck->load("alphas_cumprod", be);
        if (buf) {
            r.checks.push_back(compareF32("checkpoint_alphas_cumprod", sch.alphas_cumprod, be.readF32(*buf), kSchedule));
        } else {
            r.notes.push_back("model.safetensors has no alphas_cumprod buffer: not compared");
        }
    }
    const dicode::DdimTables d50 = dicode::ddimTables(sch, 50, 1.0);
    r.checks.push_back(compareIds("sched_ddim50_timesteps", d50.timesteps, gi["sched_ddim50_timesteps"]));
    r.checks.push_back(compareF32("sched_ddim50_sigmas_eta1", d50.sigmas, g["sched_ddim50_sigmas_eta1"], kSchedule));
    const int64_t steps = static_cast<int64_t>(gi["ddim_timesteps"].size());
    const dicode::DdimTables d = dicode::ddimTables(sch, steps, 1.0);
    r.checks.push_back(compareIds("ddim_timesteps", d.timesteps, gi["ddim_timesteps"]));
    r.checks.push_back(compareF32("ddim_alphas", d.alphas, g["ddim_alphas"], kSchedule));
    r.checks.push_back(compareF32("ddim_alphas_prev", d.alphas_prev, g["ddim_alphas_prev"], kSchedule));
    r.checks.push_back(compareF32("ddim_sigmas_eta1", d.sigmas, g["ddim_sigmas_eta1"], kSchedule));

    // ---- VAE
    {
        std::map<std::string, std::vector<float>> seen;
        auto probe = [&](const std::string& name, const Tensor& t) { seen[name] = be.readF32(t); };
        const Tensor z = dicode::framesFromVideo(be, be.fromF32(g["vae_z"], shape["vae_z"]));
        const Tensor px = dec.vae().decode(be, z, probe);
        for (const char* name : {"vae_act_post_quant", "vae_act_mid", "vae_act_first_upsample"})
            r.checks.push_back(compareF32(name, seen[name], g[name], kForward));
        r.checks.push_back(compareF32("vae_pixels", be.readF32(dicode::videoFromFrames(be, px, shape["vae_z"][0])),
                                      g["vae_pixels"], kForward));
    }

    // ---- contexts
    const int64_t dim = dec.contextDim(), frames = dec.frames();
    const std::vector<float>& keys = g["clip_keyframe_tokens"];
    const size_t per_key = keys.size() / 2;
    const std::vector<float> key_a = sliceRows(keys, 0, per_key), key_b = sliceRows(keys, 1, per_key);
    const std::vector<float> cond = dicode::headrearContext(g["text_context"], key_a, key_b, frames, dim);
    const std::vector<float> uncond =
        dicode::headrearContext(g["text_context"], g["uc_img_tokens"], g["uc_img_tokens"], frames, dim);
    r.checks.push_back(compareF32("cond_context", cond, g["cond_context"], 0.0));
    r.checks.push_back(compareF32("uncond_context", uncond, g["uncond_context"], 0.0));
    const int64_t len = static_cast<int64_t>(cond.size()) / dim;
    const Tensor cond_t = be.fromF32(cond, {1, len, dim}), uncond_t = be.fromF32(uncond, {1, len, dim});

    // ---- U-Net, b = 1 with activations
    {
        std::map<std::string, std::vector<float>> seen;
        auto probe = [&](const std::string& name, const Tensor& t) { seen[name] = be.readF32(t); };
        const Tensor v = dec.unet().forward(be, be.fromF32(g["unet_x"], shape["unet_x"]), gi["unet_t"], gi["unet_fs"],
                                            cond_t, probe);
        // input_blocks[1] = [ResBlock (its temporal conv last), SpatialTransformer, TemporalTransformer].
        const std::map<std::string, std::string> layer = {{"unet_act_attnblock_resblock", "unet_act_attnblock_layer0"},
                                                          {"unet_act_attnblock_tconv", "unet_act_attnblock_layer0"},
                                                          {"unet_act_attnblock_spatial", "unet_act_attnblock_layer1"},
                                                          {"unet_act_attnblock_temporal", "unet_act_attnblock_layer2"}};
        for (const std::string& name : gold->ckpt.names()) {
            if (name.rfind("unet_act_", 0) != 0) continue;
            auto t = gold->tensor(name, be);
            if (!t) return t.status();
            const std::string key = layer.count(name) ? layer.at(name) : name;
            if (!seen.count(key)) {
                VerifyCheck c;
                c.name = name;
                c.max_abs_diff = INFINITY;
                c.detail = "the native U-Net has no intermediate of this name";
                r.checks.push_back(c);
                continue;
            }
            r.checks.push_back(compareF32(name, seen[key], videoToFrames(be.readF32(*t), t->shape()), kForward));
        }
        r.checks.push_back(compareF32("unet_v", be.readF32(v), g["unet_v"], kForward));
    }
    // ---- U-Net, b = 2 (cond and uncond contexts, different timesteps)
    {
        const Tensor ctx2 = be.concat(cond_t, uncond_t, 0);
        const Tensor v = dec.unet().forward(be, be.fromF32(g["unet_b2_x"], shape["unet_b2_x"]), gi["unet_b2_t"],
                                            gi["unet_b2_fs"], ctx2);
        r.checks.push_back(compareF32("unet_b2_v", be.readF32(v), g["unet_b2_v"], kForward));
    }
    // ---- DDIM step 0's two U-Net passes
    {
        const Tensor x = be.fromF32(g["ddim_xT"], shape["ddim_xT"]);
        const int64_t fs = gi["unet_fs"].empty() ? 6 : gi["unet_fs"][0];
        const std::vector<int64_t> t0{d.timesteps.back()};
        r.checks.push_back(compareF32("ddim_v_cond_step0", be.readF32(dec.unet().forward(be, x, t0, {fs}, cond_t)),
                                      g["ddim_v_cond_step0"], kForward));
        r.checks.push_back(compareF32("ddim_v_uncond_step0",
                                      be.readF32(dec.unet().forward(be, x, t0, {fs}, uncond_t)),
                                      g["ddim_v_uncond_step0"], kForward));
    }
    // ---- DDIM chains
    const size_t per_step = g["ddim_xT"].size();
    for (const double eta : {0.0, 1.0}) {
        const std::string p = eta == 0.0 ? "ddim_eta0" : "ddim_eta1";
        DicodeDecodeOptions o;
        o.steps = steps, o.eta = eta, o.cfg = 7.5f, o.rescale = 0.7f, o.preview = false;
        o.fs = gi["unet_fs"].empty() ? 6 : gi["unet_fs"][0];
        DicodeCallbacks cb;
        cb.x_T = g["ddim_xT"];
        const std::vector<float>& noise = g["ddim_eta1_noise"];
        cb.noise = [&](int64_t i) { return sliceRows(noise, static_cast<size_t>(i), per_step); };
        auto res = dec.decodeClip(key_a, key_b, g["text_context"], g["uc_img_tokens"], o, cb);
        if (!res) return res.status();
        std::vector<float> xs, x0s;
        for (const auto& s : res->x_steps) xs.insert(xs.end(), s.begin(), s.end());
        for (const auto& s : res->pred_x0_steps) x0s.insert(x0s.end(), s.begin(), s.end());
        r.checks.push_back(compareF32(p + "_x_steps", xs, g[p + "_x_steps"], kChain));
        r.checks.push_back(compareF32(p + "_pred_x0_steps", x0s, g[p + "_pred_x0_steps"], kChain));
        r.checks.push_back(compareF32(p + "_final", res->final_latent, g[p + "_final"], kChain));
        r.checks.push_back(compareF32(p + "_pixels", res->pixels, g[p + "_pixels"], kChain));
        if (eta == 0.0 && !res->pred_x0_steps.empty()) {
            const Tensor z = dicode::framesFromVideo(be, be.fromF32(res->pred_x0_steps[0], shape["ddim_xT"]));
            r.checks.push_back(compareF32("ddim_eta0_preview_pixels_step0",
                                          be.readF32(dicode::videoFromFrames(be, dec.vae().decode(be, z), 1)),
                                          g["ddim_eta0_preview_pixels_step0"], kChain));
        }
    }
    return r;
}

} // namespace tessera::verify
