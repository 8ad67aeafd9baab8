// DiCoDe text→video. Sections: request checks and seeds; the keyframe PCA strip; loading (constants,
// tokenizer); generate (keyframes streamed from the LLM, each clip decoded once its second keyframe
// exists).
#include "tessera/engine/dicode_pipeline.h"

#include "tessera/engine/checkpoint.h"
#include "tessera/engine/events.h"
#include "tessera/engine/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

namespace fs = std::filesystem;

namespace tessera {

// ---- request checks and seeds ------------------------------------------------------------------------

Status validateDicodeRequest(const DicodeRequest& r) {
    if (r.keyframes < 2 || r.keyframes > 1024)
        return Status::error("DiCoDe needs at least 2 keyframes (N keyframes give N-1 clips), got " +
                             std::to_string(r.keyframes));
    if (!(r.var_scale >= 0) || r.var_scale > 1e4) return Status::error("var_scale must be from 0 to 1e4");
    if (!std::isfinite(r.llm_cfg) || r.llm_cfg < 0 || r.llm_cfg > 1e4)
        return Status::error("the LLM guidance scale must be from 0 to 1e4");
    if (r.ddim_steps < 1 || r.ddim_steps > 1000)
        return Status::error("DDIM steps must be from 1 to 1000, got " + std::to_string(r.ddim_steps));
    if (!(r.eta >= 0) || r.eta > 10) return Status::error("eta must be from 0 to 10");
    if (!std::isfinite(r.cfg) || r.cfg < 0 || r.cfg > 1e4)
        return Status::error("the decoder guidance scale must be from 0 to 1e4");
    if (!(r.rescale >= 0) || r.rescale > 1) return Status::error("guidance rescale must be from 0 to 1");
    if (r.fs < 0 || r.fs > 1000) return Status::error("fs (frame stride) must be from 0 to 1000");
    return Status();
}

uint64_t dicodeClipSeed(uint64_t seed, int64_t clip) {
    // splitmix64 of (seed, clip): clips get unrelated keys, and the key differs from the LLM's.
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(clip + 1) + 0xD1C0DEull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// ---- the keyframe PCA strip --------------------------------------------------------------------------

std::vector<uint8_t> dicodePcaStrip(const std::vector<float>& tokens, int64_t n, int64_t d) {
    std::vector<uint8_t> rgb(static_cast<size_t>(n) * 3, 128);
    if (n < 2 || d < 1 || static_cast<int64_t>(tokens.size()) < n * d) return rgb;
    // Centre the tokens; with n << d the n×n Gram matrix has the same non-zero spectrum as the d×d
    // covariance, and its eigenvectors scaled by sqrt(λ) are the principal-component scores.
    std::vector<double> x(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < d; ++i) {
        double mean = 0;
        for (int64_t t = 0; t < n; ++t) mean += tokens[static_cast<size_t>(t * d + i)];
        mean /= static_cast<double>(n);
        for (int64_t t = 0; t < n; ++t)
            x[static_cast<size_t>(t * d + i)] = tokens[static_cast<size_t>(t * d + i)] - mean;
    }
    std::vector<double> g(static_cast<size_t>(n * n), 0.0);
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = a; b < n; ++b) {
            double s = 0;
            for (int64_t i = 0; i < d; ++i)
                s += x[static_cast<size_t>(a * d + i)] * x[static_cast<size_t>(b * d + i)];
            g[static_cast<size_t>(a * n + b)] = g[static_cast<size_t>(b * n + a)] = s;
        }
    double first = 0; // components below 1e-9 of the first are rounding left over by the deflation
    for (int c = 0; c < 3 && c < n; ++c) {
        std::vector<double> v(static_cast<size_t>(n));
        for (int64_t t = 0; t < n; ++t)
            v[static_cast<size_t>(t)] = 1.0 + 0.37 * static_cast<double>(t % 7) + 0.11 * c;
        double lambda = 0;
        for (int it = 0; it < 200; ++it) {
            std::vector<double> w(static_cast<size_t>(n), 0.0);
            for (int64_t a = 0; a < n; ++a)
                for (int64_t b = 0; b < n; ++b)
                    w[static_cast<size_t>(a)] +=
                        g[static_cast<size_t>(a * n + b)] * v[static_cast<size_t>(b)];
            double norm = 0;
            for (double e : w) norm += e * e;
            norm = std::sqrt(norm);
            if (norm < 1e-30) break;
            for (int64_t a = 0; a < n; ++a) v[static_cast<size_t>(a)] = w[static_cast<size_t>(a)] / norm;
            lambda = norm;
        }
        if (lambda < 1e-30 || (c > 0 && lambda < 1e-9 * first)) break;
        if (c == 0) first = lambda;
        // Deflate so the next pass finds the next component.
        for (int64_t a = 0; a < n; ++a)
            for (int64_t b = 0; b < n; ++b)
                g[static_cast<size_t>(a * n + b)] -=
                    lambda * v[static_cast<size_t>(a)] * v[static_cast<size_t>(b)];
        double lo = v[0], hi = v[0];
        for (double e : v) lo = std::min(lo, e), hi = std::max(hi, e);
        for (int64_t t = 0; t < n; ++t) {
            const double u = hi > lo ? (v[static_cast<size_t>(t)] - lo) / (hi - lo) : 0.5;
            rgb[static_cast<size_t>(t * 3 + c)] = static_cast<uint8_t>(std::lround(u * 255.0));
        }
    }
    return rgb;
}

// ---- loading -----------------------------------------------------------------------------------------

struct DicodePipeline::Impl {
    Backend* backend = nullptr;
    std::unique_ptr<DicodeClipDecoder> decoder;
    std::optional<Tokenizer> tokenizer;
    std::vector<float> text_context, uc_tokens;
};

DicodePipeline::~DicodePipeline() = default;

bool DicodePipeline::hasTokenizer() const {
    return impl_->tokenizer.has_value();
}

int64_t DicodePipeline::maxKeyframes() const {
    return llm_->config().maxKeyframes(llm_->backboneConfig().max_positions);
}

bool DicodePipeline::isDicodeFolder(const std::string& dir) {
    std::ifstream in(fs::path(dir) / "config.json");
    if (!in) return false;
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    return j.contains("tokenizer_model") ||
           (j.contains("llm") && j["llm"].is_object() && j["llm"].contains("agent"));
}

namespace {

// A [rows, D] constant (a leading 1 allowed) from the constants file, as floats.
Expected<std::vector<float>> readConstant(const SafetensorsFile& file, const std::string& name, int64_t rows,
                                          int64_t width) {
    const std::string where = file.path() + ": tensor '" + name + "'";
    const TensorInfo* t = file.find(name);
    if (!t) return Status::error(file.path() + " has no tensor '" + name + "'");
    Shape s = t->shape;
    if (s.size() == 3 && s[0] == 1) s.erase(s.begin());
    if (s.size() != 2 || s[0] != rows || s[1] != width)
        return Status::error(where + " should be [" + std::to_string(rows) + ", " + std::to_string(width) +
                             "] (or with a leading 1)");
    if (t->dtype != DType::F32) return Status::error(where + " must be F32");
    std::vector<float> out(static_cast<size_t>(rows * width));
    std::memcpy(out.data(), file.data(*t), out.size() * sizeof(float));
    for (float v : out)
        if (!std::isfinite(v)) return Status::error(where + " holds a non-finite value");
    return out;
}

double nowMs() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace

Expected<std::unique_ptr<DicodePipeline>> DicodePipeline::load(const std::string& dir, Backend& backend,
                                                               std::unique_ptr<DicodeClipDecoder> decoder) {
    if (!decoder) return Status::error(dir + ": no DiCoDe decoder given");
    auto llm = DicodeLlm::load(dir, backend);
    if (!llm) return llm.status();
    std::unique_ptr<DicodePipeline> p(new DicodePipeline());
    p->impl_ = std::make_unique<Impl>();
    p->impl_->backend = &backend;
    const int64_t n = (*llm)->config().num_img_tokens;
    const int64_t width = decoder->contextDim();
    const fs::path constants = fs::path(dir) / kDicodeConstantsFile;
    if (!fs::exists(constants))
        return Status::error(
            dir + " has no " + kDicodeConstantsFile +
            ": DiCoDe needs 'text_context' [77, D] (the OpenCLIP text tower's output for \"\") and "
            "'uc_img_tokens' [n, D] (the image tokens of an all-zero image) stored there");
    auto file = SafetensorsFile::open(constants.string());
    if (!file) return file.status();
    auto text = readConstant(**file, "text_context", 77, width);
    if (!text) return text.status();
    auto uc = readConstant(**file, "uc_img_tokens", n, width);
    if (!uc) return uc.status();
    p->impl_->text_context = std::move(*text);
    p->impl_->uc_tokens = std::move(*uc);
    const fs::path tok = fs::path(dir) / "tokenizer.json";
    if (fs::exists(tok)) {
        auto t = Tokenizer::load(tok.string());
        if (!t) return t.status();
        p->impl_->tokenizer = std::move(*t);
    }
    p->impl_->decoder = std::move(decoder);
    p->llm_ = std::move(*llm);
    return p;
}

// ---- generate ----------------------------------------------------------------------------------------

namespace {

std::string strip(const std::string& s) {
    const char* ws = " \t\n\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

void emitPreview(JobContext& ctx, int width, int height, const std::vector<uint8_t>& rgb, int done,
                 bool final) {
    PreviewReady pr;
    pr.job_id = ctx.id();
    pr.tokens_done = done;
    pr.width = width;
    pr.height = height;
    pr.rgb = std::make_shared<const std::vector<uint8_t>>(rgb);
    pr.final = final;
    pr.approximate = !final; // strips and x0 maps are not the decoded frames
    ctx.emit(pr);
}

// Frames [T][h][w][3] side by side: [h][T·w][3].
std::vector<uint8_t> sideBySide(const DicodeFrames& f) {
    std::vector<uint8_t> out(f.rgb.size());
    const size_t row = static_cast<size_t>(f.width * 3);
    for (int64_t t = 0; t < f.frames; ++t)
        for (int64_t y = 0; y < f.height; ++y)
            std::memcpy(out.data() + static_cast<size_t>(y * f.frames * f.width * 3 + t * f.width * 3),
                        f.rgb.data() + static_cast<size_t>((t * f.height + y)) * row, row);
    return out;
}

} // namespace

Expected<DicodeResult>
DicodePipeline::generate(const DicodeRequest& req, JobContext& ctx,
                         const std::function<void(const DicodeProgress&)>& on_progress) {
    Status valid = validateDicodeRequest(req);
    if (!valid.ok()) return valid;
    const int64_t limit = maxKeyframes();
    if (req.keyframes > limit)
        return Status::error("this checkpoint makes at most " + std::to_string(limit) +
                             " keyframes; asked for " + std::to_string(req.keyframes));
    std::vector<int64_t> text;
    if (req.prompt_ids.empty()) {
        if (!impl_->tokenizer)
            return Status::error("the checkpoint has no tokenizer.json: give the prompt as token ids");
        for (int32_t id : impl_->tokenizer->encode(strip(req.prompt), false)) text.push_back(id);
    } else {
        const int64_t vocab = llm_->backboneConfig().vocab;
        for (int32_t id : req.prompt_ids) {
            if (id < 0 || id >= vocab)
                return Status::error("prompt token " + std::to_string(id) + " is outside the vocabulary of " +
                                     std::to_string(vocab));
            text.push_back(id);
        }
    }

    const DicodeLlmConfig& lc = llm_->config();
    const int64_t n = lc.num_img_tokens, d = lc.token_dim;
    const int64_t clips = req.keyframes - 1;
    DicodeResult res;
    DicodeProgress progress;
    progress.keyframes = req.keyframes;
    progress.clips = clips;
    progress.steps = req.ddim_steps;
    Status failure;
    std::vector<float> previous; // the last keyframe's tokens
    const double t0 = nowMs();

    auto report = [&](DicodeProgress::Stage stage) {
        progress.stage = stage;
        if (on_progress) on_progress(progress);
    };

    // Decodes clip c from keyframes c and c + 1; false stops the LLM (cancel or failure).
    auto decodeClip = [&](int64_t c, const std::vector<float>& a, const std::vector<float>& b) -> bool {
        const double start = nowMs();
        DicodeDecodeOptions o;
        o.steps = req.ddim_steps;
        o.eta = req.eta;
        o.cfg = req.cfg;
        o.rescale = req.rescale;
        o.fs = req.fs;
        o.seed = dicodeClipSeed(req.seed, c);
        o.preview = req.previews;
        DicodeCallbacks cb;
        cb.cancel = ctx.cancelFlag();
        progress.clip = c + 1;
        cb.on_step = [&](const DicodeStepEvent& e) {
            const double ps = nowMs();
            progress.step = e.step + 1;
            progress.preview_rgb.clear();
            progress.preview_width = progress.preview_height = 0;
            if (req.previews && e.preview.frames > 0) {
                progress.preview_rgb = sideBySide(e.preview);
                progress.preview_width = static_cast<int>(e.preview.frames * e.preview.width);
                progress.preview_height = static_cast<int>(e.preview.height);
                emitPreview(ctx, progress.preview_width, progress.preview_height, progress.preview_rgb,
                            static_cast<int>(c * req.ddim_steps + e.step + 1), false);
            }
            report(DicodeProgress::Stage::Step);
            res.preview_ms += nowMs() - ps;
        };
        auto frames = impl_->decoder->decodeClip(a, b, impl_->text_context, impl_->uc_tokens, o, cb);
        res.decode_ms += nowMs() - start;
        if (!frames) {
            if (ctx.cancelled()) {
                res.cancelled = true;
            } else {
                failure = Status::error("DiCoDe clip " + std::to_string(c + 1) + "/" + std::to_string(clips) +
                                        ": " + frames.error());
            }
            return false;
        }
        DicodeFrames& v = res.video;
        if (v.frames == 0) {
            v.height = frames->height;
            v.width = frames->width;
        } else if (frames->height != v.height || frames->width != v.width) {
            failure = Status::error("DiCoDe clips came back with different sizes");
            return false;
        }
        v.frames += frames->frames;
        v.rgb.insert(v.rgb.end(), frames->rgb.begin(), frames->rgb.end());
        res.clips = c + 1;
        progress.preview_rgb.clear();
        progress.preview_width = progress.preview_height = 0;
        progress.clip_frames = &*frames;
        report(DicodeProgress::Stage::Clip);
        progress.clip_frames = nullptr;
        return !ctx.cancelled();
    };

    DicodeGenerateOptions go;
    go.keyframes = req.keyframes;
    go.do_sample = req.do_sample;
    go.var_scale = req.var_scale;
    go.cfg_scale = req.llm_cfg;
    go.seed = req.seed;
    go.cancelled = [&] { return ctx.cancelled(); };
    go.on_keyframe = [&](int64_t k, const std::vector<float>& tokens) -> bool {
        res.tokens.insert(res.tokens.end(), tokens.begin(), tokens.end());
        res.keyframes = k + 1;
        progress.keyframe = k + 1;
        progress.clip = 0;
        progress.step = 0;
        const double ps = nowMs();
        progress.preview_rgb.clear();
        progress.preview_width = progress.preview_height = 0;
        if (req.previews) {
            progress.preview_rgb = dicodePcaStrip(tokens, n, d);
            progress.preview_width = static_cast<int>(n);
            progress.preview_height = 1;
            emitPreview(ctx, progress.preview_width, 1, progress.preview_rgb, static_cast<int>((k + 1) * n),
                        false);
        }
        report(DicodeProgress::Stage::Keyframe);
        res.preview_ms += nowMs() - ps;
        bool go_on = true;
        if (k >= 1) go_on = decodeClip(k - 1, previous, tokens);
        previous = tokens;
        return go_on && !ctx.cancelled();
    };
    auto generated = llm_->generate(text, go);
    if (!failure.ok()) return failure;
    if (!generated) return generated.status();
    if (generated->cancelled || ctx.cancelled() || res.clips < clips) res.cancelled = true;
    res.llm_ms = nowMs() - t0 - res.decode_ms;
    if (req.previews && !res.video.rgb.empty() && !res.cancelled) {
        const double ps = nowMs();
        const size_t frame_bytes = static_cast<size_t>(res.video.height * res.video.width * 3);
        std::vector<uint8_t> rgb(res.video.rgb.end() - static_cast<std::ptrdiff_t>(frame_bytes),
                                 res.video.rgb.end());
        emitPreview(ctx, static_cast<int>(res.video.width), static_cast<int>(res.video.height), rgb,
                    static_cast<int>(req.keyframes * n), true);
        res.preview_ms += nowMs() - ps;
    }
    return res;
}

} // namespace tessera
