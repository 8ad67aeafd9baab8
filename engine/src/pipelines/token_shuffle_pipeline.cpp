// Token-Shuffle text→image on the generation core: WindowOrder(s) + one LM step per window, CFG with a
// per-step schedule, previews of the partial grid, final decode through the tiled VQ decoder.
//
// Sections: loading · prompt · estimate · decode · the step model · generation.
#include "models/token_shuffle.h"
#include "pipelines/code_colours.h"
#include "pipelines/codebook.h"
#include "tessera/engine/token_shuffle.h"
#include "tessera/engine/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera {

using models::TokenShuffleModel;

struct TokenShufflePipeline::Impl {
    Checkpoint ckpt;
    Tokenizer tokenizer;
    Backend* backend = nullptr;
    std::unique_ptr<TokenShuffleModel> model;
    int32_t pad_id = -1;
    double calibration_ms = 0; // a 4×4-token decode, timed at load: the first preview's predicted cost
    // Fast previews: RGB per code (codebook × 3) under a linear code→colour map fitted on that decode.
    std::vector<uint8_t> code_rgb;
    std::shared_ptr<const LatentNeighbours> neighbours; // LANTERN's, computed on first use
};

TokenShufflePipeline::~TokenShufflePipeline() = default;

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kPreviewBudget = 0.03; // share of generation time previews may take
constexpr int64_t kCalibrationGrid = 4;
// Per backend thread, what the estimate cannot see op by op: the BLAS library's packing buffers (one
// per thread) and the slack of malloc's heaps. A decode left 8.9 MB more resident than before it,
// with 2 threads, once its blocks were returned.
constexpr size_t kRuntimePerThreadBytes = size_t{16} << 20;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace

// ---- loading -------------------------------------------------------------------------------------------

bool TokenShufflePipeline::isTokenShuffleFolder(const std::string& dir) {
    auto cfg = ModelConfig::load((fs::path(dir) / "config.json").string());
    return cfg.ok() && models::isTokenShuffleConfig(*cfg);
}

Expected<std::unique_ptr<TokenShufflePipeline>> TokenShufflePipeline::load(const std::string& dir,
                                                                           Backend& backend) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    if (!models::isTokenShuffleConfig(ckpt->config()))
        return Status::error(
            dir + " is not a Token-Shuffle checkpoint (config.json has no \"token_shuffle\" object)");
    auto tok = Tokenizer::load(dir);
    if (!tok) return Status::error(dir + ": " + tok.error());
    auto model = TokenShuffleModel::load(*ckpt, backend, /*with_vq=*/true);
    if (!model) return model.status();

    std::unique_ptr<TokenShufflePipeline> p(new TokenShufflePipeline());
    p->impl_ = std::make_unique<Impl>();
    Impl& im = *p->impl_;
    im.backend = &backend;
    // The unconditional rows' pad: tokenizer_config's pad_token, else config.json's pad_token_id.
    const int64_t config_pad = (*model)->lm().config().pad_id;
    im.pad_id = tok->padId() >= 0 ? tok->padId() : static_cast<int32_t>(config_pad);
    if (im.pad_id < 0)
        return Status::error(
            dir + ": no pad token (no pad_token in tokenizer_config.json, no pad_token_id in config.json); "
                  "classifier-free guidance needs one for its unconditional rows");
    const auto& s = (*model)->settings();
    const janus::VqModel* vq = (*model)->vq();
    TokenShuffleInfo& info = p->info_;
    info.dir = dir;
    info.window = s.window;
    info.grid = s.grid;
    info.codebook = s.image_vocab_size;
    info.downsample = vq->downsample();
    info.image_size = s.grid * info.downsample;
    info.weight_bytes = (*model)->weightBytes();
    info.vq_weight_bytes = (*model)->vqBytes();
    info.context = (*model)->lm().config().max_positions;
    im.ckpt = std::move(*ckpt);
    im.tokenizer = std::move(*tok);
    im.model = std::move(*model);
    // Times one small decode so that the first preview's cost can be predicted.
    std::vector<int32_t> calib(static_cast<size_t>(kCalibrationGrid * kCalibrationGrid));
    for (size_t i = 0; i < calib.size(); ++i)
        calib[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(info.codebook));
    const auto t0 = Clock::now();
    auto img = p->decode(calib, kCalibrationGrid);
    if (!img) return img.status();
    im.calibration_ms = msSince(t0);
    if (Status st = p->fitColourMap(*img, calib); !st.ok()) return st;
    return p;
}

// Each calibration cell's mean colour (its central half, away from the neighbours' bleed) regressed on its
// code vector; every code's colour is then that linear map of its vector.
Status TokenShufflePipeline::fitColourMap(const ImageRgb8& img, const std::vector<int32_t>& cells) {
    Backend& be = *impl_->backend;
    try {
        const int64_t codebook = info_.codebook, cg = kCalibrationGrid;
        const std::vector<float> book = pipelines::codebookRows(
            be, codebook, [&](const Tensor& ids) { return impl_->model->vq()->codesFor(be, ids, 1, codebook); });
        pipelines::CodeColourFit fit(book, codebook);
        const int64_t cell = img.height / cg;
        for (int64_t i = 0; i < cg * cg; ++i) {
            const int64_t y0 = (i / cg) * cell + cell / 4, x0 = (i % cg) * cell + cell / 4,
                          half = std::max<int64_t>(1, cell / 2);
            double rgb[3];
            for (int c = 0; c < 3; ++c) {
                double sum = 0;
                for (int64_t yy = y0; yy < y0 + half; ++yy)
                    for (int64_t xx = x0; xx < x0 + half; ++xx)
                        sum += img.rgb[static_cast<size_t>((yy * img.width + xx) * 3 + c)];
                rgb[c] = sum / static_cast<double>(half * half);
            }
            fit.add(cells[static_cast<size_t>(i)], rgb);
        }
        // Measured on the decoded PNG: already bytes.
        impl_->code_rgb = fit.colours([](double v) { return v; });
    } catch (const std::exception& e) {
        return Status::error(std::string("fitting the preview colour map failed: ") + e.what());
    }
    return {};
}

ImageRgb8 TokenShufflePipeline::mosaic(const std::vector<int32_t>& raster, int64_t g) const {
    const int64_t cell = info_.downsample;
    ImageRgb8 img;
    img.width = img.height = static_cast<int>(g * cell);
    img.rgb.assign(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3, 128);
    for (int64_t i = 0; i < g * g && i < static_cast<int64_t>(raster.size()); ++i) {
        const int32_t t = raster[static_cast<size_t>(i)];
        if (t < 0 || t >= info_.codebook) continue;
        const uint8_t* c = &impl_->code_rgb[static_cast<size_t>(t) * 3];
        for (int64_t y = (i / g) * cell; y < (i / g + 1) * cell; ++y)
            for (int64_t x = (i % g) * cell; x < (i % g + 1) * cell; ++x)
                std::copy(c, c + 3, img.rgb.begin() + (y * img.width + x) * 3);
    }
    return img;
}

// ---- prompt --------------------------------------------------------------------------------------------

namespace {

// `[BOS] text… <start_of_image>`: BOS as the tokenizer's settings add it.
Expected<std::vector<int64_t>> promptIds(const Tokenizer& tok, const std::string& prompt,
                                         int64_t image_start) {
    auto ids = tok.tryEncode(prompt, SpecialTokens::kTransformers);
    if (!ids) return ids.status();
    std::vector<int64_t> out(ids->begin(), ids->end());
    out.push_back(image_start);
    return out;
}

Status checkRequest(const TokenShuffleRequest& r, int64_t window) {
    if (r.images < 1 || r.images > 64) return Status::error("images must be between 1 and 64");
    if (r.grid < 0 || r.grid > 1024 || (r.grid > 0 && r.grid % window != 0))
        return Status::error("the grid must be a multiple of the window (" + std::to_string(window) +
                             ") and at most 1024 tokens");
    if (!(r.sampler.temperature >= 0) || !(r.sampler.top_p > 0 && r.sampler.top_p <= 1) ||
        r.sampler.top_k < 0 || !(r.sampler.min_p >= 0 && r.sampler.min_p < 1))
        return Status::error(
            "sampler settings out of range (temperature >= 0, 0 < top-p <= 1, top-k >= 0, 0 <= min-p < 1)");
    if (!std::isfinite(r.sampler.cfg) || !std::isfinite(r.sampler.temperature))
        return Status::error("the guidance weight and temperature must be finite numbers");
    if (r.vq_tile < 1 || r.vq_halo < 0)
        return Status::error("VQ tiles must be at least 1 token with a halo >= 0");
    return {};
}

} // namespace

// ---- estimate ------------------------------------------------------------------------------------------

// Everything a run holds at its peak: the weights, the KV cache of 2 rows per image over prompt + steps
// positions, one VQ decode window (TokenShuffleModel::vqWindowBoundBytes), the decoded images, and a
// per-thread allowance for the runtime.
Expected<TokenShuffleEstimate> TokenShufflePipeline::estimate(const TokenShuffleRequest& r,
                                                              double bandwidth_gbs) {
    if (Status s = checkRequest(r, info_.window); !s.ok()) return s;
    auto ids = promptIds(impl_->tokenizer, r.prompt, impl_->model->settings().image_start_id);
    if (!ids) return ids.status();
    const TransformerConfig& c = impl_->model->lm().config();
    TokenShuffleEstimate e;
    e.window = info_.window;
    e.grid = r.grid > 0 ? r.grid : info_.grid;
    e.image_size = e.grid * info_.downsample;
    e.steps = (e.grid / e.window) * (e.grid / e.window);
    e.prompt_tokens = static_cast<int64_t>(ids->size());
    e.weight_bytes = info_.weight_bytes;
    e.vq_weight_bytes = info_.vq_weight_bytes;
    const size_t kv_elem = dtypeSize(impl_->backend->kvCacheDtype());
    e.kv_cache_bytes = static_cast<size_t>(2 * r.images) * static_cast<size_t>(c.layers) * 2 *
                       static_cast<size_t>(c.kv_heads) * static_cast<size_t>(e.prompt_tokens + e.steps) *
                       static_cast<size_t>(c.head_dim) * kv_elem;
    const int64_t tokens = e.grid <= r.vq_tile ? e.grid : std::min(e.grid, r.vq_tile + 2 * r.vq_halo);
    e.vq_window_bytes = impl_->model->vqWindowBoundBytes(tokens, impl_->backend->info().threads);
    // One image being decoded (tiled: the f32 host image and its blend weights; whole: the f32 tensor
    // and its host copy) and every image's RGB8 result and the copy its final preview event carries.
    const size_t pixels = static_cast<size_t>(e.image_size * e.image_size);
    const size_t decoding = e.grid > r.vq_tile ? (3 + 1) * 4 : 2 * 3 * 4;
    e.output_bytes = pixels * (decoding + static_cast<size_t>(r.images) * 2 * 3);
    e.runtime_bytes =
        static_cast<size_t>(std::max(1, impl_->backend->info().threads)) * kRuntimePerThreadBytes;
    e.peak_bytes_bound = e.weight_bytes + e.vq_weight_bytes + e.kv_cache_bytes + e.vq_window_bytes +
                         e.output_bytes + e.runtime_bytes;
    e.bandwidth_gbs = bandwidth_gbs;
    e.step_floor_ms =
        bandwidth_gbs > 0 ? static_cast<double>(e.weight_bytes) / (bandwidth_gbs * 1e9) * 1e3 : 0;
    e.decode_floor_ms = e.step_floor_ms * static_cast<double>(e.steps);
    if (e.prompt_tokens + e.steps > info_.context)
        return Status::error("prompt is " + std::to_string(e.prompt_tokens) + " tokens; with " +
                             std::to_string(e.steps) + " windows that exceeds the model's context of " +
                             std::to_string(info_.context) + " — shorten the prompt");
    return e;
}

// ---- decode --------------------------------------------------------------------------------------------

Expected<ImageRgb8> TokenShufflePipeline::decode(const std::vector<int32_t>& raster, int64_t g, int64_t tile,
                                                 int64_t halo) {
    Backend& be = *impl_->backend;
    const janus::VqModel& vq = *impl_->model->vq();
    const int64_t n = g * g;
    if (g < 1 || static_cast<int64_t>(raster.size()) != n)
        return Status::error("the token grid is not " + std::to_string(g) + "²");
    for (int32_t t : raster)
        if (t >= info_.codebook) return Status::error("token " + std::to_string(t) + " outside the codebook");
    try {
        std::vector<int64_t> ids(static_cast<size_t>(n));
        bool partial = false;
        for (int64_t i = 0; i < n; ++i) {
            ids[static_cast<size_t>(i)] = std::max<int32_t>(0, raster[static_cast<size_t>(i)]);
            partial = partial || raster[static_cast<size_t>(i)] < 0;
        }
        Tensor codes = vq.codesFor(be, be.fromI64(ids, {1, n}), g, g);
        if (partial) {
            // Unsampled cells get a zero code vector (no colour bleeding into their neighbours), then grey.
            const int64_t dim = codes.dim(1);
            std::vector<float> mask(static_cast<size_t>(dim * n), 0.0f);
            for (int64_t c = 0; c < dim; ++c)
                for (int64_t i = 0; i < n; ++i)
                    if (raster[static_cast<size_t>(i)] >= 0) mask[static_cast<size_t>(c * n + i)] = 1.0f;
            codes = be.mul(codes, be.fromF32(mask, {dim, g, g}));
        }
        // Above one tile the image is blended on the host window by window and never becomes a backend
        // tensor (VqModel::decodeCodesTiledToHost): the estimate's output_bytes counts that path.
        Shape shape;
        std::vector<float> v;
        if (g > tile) {
            v = vq.decodeCodesTiledToHost(be, codes, janus::VqTiling{tile, halo}, shape);
        } else {
            const Tensor px = vq.decodeCodes(be, codes);
            shape = px.shape();
            v = be.readF32(px);
        }
        codes = Tensor();
        const int64_t h = shape[2], w = shape[3];
        ImageRgb8 img;
        img.width = static_cast<int>(w);
        img.height = static_cast<int>(h);
        img.rgb.resize(static_cast<size_t>(h * w * 3));
        // clip((x + 1) / 2 · 255, 0, 255), truncated, as the reference scripts map pixels.
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < h * w; ++i)
                img.rgb[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(
                    std::clamp((v[static_cast<size_t>(c * h * w + i)] + 1.0f) / 2.0f * 255.0f, 0.0f, 255.0f));
        const int64_t cell = h / g;
        for (int64_t i = 0; i < n; ++i) {
            if (raster[static_cast<size_t>(i)] >= 0) continue;
            for (int64_t y = (i / g) * cell; y < (i / g + 1) * cell; ++y)
                std::fill(img.rgb.begin() + (y * w + (i % g) * cell) * 3,
                          img.rgb.begin() + (y * w + (i % g + 1) * cell) * 3, 128);
        }
        return img;
    } catch (const std::bad_alloc&) {
        return Status::error("out of memory while decoding a " + std::to_string(g) + "² token grid");
    } catch (const std::exception& e) {
        return Status::error(std::string("decoding failed: ") + e.what());
    }
}

// The codebook rows as the VQ decoder uses them; nearestLatentNeighbours, once per loaded model.
Expected<std::shared_ptr<const LatentNeighbours>> TokenShufflePipeline::latentNeighbours(int k) {
    const int64_t codebook = info_.codebook;
    Backend& be = *impl_->backend;
    return pipelines::latentNeighboursOnce(be, codebook, k, impl_->neighbours, [&](const Tensor& ids) {
        return impl_->model->vq()->codesFor(be, ids, 1, codebook);
    });
}

// ---- the step model ------------------------------------------------------------------------------------

namespace {

// One Token-Shuffle step: the window the previous step committed (both CFG rows of each image get it)
// through the input shuffle and one LM position, then the unshuffle: [rows, s², V]. Step 0 uses the
// prefill's last state (<start_of_image>). Speculative decoding feeds a run of draft windows at once
// (one LM position each) and crops the KV cache back.
class TokenShuffleStep final : public StepModel {
public:
    TokenShuffleStep(TokenShuffleModel& model, KvCache& cache, Tensor last, int64_t images)
        : model_(model), cache_(cache), prefill_last_(last), last_(std::move(last)), images_(images),
          prompt_len_(cache.length()) {}

    Tensor stepLogits(const std::vector<int64_t>&, const DecodeOrder& order) override {
        if (order.step() > 0) {
            const auto& windows = static_cast<const WindowOrder&>(order);
            const std::vector<int64_t> cells = windows.windowCells(order.step() - 1);
            const int64_t ss = static_cast<int64_t>(cells.size());
            codes_.resize(static_cast<size_t>(2 * images_ * ss));
            for (int64_t im = 0; im < images_; ++im)
                for (int64_t j = 0; j < ss; ++j) {
                    const int32_t c = order.grid(im)[static_cast<size_t>(cells[static_cast<size_t>(j)])];
                    codes_[static_cast<size_t>((2 * im) * ss + j)] =
                        codes_[static_cast<size_t>((2 * im + 1) * ss + j)] = c;
                }
            last_ = model_.lm().forward(model_.shuffleIn(codes_, 2 * images_), cache_);
        }
        return model_.unshuffleLogits(last_);
    }

    bool supportsWindows() const override { return true; }

    // Units are windows: `first` and the cache count windows, drafts[image] holds m · s² codes.
    Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts,
                        const DecodeOrder& order) override {
        const auto& windows = static_cast<const WindowOrder&>(order);
        const int64_t ss = windows.window() * windows.window(), held = cache_.length() - prompt_len_;
        if (first < 0 || held != std::max<int64_t>(0, first - 1) ||
            static_cast<int64_t>(drafts.size()) != images_)
            throw Error("Token-Shuffle window at window " + std::to_string(first) + ": the KV cache holds " +
                        std::to_string(held) + " windows, or the drafts are not one list per image");
        const auto n = static_cast<int64_t>(drafts[0].size());
        if (n % ss != 0) throw Error("Token-Shuffle window: drafts are not whole windows");
        const int64_t m = n / ss, lead = first > 0 ? 1 : 0, t = lead + m;
        if (t == 0) return model_.unshuffleLogits(prefill_last_);
        const std::vector<int64_t> before =
            first > 0 ? windows.windowCells(first - 1) : std::vector<int64_t>{};
        codes_.resize(static_cast<size_t>(2 * images_ * t * ss));
        for (int64_t im = 0; im < images_; ++im) {
            const auto& dr = drafts[static_cast<size_t>(im)];
            if (static_cast<int64_t>(dr.size()) != n)
                throw Error("Token-Shuffle window: draft lists differ in length");
            for (int64_t j = 0; j < t * ss; ++j) {
                const int32_t c = j < lead * ss
                                      ? order.grid(im)[static_cast<size_t>(before[static_cast<size_t>(j)])]
                                      : dr[static_cast<size_t>(j - lead * ss)];
                codes_[static_cast<size_t>((2 * im) * t * ss + j)] =
                    codes_[static_cast<size_t>((2 * im + 1) * t * ss + j)] = c;
            }
        }
        Tensor hidden = model_.lm().forward(model_.shuffleIn(codes_, 2 * images_), cache_);
        // Window 0 is predicted from the prompt's last state.
        if (first == 0) hidden = model_.backend().concat(prefill_last_, hidden, 1);
        return model_.unshuffleLogits(hidden); // [rows, (m + 1) · s², V]
    }

    void cropTo(int64_t windows) override { cache_.crop(prompt_len_ + windows); }

    size_t kvCacheBytes() const override { return cache_.bytes(); }
    size_t modelBytes() const override { return model_.weightBytes(); }

private:
    TokenShuffleModel& model_;
    KvCache& cache_;
    Tensor prefill_last_, last_;
    int64_t images_;
    int64_t prompt_len_;
    std::vector<int64_t> codes_;
};

} // namespace

// ---- generation ----------------------------------------------------------------------------------------

Expected<TokenShuffleResult> TokenShufflePipeline::generate(const TokenShuffleRequest& req, JobContext& ctx) {
    Backend& be = *impl_->backend;
    TokenShuffleModel& model = *impl_->model;
    auto est = estimate(req);
    if (!est) return est.status();
    const int64_t images = req.images, rows = 2 * images, g = est->grid, s = est->window, n_tokens = g * g;
    if (static_cast<int64_t>(req.forced.size()) > images)
        return Status::error("forced tokens for more images than the batch");
    for (const auto& f : req.forced) {
        if (static_cast<int64_t>(f.size()) > n_tokens)
            return Status::error("more forced tokens than the image grid holds");
        for (int32_t t : f)
            if (t < 0 || t >= info_.codebook)
                return Status::error("forced token " + std::to_string(t) + " outside the codebook");
    }
    auto ids = promptIds(impl_->tokenizer, req.prompt, model.settings().image_start_id);
    if (!ids) return ids.status();
    const int64_t len = static_cast<int64_t>(ids->size());
    // Interleaved CFG rows: 2k conditional, 2k+1 unconditional (all but the first and last token padded).
    std::vector<int64_t> batch(static_cast<size_t>(rows * len));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < len; ++i)
            batch[static_cast<size_t>(r * len + i)] =
                (r % 2 == 1 && i > 0 && i < len - 1) ? impl_->pad_id : (*ids)[static_cast<size_t>(i)];

    TokenShuffleResult result;
    result.grid = g;
    result.window = s;
    const int64_t windows_per_row = g / s;
    const int64_t preview_every = req.preview_every > 0 ? req.preview_every : windows_per_row;
    double preview_ms = 0, last_full_ms = 0;
    try {
        KvCache cache = model.lm().newCache(rows, len + est->steps);
        Tensor hidden = model.lm().forward(model.lm().embed(be.fromI64(batch, {rows, len})), cache);
        TokenShuffleStep step_model(model, cache, be.slice(hidden, 1, len - 1, len), images);
        WindowOrder order(images, g, g, s);

        GenerationSettings gs;
        gs.sampling.seed = req.seed;
        gs.sampling.temperature = req.sampler.temperature;
        gs.sampling.top_k = req.sampler.top_k;
        gs.sampling.top_p = req.sampler.top_p;
        gs.sampling.min_p = req.sampler.min_p;
        gs.sampling.report_k = std::clamp(req.report_top_k, 0, 64);
        gs.cfg = req.sampler.cfg;
        gs.cfg_schedule = req.cfg_schedule;
        gs.branches = 2;
        gs.cond_branch = 0;
        gs.uncond_branch = 1;
        gs.forced = req.forced;
        gs.capture_guided_steps = std::max(0, req.capture_logits_steps);
        gs.decode = req.decode;
        if (req.decode.strategy == DecodeStrategy::Sjd && req.decode.lantern_k > 0) {
            auto nb = latentNeighbours(req.decode.lantern_k);
            if (!nb) return nb.status();
            gs.latent_neighbours = *nb;
        }
        GenerationLoop loop(be, order, step_model, gs, ctx);

        // On the cadence: a partial decode when its predicted cost (the last one's, or the load-time
        // calibration's scaled by cells) keeps previews within 3% of the generation time so far; otherwise
        // the colour mosaic (each sampled cell painted with its code's fitted colour, so s×s blocks fill in),
        // which also waits while the budget is spent.
        double last_mosaic_ms = 0;
        bool previewed = false;
        auto previews = [&](int64_t step) -> Status {
            if (!req.previews || step % preview_every != 0 || step >= est->steps) return Status();
            const double predicted = last_full_ms > 0
                                         ? last_full_ms
                                         : impl_->calibration_ms * static_cast<double>(n_tokens * images) /
                                               static_cast<double>(kCalibrationGrid * kCalibrationGrid);
            const double loop_ms = loop.elapsedMs() - preview_ms;
            const bool full = preview_ms + predicted <= kPreviewBudget * loop_ms;
            if (!full && previewed && preview_ms + last_mosaic_ms > kPreviewBudget * loop_ms) return Status();
            const auto t0 = Clock::now();
            for (int64_t im = 0; im < images; ++im) {
                ImageRgb8 img;
                if (full) {
                    auto d = decode(order.grid(im), g, req.vq_tile, req.vq_halo);
                    if (!d) return d.status();
                    img = std::move(*d);
                } else {
                    img = mosaic(order.grid(im), g);
                }
                PreviewReady pr;
                pr.job_id = ctx.id();
                pr.image = static_cast<int>(im);
                pr.tokens_done = static_cast<int>(order.known(im));
                pr.width = img.width;
                pr.height = img.height;
                pr.approximate = !full;
                pr.rgb = std::make_shared<const std::vector<uint8_t>>(std::move(img.rgb));
                ctx.emit(pr);
            }
            const double cost = msSince(t0);
            (full ? last_full_ms : last_mosaic_ms) = cost;
            ++(full ? result.previews_decoded : result.previews_approximate);
            preview_ms += cost;
            if (!previewed) loop.notePreview(loop.elapsedMs());
            previewed = true;
            return Status();
        };
        auto outcome = loop.run(previews);
        if (!outcome) return outcome.status();
        result.cancelled = outcome->cancelled;
        result.steps = outcome->steps;
        result.drafts_accepted = outcome->drafts_accepted;
        result.generate_ms = outcome->decode_ms;
        result.preview_ms = outcome->after_ms;
        result.guided_logits = std::move(outcome->guided_logits);
        for (int64_t im = 0; im < images; ++im) {
            const auto& grid = order.grid(im);
            result.grids.push_back(grid);
            std::vector<int32_t> decode_order;
            for (int64_t w = 0; w < order.step(); ++w)
                for (int64_t cell : order.windowCells(w))
                    decode_order.push_back(grid[static_cast<size_t>(cell)]);
            result.tokens.push_back(std::move(decode_order));
        }
        const auto t_final = Clock::now();
        for (int64_t im = 0; im < (req.decode_images ? images : 0); ++im) {
            auto img = decode(result.grids[static_cast<size_t>(im)], g, req.vq_tile, req.vq_halo);
            if (!img) return img.status();
            PreviewReady pr;
            pr.job_id = ctx.id();
            pr.image = static_cast<int>(im);
            pr.tokens_done = static_cast<int>(result.tokens[static_cast<size_t>(im)].size());
            pr.width = img->width;
            pr.height = img->height;
            pr.rgb = std::make_shared<const std::vector<uint8_t>>(img->rgb);
            pr.final = true;
            ctx.emit(pr);
            result.images.push_back(std::move(*img));
        }
        result.vq_decode_ms = msSince(t_final);
    } catch (const std::bad_alloc&) {
        return Status::error("generation ran out of memory");
    } catch (const Error& e) {
        return Status::error(std::string("generation failed: ") + e.what());
    }
    return result;
}

} // namespace tessera
