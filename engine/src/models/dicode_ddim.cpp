// DiCoDe schedule and DDIM: the zero-terminal-SNR v-prediction schedule, the DDIM tables, guidance
// with rescale, and the sampler behind the public DicodeDecoder. Sections: schedule · guidance ·
// context layout · DicodeDecoder.
//
// The DDIM update is elementwise on a small latent (4·16·32·32 values at the released shape), so it
// runs on the host in float32 like the official sampler; the U-Net and the VAE run on the backend.
#include "models/dicode_decoder_parts.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace tessera::dicode {

// ---- schedule ---------------------------------------------------------------------------------------

Schedule Schedule::make(int64_t timesteps, double linear_start, double linear_end, bool zero_terminal_snr) {
    TS_CHECK(timesteps >= 2, "the diffusion schedule needs at least 2 timesteps");
    const size_t n = static_cast<size_t>(timesteps);
    std::vector<double> betas(n);
    const double a = std::sqrt(linear_start), b = std::sqrt(linear_end);
    for (size_t i = 0; i < n; ++i) {
        const double s = a + (b - a) * static_cast<double>(i) / static_cast<double>(n - 1);
        betas[i] = s * s;
    }
    std::vector<double> acp(n);
    double prod = 1.0;
    for (size_t i = 0; i < n; ++i) acp[i] = prod *= 1.0 - betas[i];
    if (zero_terminal_snr) {
        // Shift √ᾱ so the last step is 0 and scale so the first keeps its value (Lin et al. 2023, alg. 1),
        // then back to betas and a fresh cumulative product, as the official code does.
        std::vector<double> sq(n);
        for (size_t i = 0; i < n; ++i) sq[i] = std::sqrt(acp[i]);
        const double s0 = sq[0], st = sq[n - 1];
        for (size_t i = 0; i < n; ++i) sq[i] = (sq[i] - st) * (s0 / (s0 - st));
        std::vector<double> bar(n), alphas(n);
        for (size_t i = 0; i < n; ++i) bar[i] = sq[i] * sq[i];
        alphas[0] = bar[0];
        for (size_t i = 1; i < n; ++i) alphas[i] = bar[i] / bar[i - 1];
        prod = 1.0;
        for (size_t i = 0; i < n; ++i) acp[i] = prod *= alphas[i];
    }
    Schedule s;
    s.alphas_cumprod_f64 = acp;
    s.alphas_cumprod.resize(n);
    s.sqrt_alphas_cumprod.resize(n);
    s.sqrt_one_minus_alphas_cumprod.resize(n);
    for (size_t i = 0; i < n; ++i) {
        s.alphas_cumprod[i] = static_cast<float>(acp[i]);
        s.sqrt_alphas_cumprod[i] = static_cast<float>(std::sqrt(acp[i]));
        s.sqrt_one_minus_alphas_cumprod[i] = static_cast<float>(std::sqrt(1.0 - acp[i]));
    }
    return s;
}

DdimTables ddimTables(const Schedule& s, int64_t steps, double eta) {
    const int64_t total = static_cast<int64_t>(s.alphas_cumprod.size());
    TS_CHECK(steps >= 1 && steps <= total, "DDIM steps must be between 1 and " + std::to_string(total) +
                                               ", got " + std::to_string(steps));
    TS_CHECK(eta >= 0.0, "DDIM eta must not be negative");
    DdimTables d;
    const int64_t c = total / steps, last = total - c;
    for (int64_t k = 0; k < steps; ++k) {
        // numpy linspace(0, last, steps).astype(int): truncation of k·last/(steps − 1).
        const double v = steps == 1 ? 0.0 : static_cast<double>(last) * static_cast<double>(k) /
                                                static_cast<double>(steps - 1);
        d.timesteps.push_back(static_cast<int64_t>(v) + 1);
    }
    for (size_t k = 0; k < d.timesteps.size(); ++k) {
        const float at = s.alphas_cumprod[static_cast<size_t>(d.timesteps[k])];
        const float ap = k == 0 ? s.alphas_cumprod[0] : s.alphas_cumprod[static_cast<size_t>(d.timesteps[k - 1])];
        d.alphas.push_back(at);
        d.alphas_prev.push_back(ap);
        const double a = at, p = ap;
        d.sigmas.push_back(static_cast<float>(eta * std::sqrt((1.0 - p) / (1.0 - a) * (1.0 - a / p))));
    }
    return d;
}

// ---- guidance -----------------------------------------------------------------------------------------

static double unbiasedStd(const float* x, int64_t n) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    return std::sqrt(var / static_cast<double>(std::max<int64_t>(1, n - 1)));
}

void guideV(const std::vector<float>& cond, const std::vector<float>& uncond, int64_t batch, float cfg,
            float rescale, std::vector<float>& out) {
    TS_ASSERT(cond.size() == uncond.size() && batch >= 1, "guideV: cond and uncond differ in size");
    out.resize(cond.size());
    for (size_t i = 0; i < cond.size(); ++i) out[i] = uncond[i] + cfg * (cond[i] - uncond[i]);
    if (rescale <= 0.0f) return;
    const int64_t per = static_cast<int64_t>(cond.size()) / batch;
    for (int64_t b = 0; b < batch; ++b) {
        float* o = out.data() + b * per;
        const float ratio = static_cast<float>(unbiasedStd(cond.data() + b * per, per) / unbiasedStd(o, per));
        for (int64_t i = 0; i < per; ++i) o[i] = rescale * (o[i] * ratio) + (1.0f - rescale) * o[i];
    }
}

// ---- context layout -----------------------------------------------------------------------------------

std::vector<float> headrearContext(const std::vector<float>& text, const std::vector<float>& key_a,
                                   const std::vector<float>& key_b, int64_t frames, int64_t dim) {
    TS_CHECK(frames >= 2 && frames % 2 == 0, "a DiCoDe clip needs an even number of frames, got " +
                                                 std::to_string(frames));
    TS_CHECK(key_a.size() == key_b.size() && !key_a.empty() && key_a.size() % static_cast<size_t>(dim) == 0,
             "the two keyframes must hold the same number of " + std::to_string(dim) + "-d tokens");
    TS_CHECK(text.size() == static_cast<size_t>(Unet::kTextTokens * dim),
             "the text context must be [77, " + std::to_string(dim) + "]");
    std::vector<float> out(text);
    for (int64_t f = 0; f < frames; ++f) {
        const std::vector<float>& k = f < frames / 2 ? key_a : key_b;
        out.insert(out.end(), k.begin(), k.end());
    }
    return out;
}

} // namespace tessera::dicode

// ---- DicodeDecoder ------------------------------------------------------------------------------------

namespace tessera {

namespace {

// Standard-normal draws from the Philox stream (Box–Muller on pairs of uniforms): value i of stream
// `stream` under `seed`, whatever the thread count.
std::vector<float> philoxNormal(uint64_t seed, uint64_t stream, size_t n) {
    std::vector<float> out(n);
    for (size_t i = 0; i < n; i += 2) {
        const double u1 = std::max(Philox::uniform(seed, stream, i), 1e-300);
        const double u2 = Philox::uniform(seed, stream, i + 1);
        const double r = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
        out[i] = static_cast<float>(r * std::cos(th));
        if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(th));
    }
    return out;
}

const nlohmann::json& child(const nlohmann::json& j, const char* key, const std::string& where) {
    TS_CHECK(j.contains(key) && j[key].is_object(), "config.json: " + where + key + " missing");
    return j[key];
}

uint8_t toByte(float v) {
    const float c = std::min(1.0f, std::max(-1.0f, v));
    return static_cast<uint8_t>((c + 1.0f) / 2.0f * 255.0f); // truncation, as the official save does
}

} // namespace

DicodeDecoder::~DicodeDecoder() = default;

int64_t DicodeDecoder::latentChannels() const {
    return unet_->inChannels();
}

int64_t DicodeDecoder::contextDim() const {
    return unet_->contextDim();
}

Expected<std::unique_ptr<DicodeDecoder>> DicodeDecoder::load(const std::string& dir, Backend& backend) {
    try {
        auto ckpt = Checkpoint::open(dir);
        if (!ckpt) return ckpt.status();
        const nlohmann::json& root = ckpt->config().json();
        const nlohmann::json& tm = child(root, "tokenizer_model", "");
        const nlohmann::json& p = child(tm, "params", "tokenizer_model.");
        const nlohmann::json& unet = child(child(p, "unet_config", "tokenizer_model.params."), "params",
                                           "tokenizer_model.params.unet_config.");
        const nlohmann::json& fs = child(p, "first_stage_config", "tokenizer_model.params.");
        const nlohmann::json& fsp = child(fs, "params", "tokenizer_model.params.first_stage_config.");
        TS_CHECK(p.value("parameterization", std::string("eps")) == "v",
                 "config.json: only v-prediction DiCoDe decoders are supported");
        std::unique_ptr<DicodeDecoder> d(new DicodeDecoder());
        d->backend_ = &backend;
        d->schedule_ = std::make_unique<dicode::Schedule>(dicode::Schedule::make(
            p.value("timesteps", 1000), p.value("linear_start", 0.00085), p.value("linear_end", 0.012),
            p.value("rescale_betas_zero_snr", false)));
        WeightBinder wb(*ckpt, backend);
        d->unet_ = std::make_unique<dicode::Unet>();
        d->unet_->load(wb, unet);
        d->vae_ = std::make_unique<dicode::VaeDecoder>();
        d->vae_->load(wb, child(fsp, "ddconfig", "first_stage_config.params."), fsp.value("embed_dim", 4),
                      static_cast<float>(p.value("scale_factor", 0.18215)));
        if (Status s = wb.finish(); !s.ok()) return s;
        d->frames_ = unet.value("temporal_length", 16);
        if (p.contains("image_size") && p["image_size"].is_array() && p["image_size"].size() == 2) {
            d->latent_h_ = p["image_size"][0].get<int64_t>();
            d->latent_w_ = p["image_size"][1].get<int64_t>();
        }
        TS_CHECK(d->frames_ >= 2 && d->latent_h_ > 0 && d->latent_w_ > 0,
                 "config.json: temporal_length and image_size must give the latent shape");
        return d;
    } catch (const Error& e) {
        return Status::error(dir + ": " + e.what());
    } catch (const nlohmann::json::exception& e) {
        return Status::error(dir + "/config.json: " + e.what());
    }
}

DicodeFrames DicodeDecoder::toFrames(const std::vector<float>& pixels, int64_t t, int64_t h, int64_t w) {
    DicodeFrames f;
    f.frames = t, f.height = h, f.width = w;
    f.rgb.resize(static_cast<size_t>(t * h * w * 3));
    const int64_t plane = h * w;
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t k = 0; k < t; ++k)
            for (int64_t i = 0; i < plane; ++i)
                f.rgb[static_cast<size_t>((k * plane + i) * 3 + c)] = toByte(pixels[static_cast<size_t>((c * t + k) * plane + i)]);
    return f;
}

DicodeFrames DicodeDecoder::previewFrames(const std::vector<float>& latent, int64_t t, int64_t h, int64_t w) {
    // Rows: latent channel; columns: R, G, B.
    static constexpr float kMap[4][3] = {
        {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f}, {-0.184f, -0.271f, -0.473f}};
    const int64_t plane = h * w;
    std::vector<float> px(static_cast<size_t>(3 * t * plane), 0.0f);
    for (int64_t k = 0; k < t; ++k)
        for (int64_t i = 0; i < plane; ++i)
            for (int64_t c = 0; c < 4; ++c) {
                const float v = latent[static_cast<size_t>((c * t + k) * plane + i)];
                for (int64_t o = 0; o < 3; ++o) px[static_cast<size_t>((o * t + k) * plane + i)] += kMap[c][o] * v;
            }
    return toFrames(px, t, h, w);
}

Expected<DicodeClipResult> DicodeDecoder::decodeClip(const std::vector<float>& keyframe_a,
                                                     const std::vector<float>& keyframe_b,
                                                     const std::vector<float>& text_context,
                                                     const std::vector<float>& uc_tokens,
                                                     const DicodeDecodeOptions& o, const DicodeCallbacks& cb) const {
    try {
        Backend& be = *backend_;
        const int64_t dim = contextDim(), c = latentChannels(), t = frames_, h = latent_h_, w = latent_w_;
        TS_CHECK(uc_tokens.size() == keyframe_a.size(), "the unconditional tokens must match a keyframe's shape");
        const std::vector<float> cond = dicode::headrearContext(text_context, keyframe_a, keyframe_b, t, dim);
        const std::vector<float> uncond = dicode::headrearContext(text_context, uc_tokens, uc_tokens, t, dim);
        const int64_t len = static_cast<int64_t>(cond.size()) / dim;
        const Tensor cond_t = be.fromF32(cond, {1, len, dim}), uncond_t = be.fromF32(uncond, {1, len, dim});
        const dicode::DdimTables tab = dicode::ddimTables(*schedule_, o.steps, o.eta);
        const size_t n = static_cast<size_t>(c * t * h * w);
        const Shape shape{1, c, t, h, w};
        std::vector<float> x = cb.x_T.empty() ? philoxNormal(o.seed, 0, n) : cb.x_T;
        TS_CHECK(x.size() == n, "x_T must hold " + std::to_string(n) + " values");
        auto cancelled = [&] { return cb.cancel && cb.cancel->load(); };
        // The context's keys and values are the same at every step: computed once per clip, the text's
        // once for both guidance branches (they share the "" text).
        dicode::UnetContext cond_ctx, uncond_ctx;
        if (o.reuse_context) {
            cond_ctx = unet_->prepareContext(be, cond_t, t);
            if (o.cfg != 1.0f) uncond_ctx = unet_->prepareContext(be, uncond_t, t, &cond_ctx);
        }
        auto unet = [&](const Tensor& xt, int64_t ts, const Tensor& ctx, const dicode::UnetContext& prepared) {
            return be.readF32(o.reuse_context ? unet_->forward(be, xt, {ts}, {o.fs}, prepared)
                                              : unet_->forward(be, xt, {ts}, {o.fs}, ctx));
        };
        DicodeClipResult r;
        std::vector<float> v;
        for (int64_t i = 0; i < o.steps; ++i) {
            if (cancelled()) return Status::error("cancelled");
            const int64_t index = o.steps - 1 - i, ts = tab.timesteps[static_cast<size_t>(index)];
            const Tensor xt = be.fromF32(x, shape);
            const std::vector<float> vc = unet(xt, ts, cond_t, cond_ctx);
            if (o.cfg != 1.0f) {
                if (cancelled()) return Status::error("cancelled");
                const std::vector<float> vu = unet(xt, ts, uncond_t, uncond_ctx);
                dicode::guideV(vc, vu, 1, o.cfg, o.rescale, v);
            } else {
                v = vc;
            }
            const float sa = schedule_->sqrt_alphas_cumprod[static_cast<size_t>(ts)],
                        sb = schedule_->sqrt_one_minus_alphas_cumprod[static_cast<size_t>(ts)];
            const float a_prev = tab.alphas_prev[static_cast<size_t>(index)];
            const float sigma = tab.sigmas[static_cast<size_t>(index)];
            const float dir = std::sqrt(1.0f - a_prev - sigma * sigma), sp = std::sqrt(a_prev);
            std::vector<float> noise;
            if (sigma != 0.0f) {
                noise = cb.noise ? cb.noise(i) : philoxNormal(o.seed, static_cast<uint64_t>(i + 1), n);
                TS_CHECK(noise.size() == n, "the noise hook must return " + std::to_string(n) + " values");
            }
            std::vector<float> x0(n);
            for (size_t k = 0; k < n; ++k) {
                x0[k] = sa * x[k] - sb * v[k];
                const float eps = sa * v[k] + sb * x[k];
                x[k] = sp * x0[k] + dir * eps + (noise.empty() ? 0.0f : sigma * noise[k]);
            }
            r.x_steps.push_back(x);
            if (cb.on_step) {
                DicodeStepEvent ev;
                ev.step = i, ev.steps = o.steps, ev.timestep = ts, ev.pred_x0 = x0;
                if (o.preview) ev.preview = previewFrames(x0, t, h, w);
                cb.on_step(ev);
            }
            r.pred_x0_steps.push_back(std::move(x0));
        }
        r.final_latent = x;
        if (!o.decode_frames) return r;
        const Tensor px = vae_->decode(be, dicode::framesFromVideo(be, be.fromF32(x, shape)));
        const int64_t hh = px.dim(2), ww = px.dim(3);
        r.pixels = be.readF32(dicode::videoFromFrames(be, px, 1));
        r.frames = toFrames(r.pixels, t, hh, ww);
        return r;
    } catch (const Error& e) {
        return Status::error(std::string("DiCoDe decode: ") + e.what());
    }
}

} // namespace tessera
