// Janus-Pro text→image, as the official method does it, with per-token events and live previews.
//
// Sections: loading · prompt and CFG rows · the decode loop · previews · final decode.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "models/janus_model.h"
#include "pipelines/code_colours.h"
#include "pipelines/codebook.h"
#include "tessera/engine/platform.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/sampler.h"
#include "tessera/engine/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tessera {

struct JanusPipeline::Impl {
    Checkpoint ckpt;
    Tokenizer tokenizer;
    Backend* backend = nullptr;
    int32_t pad_id = 0;
    // Fast previews: RGB per code (codebook × 3), fitted on first use; calibration cost and size.
    std::vector<uint8_t> code_rgb;
    double calibration_ms = 0;
    int64_t calibration_cells = 0;
    // LANTERN: each code's nearest codes in the VQ latent space, computed on first use.
    std::shared_ptr<const LatentNeighbours> neighbours;
};

JanusPipeline::~JanusPipeline() = default;

// ---- loading -----------------------------------------------------------------------------------------

Expected<std::unique_ptr<JanusPipeline>> JanusPipeline::load(const std::string& dir, Backend& backend) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    const std::string arch = ckpt->config().architecture();
    const std::string type = ckpt->config().modelType();
    if (arch.find("Janus") == std::string::npos && type.find("janus") == std::string::npos &&
        type != "multi_modality")
        return Status::error(dir + " is not a Janus checkpoint (architecture '" + arch + "', model_type '" + type + "')");
    if (Status fits = requireMemoryFor(ckpt->totalBytes(), dir); !fits.ok()) return fits;
    auto tok = Tokenizer::load(dir);
    if (!tok) return Status::error(dir + ": " + tok.error());
    // Generation never runs the understanding tower or the VQ encoder: they are not loaded.
    auto model = JanusModel::load(*ckpt, backend, /*generation_only=*/true);
    if (!model) return model.status();

    std::unique_ptr<JanusPipeline> p(new JanusPipeline());
    p->impl_ = std::make_unique<Impl>();
    p->impl_->ckpt = std::move(*ckpt);
    p->impl_->tokenizer = std::move(*tok);
    p->impl_->backend = &backend;
    auto pad = janusPadId(p->impl_->tokenizer, (*model)->lm().config().pad_id, dir);
    if (!pad) return pad.status();
    p->impl_->pad_id = *pad;
    const JanusConfig& jc = (*model)->config();
    p->info_.dir = dir;
    p->info_.layout = jc.layout;
    p->info_.grid_h = p->info_.grid_w = static_cast<int>(jc.grid);
    p->info_.image_size = static_cast<int>(jc.image_size);
    p->info_.codebook = static_cast<int>(jc.codebook_size);
    p->info_.weight_bytes = (*model)->weightBytes();
    p->info_.context = (*model)->lm().config().max_positions;
    p->model_ = std::move(*model);
    // Fitted once per loaded model (a small calibration decode) so that live previews during generation
    // cost microseconds; reported in info().preview_calibration_ms.
    if (Status s = p->fitColourMap(); !s.ok()) return s;
    p->info_.preview_calibration_ms = p->impl_->calibration_ms;
    return p;
}

// ---- helpers -------------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

// Share of generation time live previews may take.
constexpr double kPreviewBudget = 0.03;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Reference mapping: clip((x + 1) / 2 * 255, 0, 255), truncated to uint8.
std::vector<ImageRgb8> toRgb8(Backend& be, const Tensor& pixels) {
    const int64_t n = pixels.dim(0), h = pixels.dim(2), w = pixels.dim(3);
    std::vector<float> v = be.readF32(pixels);
    std::vector<ImageRgb8> out(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; ++b) {
        ImageRgb8& img = out[static_cast<size_t>(b)];
        img.width = static_cast<int>(w);
        img.height = static_cast<int>(h);
        img.rgb.resize(static_cast<size_t>(h * w * 3));
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < h * w; ++i) {
                float x = (v[static_cast<size_t>((b * 3 + c) * h * w + i)] + 1.0f) / 2.0f * 255.0f;
                img.rgb[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(std::clamp(x, 0.0f, 255.0f));
            }
    }
    return out;
}

// Python's str.strip(): drops leading and trailing characters for which str.isspace() holds (Unicode
// White_Space plus the separators U+001C..U+001F), as the official prompt code strips.
std::string pyStrip(const std::string& s) {
    auto space = [](char32_t c) { return tok::isWhitespace(c) || (c >= 0x1C && c <= 0x1F); };
    size_t begin = s.size(), end = 0;
    for (size_t pos = 0; pos < s.size();) {
        const size_t at = pos;
        if (!space(tok::decodeUtf8(s, pos))) {
            begin = std::min(begin, at);
            end = pos;
        }
    }
    return begin < end ? s.substr(begin, end - begin) : std::string();
}

} // namespace

std::string janusGenerationPrompt(const std::string& prompt) {
    const std::string content = pyStrip(prompt);
    return pyStrip(content.empty() ? "<|User|>:<|Assistant|>:" : "<|User|>: " + content + "\n\n<|Assistant|>:") +
           "<begin_of_image>";
}

// The unconditional rows' pad is the vocabulary's <｜▁pad▁｜>, as the original processor finds it
// (and as transformers' conversion script sets generation_config.pad_token_id); tokenizer_config's
// pad_token and the LM config's pad_token_id (which released checkpoints do not keep consistent with
// it) only when the vocabulary has no such token.
Expected<int32_t> janusPadId(const Tokenizer& tokenizer, int64_t config_pad, const std::string& dir) {
    const int32_t vocab_pad = tokenizer.tokenId("<｜▁pad▁｜>");
    if (vocab_pad >= 0) return vocab_pad;
    if (tokenizer.padId() >= 0) return tokenizer.padId();
    if (config_pad >= 0) return static_cast<int32_t>(config_pad);
    return Status::error(dir + ": no pad token (no <｜▁pad▁｜> in the vocabulary, no pad_token in "
                               "tokenizer_config.json, no pad_token_id in config.json); classifier-free "
                               "guidance needs one for its unconditional rows");
}

const LmLayout& JanusPipeline::lmLayout() const { return model_->lmLayout(); }

Status JanusPipeline::applyOverlay(const WeightOverlay& overlay) {
    if (Status s = model_->overlayLm(overlay); !s.ok()) return s;
    info_.weight_bytes = model_->weightBytes();
    return Status();
}

// ---- previews ------------------------------------------------------------------------------------------

Expected<ImageRgb8> JanusPipeline::decode(const std::vector<int32_t>& tokens) {
    Backend& be = *impl_->backend;
    const int64_t g = info_.grid_h, n = g * g;
    if (static_cast<int64_t>(tokens.size()) > n) return Status::error("more tokens than the image grid holds");
    for (int32_t t : tokens)
        if (t < 0 || t >= info_.codebook) return Status::error("token " + std::to_string(t) + " outside the codebook");
    try {
        if (static_cast<int64_t>(tokens.size()) == n) {
            std::vector<int64_t> ids(tokens.begin(), tokens.end());
            return toRgb8(be, model_->decodeImageTokens(be.fromI64(ids, {1, n}), g, g))[0];
        }
        // Partial grid: unsampled cells get a zero code vector (so they do not bleed colour into
        // their neighbours through the decoder's convolutions) and are then painted mid-grey.
        std::vector<int64_t> ids(static_cast<size_t>(n), 0);
        std::copy(tokens.begin(), tokens.end(), ids.begin());
        Tensor codes = model_->codesFor(be.fromI64(ids, {1, n}), g, g);
        const int64_t dim = codes.dim(1);
        std::vector<float> mask(static_cast<size_t>(dim * n), 0.0f);
        for (int64_t c = 0; c < dim; ++c)
            for (int64_t i = 0; i < static_cast<int64_t>(tokens.size()); ++i) mask[static_cast<size_t>(c * n + i)] = 1.0f;
        Tensor masked = be.mul(codes, be.fromF32(mask, {dim, g, g}));
        ImageRgb8 img = toRgb8(be, model_->decodeCodes(masked))[0];
        const int cell_h = img.height / static_cast<int>(g), cell_w = img.width / static_cast<int>(g);
        for (int64_t i = static_cast<int64_t>(tokens.size()); i < n; ++i) {
            const int cy = static_cast<int>(i / g) * cell_h, cx = static_cast<int>(i % g) * cell_w;
            for (int y = cy; y < cy + cell_h; ++y)
                for (int x = cx; x < cx + cell_w; ++x)
                    for (int c = 0; c < 3; ++c) img.rgb[static_cast<size_t>((y * img.width + x) * 3 + c)] = 128;
        }
        return img;
    } catch (const std::exception& e) {
        return Status::error(std::string("decoding failed: ") + e.what());
    }
}

// The colour map is fitted on a small calibration grid (at most 4×4 cells of spread-out codes) decoded
// by the real decoder: each cell's mean colour (over its central half, away from neighbours' bleed) is
// regressed on its normalised code vector.
Status JanusPipeline::fitColourMap() {
    if (!impl_->code_rgb.empty()) return Status();
    Backend& be = *impl_->backend;
    const auto t0 = Clock::now();
    try {
        const int64_t codebook = info_.codebook, cg = std::min<int64_t>(4, info_.grid_h), cells = cg * cg;
        const std::vector<float> book = pipelines::codebookRows(
            be, codebook, [&](const Tensor& ids) { return model_->codesFor(ids, 1, codebook); });
        pipelines::CodeColourFit fit(book, codebook);

        std::vector<int64_t> ids(static_cast<size_t>(cells));
        for (int64_t i = 0; i < cells; ++i) ids[static_cast<size_t>(i)] = (i * 7919 + 13) % codebook;
        Tensor px = model_->decodeImageTokens(be.fromI64(ids, {1, cells}), cg, cg);
        const std::vector<float> pix = be.readF32(px);
        const int64_t h = px.dim(2), w = px.dim(3), ch = h / cg, cw = w / cg;
        for (int64_t i = 0; i < cells; ++i) {
            const int64_t y0 = (i / cg) * ch + ch / 4, x0 = (i % cg) * cw + cw / 4;
            double rgb[3];
            for (int64_t c = 0; c < 3; ++c) {
                double sum = 0;
                int64_t n = 0;
                for (int64_t yy = y0; yy < y0 + std::max<int64_t>(1, ch / 2); ++yy)
                    for (int64_t xx = x0; xx < x0 + std::max<int64_t>(1, cw / 2); ++xx, ++n) sum += pix[static_cast<size_t>((c * h + yy) * w + xx)];
                rgb[c] = sum / static_cast<double>(n);
            }
            fit.add(ids[static_cast<size_t>(i)], rgb);
        }
        // The decoder's pixels are in [-1, 1].
        impl_->code_rgb = fit.colours([](double v) { return (v + 1.0) / 2.0 * 255.0; });
        impl_->calibration_cells = cells;
    } catch (const std::exception& e) {
        return Status::error(std::string("fitting the preview colour map failed: ") + e.what());
    }
    impl_->calibration_ms = msSince(t0);
    return Status();
}

// The codebook rows as the decoder uses them (L2-normalised); nearestLatentNeighbours, once per loaded
// model.
Expected<std::shared_ptr<const LatentNeighbours>> JanusPipeline::latentNeighbours(int k) {
    const int64_t codebook = info_.codebook;
    return pipelines::latentNeighboursOnce(*impl_->backend, codebook, k, impl_->neighbours,
                                           [&](const Tensor& ids) { return model_->codesFor(ids, 1, codebook); });
}

Expected<ImageRgb8> JanusPipeline::mosaic(const std::vector<int32_t>& tokens) {
    if (Status s = fitColourMap(); !s.ok()) return s;
    const int g = info_.grid_h;
    if (static_cast<int>(tokens.size()) > g * g) return Status::error("more tokens than the image grid holds");
    const int cell = std::max(1, info_.image_size / std::max(1, g));
    ImageRgb8 img;
    img.width = img.height = cell * g;
    img.rgb.assign(static_cast<size_t>(img.width) * img.height * 3, 128);
    for (int i = 0; i < static_cast<int>(tokens.size()); ++i) {
        const int32_t t = tokens[static_cast<size_t>(i)];
        if (t < 0 || t >= info_.codebook) return Status::error("token " + std::to_string(t) + " outside the codebook");
        const uint8_t* c = &impl_->code_rgb[static_cast<size_t>(t) * 3];
        for (int y = (i / g) * cell; y < (i / g + 1) * cell; ++y)
            for (int x = (i % g) * cell; x < (i % g + 1) * cell; ++x)
                std::copy(c, c + 3, img.rgb.begin() + (static_cast<long>(y) * img.width + x) * 3);
    }
    return img;
}

// ---- generation ----------------------------------------------------------------------------------------

namespace {

// One Janus step: feed the image token the previous step committed (both CFG rows of each image get
// it) through the aligner and the LM, then the generation head. Step 0 uses the prefill's last state.
// Windows (speculative decoding) feed a run of cells at once and crop the KV cache back.
class JanusStep final : public StepModel {
public:
    JanusStep(JanusModel& model, Backend& be, KvCache& cache, Tensor last, int64_t images, size_t model_bytes)
        : model_(model), be_(be), cache_(cache), prefill_last_(last), last_(std::move(last)), images_(images),
          model_bytes_(model_bytes), prompt_len_(cache.length()), next_(static_cast<size_t>(2 * images)) {}

    Tensor stepLogits(const std::vector<int64_t>&, const DecodeOrder& order) override {
        if (order.step() > 0) {
            const auto cell = static_cast<size_t>(order.step() - 1);
            for (int64_t im = 0; im < images_; ++im)
                next_[static_cast<size_t>(2 * im)] = next_[static_cast<size_t>(2 * im + 1)] = order.grid(im)[cell];
            last_ = model_.lm().forward(model_.imageTokenEmbeds(be_.fromI64(next_, {2 * images_, 1})), cache_);
        }
        return model_.genHead(last_); // [rows, 1, codebook]
    }

    bool supportsWindows() const override { return true; }

    Tensor windowLogits(int64_t first, const std::vector<std::vector<int32_t>>& drafts, const DecodeOrder& order) override {
        const int64_t held = cache_.length() - prompt_len_;
        if (first < 0 || held != std::max<int64_t>(0, first - 1) || static_cast<int64_t>(drafts.size()) != images_)
            throw Error("Janus window at cell " + std::to_string(first) + ": the KV cache holds " + std::to_string(held) +
                        " image cells, or the drafts are not one list per image");
        const int64_t m = static_cast<int64_t>(drafts[0].size());
        const int64_t lead = first > 0 ? 1 : 0, t = lead + m;
        std::vector<int64_t> ids(static_cast<size_t>(2 * images_ * t));
        for (int64_t im = 0; im < images_; ++im) {
            if (static_cast<int64_t>(drafts[static_cast<size_t>(im)].size()) != m) throw Error("Janus window: draft lists differ in length");
            for (int64_t j = 0; j < t; ++j) {
                const int32_t tok = j < lead ? order.grid(im)[static_cast<size_t>(first - 1)]
                                             : drafts[static_cast<size_t>(im)][static_cast<size_t>(j - lead)];
                ids[static_cast<size_t>((2 * im) * t + j)] = ids[static_cast<size_t>((2 * im + 1) * t + j)] = tok;
            }
        }
        if (t == 0) return model_.genHead(prefill_last_);
        Tensor hidden = model_.lm().forward(model_.imageTokenEmbeds(be_.fromI64(ids, {2 * images_, t})), cache_);
        // Cell 0 is predicted from the prompt's last state.
        if (first == 0) hidden = be_.concat(prefill_last_, hidden, 1);
        return model_.genHead(hidden); // [rows, m + 1, codebook]
    }

    void cropTo(int64_t cells) override { cache_.crop(prompt_len_ + cells); }

    size_t kvCacheBytes() const override { return cache_.bytes(); }
    size_t modelBytes() const override { return model_bytes_; }

private:
    JanusModel& model_;
    Backend& be_;
    KvCache& cache_;
    Tensor prefill_last_, last_;
    int64_t images_;
    size_t model_bytes_;
    int64_t prompt_len_;
    std::vector<int64_t> next_;
};

} // namespace

Expected<JanusResult> JanusPipeline::generate(const JanusRequest& req, JobContext& ctx) {
    Backend& be = *impl_->backend;
    CausalLM& lm = model_->lm();
    const int64_t images = req.images, rows = 2 * images, g = info_.grid_h, n_tokens = g * g;
    const int64_t vocab = info_.codebook;
    if (images < 1 || images > 64) return Status::error("images must be between 1 and 64");
    if (!(req.sampler.temperature >= 0) || !(req.sampler.top_p > 0 && req.sampler.top_p <= 1) || req.sampler.top_k < 0 ||
        !(req.sampler.min_p >= 0 && req.sampler.min_p < 1))
        return Status::error("sampler settings out of range (temperature >= 0, 0 < top-p <= 1, top-k >= 0, 0 <= min-p < 1)");
    if (!std::isfinite(req.sampler.cfg) || !std::isfinite(req.sampler.temperature))
        return Status::error("the guidance weight and temperature must be finite numbers");
    if (static_cast<int64_t>(req.forced.size()) > images) return Status::error("forced tokens for more images than the batch");
    for (size_t i = 0; i < req.forced.size(); ++i) {
        if (static_cast<int64_t>(req.forced[i].size()) > n_tokens) return Status::error("more forced tokens than the image grid holds");
        for (int32_t t : req.forced[i])
            if (t < 0 || t >= vocab) return Status::error("forced token " + std::to_string(t) + " outside the codebook");
    }

    // Prompt as the official script builds it: SFT template with an empty system prompt (the user content
    // stripped; an empty message gets no separator; the whole prompt stripped), then the image-start tag;
    // BOS from the tokenizer.
    const std::string text = janusGenerationPrompt(req.prompt);
    const std::vector<int32_t> ids = impl_->tokenizer.encode(text, SpecialTokens::kTransformers);
    const int64_t len = static_cast<int64_t>(ids.size());
    if (len + n_tokens > info_.context) {
        return Status::error("prompt is " + std::to_string(len) + " tokens; with " + std::to_string(n_tokens) +
                             " image tokens that exceeds the model's context of " + std::to_string(info_.context) +
                             " — shorten the prompt");
    }
    // Interleaved CFG rows: 2k conditional, 2k+1 unconditional (all but the first and last token padded).
    std::vector<int64_t> batch(static_cast<size_t>(rows * len));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < len; ++i)
            batch[static_cast<size_t>(r * len + i)] = (r % 2 == 1 && i > 0 && i < len - 1) ? impl_->pad_id : ids[static_cast<size_t>(i)];

    JanusResult result;
    result.grid_h = result.grid_w = static_cast<int>(g);
    result.tokens.assign(static_cast<size_t>(images), {});
    double preview_ms = 0, last_full_cost_ms = 0, last_mosaic_cost_ms = 0;
    bool previewed = false;
    const int preview_every = req.preview_every > 0 ? req.preview_every : static_cast<int>(g);

    try {
        KvCache cache = lm.newCache(rows, len + n_tokens);
        Tensor hidden = lm.forward(lm.embed(be.fromI64(batch, {rows, len})), cache);
        JanusStep step_model(*model_, be, cache, be.slice(hidden, 1, len - 1, len), images, info_.weight_bytes);
        RasterOrder order(images, g, g);

        GenerationSettings gs;
        gs.sampling.seed = req.seed;
        gs.sampling.temperature = req.sampler.temperature;
        gs.sampling.top_k = req.sampler.top_k;
        gs.sampling.top_p = req.sampler.top_p;
        gs.sampling.min_p = req.sampler.min_p;
        gs.sampling.report_k = std::clamp(req.report_top_k, 0, 64);
        gs.cfg = req.sampler.cfg;
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

        auto tokensOf = [&](int64_t im) {
            const auto& grid = order.grid(im);
            return std::vector<int32_t>(grid.begin(), grid.begin() + order.known(im));
        };
        // Previews on the cadence, within a budget of 3% of generation time so far. A full partial
        // decode is shown when its predicted cost (the last one's, or the calibration decode's scaled
        // by cell count) fits the budget; otherwise the fast colour mosaic, which costs microseconds
        // once the colour map is fitted (fitting is counted as preview time too).
        // Due when `done` crossed a multiple of the cadence (speculative steps commit several cells).
        int64_t last_due = 0;
        auto previews = [&](int64_t done) -> Status {
            const bool due = req.previews && done / preview_every > last_due / preview_every && done < n_tokens;
            if (done / preview_every > last_due / preview_every) last_due = done;
            const double loop_ms = loop.elapsedMs() - preview_ms;
            // Even mosaics wait when the budget is spent (only matters when a step costs microseconds).
            const bool affordable = !previewed || preview_ms + last_mosaic_cost_ms <= kPreviewBudget * loop_ms;
            if (!due || !affordable) return Status();
            const auto t_prev = Clock::now();
            if (Status s = fitColourMap(); !s.ok()) return s;
            const double predicted_full = last_full_cost_ms > 0 ? last_full_cost_ms
                                                                : impl_->calibration_ms * static_cast<double>(n_tokens * images) /
                                                                      static_cast<double>(std::max<int64_t>(1, impl_->calibration_cells));
            const bool full = preview_ms + msSince(t_prev) + predicted_full <= kPreviewBudget * loop_ms;
            const auto t_full = Clock::now();
            for (int64_t im = 0; im < images; ++im) {
                auto img = full ? decode(tokensOf(im)) : mosaic(tokensOf(im));
                if (!img) return img.status();
                PreviewReady pr;
                pr.job_id = ctx.id();
                pr.image = static_cast<int>(im);
                pr.tokens_done = static_cast<int>(done);
                pr.width = img->width;
                pr.height = img->height;
                pr.approximate = !full;
                pr.rgb = std::make_shared<const std::vector<uint8_t>>(std::move(img->rgb));
                ctx.emit(pr);
            }
            if (full) {
                last_full_cost_ms = msSince(t_full);
                ++result.previews_decoded;
            } else {
                last_mosaic_cost_ms = msSince(t_full);
                ++result.previews_approximate;
            }
            preview_ms += msSince(t_prev);
            if (!previewed) loop.notePreview(loop.elapsedMs());
            previewed = true;
            return Status();
        };
        auto outcome = loop.run(previews);
        if (!outcome) return outcome.status();
        result.cancelled = outcome->cancelled;
        result.generate_ms = outcome->decode_ms;
        result.decode_steps = outcome->steps;
        result.drafts_accepted = outcome->drafts_accepted;
        result.preview_ms = outcome->after_ms;
        result.guided_logits = std::move(outcome->guided_logits);
        for (int64_t im = 0; im < images; ++im) result.tokens[static_cast<size_t>(im)] = tokensOf(im);

        // Final images (partial ones for a cancelled job, unsampled cells grey).
        for (int64_t im = 0; im < images; ++im) {
            auto img = decode(result.tokens[static_cast<size_t>(im)]);
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
    } catch (const Error& e) {
        return Status::error(std::string("generation failed: ") + e.what());
    }
    return result;
}

} // namespace tessera
