// Lumos-1 AR-DF generation. Sections: request validation; the sequence builder; the two-branch frame
// step (LumosStep); the pipeline (load, generate).
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/decode_order.h"
#include "tessera/engine/events.h"
#include "tessera/engine/generation.h"
#include "tessera/engine/lumos.h"
#include "tessera/engine/mm_rope.h"
#include "tessera/engine/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera {

using V = LumosVocab;

const char* lumosTaskName(LumosTask task) {
    switch (task) {
    case LumosTask::TextToImage:
        return "t2i";
    case LumosTask::TextToVideo:
        return "t2v";
    case LumosTask::ImageToVideo:
        return "i2v";
    }
    return "t2v";
}

// ---- request validation ------------------------------------------------------------------------------

Expected<LumosShape> lumosShape(const LumosRequest& r) {
    auto multiple = [](int v) { return v > 0 && v % V::kPixelsPerGrid == 0 && v <= 8192; };
    if (!multiple(r.width) || !multiple(r.height))
        return Status::error("Lumos-1 sizes are multiples of 32 pixels up to 8192; got " +
                             std::to_string(r.width) + "x" + std::to_string(r.height));
    LumosShape s;
    s.lat_h = r.height / V::kSpatialCompression;
    s.lat_w = r.width / V::kSpatialCompression;
    s.fps = r.task == LumosTask::TextToImage ? 1 : r.fps;
    s.duration_s = r.task == LumosTask::TextToImage ? 1 : r.duration_s;
    if (s.fps < 1 || s.fps > 120)
        return Status::error("fps must be from 1 to 120, got " + std::to_string(s.fps));
    if (s.duration_s < 1 || s.duration_s > 60)
        return Status::error("duration must be from 1 to 60 seconds, got " + std::to_string(s.duration_s));
    const int64_t frames = static_cast<int64_t>(s.fps) * s.duration_s;
    const int64_t natural = (frames - 1 + V::kTemporalCompression - 1) / V::kTemporalCompression + 1;
    s.latent_frames =
        r.task == LumosTask::TextToImage ? 1 : (r.latent_frames > 0 ? r.latent_frames : natural);
    if (r.task == LumosTask::TextToImage && r.latent_frames > 1)
        return Status::error("text-to-image makes one latent frame; got latent_frames " +
                             std::to_string(r.latent_frames));
    if (s.latent_frames < 1 || s.latent_frames > 256)
        return Status::error("latent frames must be from 1 to 256, got " + std::to_string(s.latent_frames));
    s.given_frames = r.task == LumosTask::ImageToVideo ? 1 : 0;
    if (r.task == LumosTask::ImageToVideo) {
        if (s.latent_frames < 2) return Status::error("image-to-video needs at least 2 latent frames");
        if (static_cast<int64_t>(r.first_frame_codes.size()) != s.frameCells())
            return Status::error("image-to-video: the first frame has " +
                                 std::to_string(r.first_frame_codes.size()) + " codes, a " +
                                 std::to_string(s.lat_w) + "x" + std::to_string(s.lat_h) +
                                 " latent frame needs " + std::to_string(s.frameCells()));
    } else if (!r.first_frame_codes.empty()) {
        return Status::error("first-frame codes are only for image-to-video");
    }
    if (r.steps < 1 || r.steps > 1000)
        return Status::error("steps must be from 1 to 1000, got " + std::to_string(r.steps));
    s.cfg = r.cfg != 0 ? r.cfg : (r.task == LumosTask::TextToImage ? 16.0f : 15.0f);
    if (!std::isfinite(s.cfg) || std::fabs(s.cfg) > 1e4f)
        return Status::error("the guidance weight must be a finite number");
    if (!(r.gumbel_temperature >= 0) || r.gumbel_temperature > 1e4)
        return Status::error("the re-masking temperature must be from 0 to 1e4");
    if (!(r.history_mask_ratio > 0) || r.history_mask_ratio > 1)
        return Status::error("the history mask ratio must be in (0, 1]");
    return s;
}

// ---- sequence builder --------------------------------------------------------------------------------

std::string lumosPromptText(const std::string& caption, int width, int height, int fps, int duration_s) {
    return "Generate a video with a resolution of " + std::to_string(width) + "x" + std::to_string(height) +
           ", consisting of " + std::to_string(duration_s * fps) + " frames at " + std::to_string(fps) +
           " frames per second, according to the following prompt:\n " + caption;
}

std::vector<int64_t> lumosPrefix(const std::vector<int32_t>& text_ids, int duration_s, int fps) {
    std::vector<int64_t> ids;
    ids.reserve(text_ids.size() + 5);
    ids.push_back(V::kBos);
    for (int32_t t : text_ids) ids.push_back(t);
    ids.push_back(V::kSeparator);
    ids.push_back(V::kVideoStart);
    ids.push_back(V::kNumberBase + duration_s);
    ids.push_back(V::kNumberBase + fps);
    return ids;
}

std::vector<int64_t> lumosFrameSegment(const int32_t* codes, int64_t lat_h, int64_t lat_w, int height,
                                       int width) {
    std::vector<int64_t> ids;
    ids.reserve(static_cast<size_t>(lat_h * (lat_w + 1) + 4));
    ids.push_back(V::kFrameStart);
    ids.push_back(V::kNumberBase + height / V::kPixelsPerGrid);
    ids.push_back(V::kNumberBase + width / V::kPixelsPerGrid);
    for (int64_t r = 0; r < lat_h; ++r) {
        for (int64_t c = 0; c < lat_w; ++c) {
            const int32_t k = codes ? codes[r * lat_w + c] : -1;
            ids.push_back(k < 0 ? V::kMask : V::kCodeBase + k);
        }
        ids.push_back(V::kNewline);
    }
    ids.push_back(V::kFrameEnd);
    return ids;
}

std::vector<int64_t> lumosHistoryMask(int64_t length, double ratio) {
    TS_ASSERT(length > 0, "history mask of an empty frame");
    // std::nearbyint rounds half to even in the default rounding mode, as Python's round() does.
    const auto n =
        std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(ratio * static_cast<double>(length))));
    const double step = static_cast<double>(length) / static_cast<double>(n);
    std::vector<int64_t> idx;
    idx.reserve(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k)
        idx.push_back(std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(static_cast<double>(k) * step)),
                                          0, length - 1));
    // step >= 1, so the rounded offsets are strictly increasing: no duplicates to drop.
    return idx;
}

namespace {

int64_t firstContentIndex(const std::vector<int64_t>& ids) {
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == V::kFrameStart) return i + 3 < ids.size() ? static_cast<int64_t>(i + 3) : -1;
    return -1;
}

} // namespace

Expected<LumosBranches> lumosBranches(const std::vector<int64_t>& cond) {
    const auto vs = std::find(cond.begin(), cond.end(), V::kVideoStart);
    if (vs == cond.end()) return Status::error("Lumos-1 sequence without a video start token (9004)");
    LumosBranches b;
    b.cond = cond;
    b.uncond_offset = vs - cond.begin();
    b.uncond.assign(vs, cond.end());
    b.cond_p0 = firstContentIndex(b.cond);
    b.uncond_p0 = firstContentIndex(b.uncond);
    return b;
}

std::vector<uint8_t> lumosCodeDigitColours(const std::vector<int32_t>& codes) {
    std::vector<uint8_t> rgb(codes.size() * 3, 128);
    for (size_t i = 0; i < codes.size(); ++i) {
        const int32_t k = codes[i];
        if (k < 0) continue;
        // FSQ digits: basis 1, 8, 64 with 8 levels each.
        rgb[i * 3 + 0] = static_cast<uint8_t>((k % 8) * 255 / 7);
        rgb[i * 3 + 1] = static_cast<uint8_t>(((k / 8) % 8) * 255 / 7);
        rgb[i * 3 + 2] = static_cast<uint8_t>(((k / 64) % 8) * 255 / 7);
    }
    return rgb;
}

// ---- the two-branch frame step -----------------------------------------------------------------------

namespace {

// One branch of classifier-free guidance: its sequence (ids as they stand; MASK where unknown), the
// offset of its first id in the conditional sequence, and its own cache.
struct Branch {
    std::vector<int64_t> ids;
    int64_t offset = 0;
    KvCache cache;
};

class LumosStep final : public StepModel {
public:
    LumosStep(CausalLM& lm, const LumosShape& shape, const LumosRequest& req, int64_t codes,
              std::vector<int64_t> prefix)
        : lm_(lm), be_(lm.backend()), shape_(shape), req_(req), codes_(codes),
          history_(lumosHistoryMask(shape.frameContent(), req.history_mask_ratio)) {
        const int64_t vs = std::find(prefix.begin(), prefix.end(), V::kVideoStart) - prefix.begin();
        const int64_t capacity =
            static_cast<int64_t>(prefix.size()) + shape.latent_frames * shape.frameSegment() + 1;
        branches_[0].ids = prefix;
        branches_[0].offset = 0;
        branches_[0].cache = lm.newCache(1, capacity);
        branches_[1].ids.assign(prefix.begin() + vs, prefix.end());
        branches_[1].offset = vs;
        branches_[1].cache = lm.newCache(1, capacity - vs);
    }

    // Logits [2, N, codes]: branch 0 conditional, 1 unconditional, N = the frame's cells in order.
    Tensor stepLogits(const std::vector<int64_t>& positions, const DecodeOrder& order) override {
        const int64_t n = shape_.frameCells();
        TS_ASSERT(static_cast<int64_t>(positions.size()) == n, "Lumos-1 steps predict whole frames");
        const int64_t f = positions[0] / n; // frame of the order (generated frames only)
        if (f != order_frame_) startFrame(f, order);
        // The frame as it stands: known cells their codes, the rest MASK.
        const std::vector<int32_t>& grid = order.grid(0);
        std::vector<int64_t> seg =
            lumosFrameSegment(grid.data() + f * n, shape_.lat_h, shape_.lat_w, req_.height, req_.width);
        for (Branch& b : branches_)
            std::copy(seg.begin(), seg.end(), b.ids.begin() + (frame_start_ - b.offset));

        std::vector<int64_t> rows;
        rows.reserve(static_cast<size_t>(n));
        for (int64_t r = 0; r < shape_.lat_h; ++r)
            for (int64_t c = 0; c < shape_.lat_w; ++c) rows.push_back(3 + r * (shape_.lat_w + 1) + c);
        Tensor both;
        for (int i = 0; i < 2; ++i) {
            Branch& b = branches_[i];
            const int64_t begin = frame_start_ - b.offset;
            Tensor hidden = forward(b, b.ids, begin, begin + shape_.frameSegment(), /*frame=*/true);
            b.cache.crop(begin);
            Tensor picked = be_.gatherRows(hidden.reshape({hidden.dim(1), hidden.dim(2)}), rows);
            Tensor logits = be_.slice(lm_.logits(picked), 1, V::kCodeBase, V::kCodeBase + codes_);
            both = i == 0 ? logits : be_.concat(both, logits, 0);
        }
        return both.reshape({2, n, codes_});
    }

    size_t kvCacheBytes() const override { return branches_[0].cache.bytes() + branches_[1].cache.bytes(); }
    size_t modelBytes() const override { return lm_.weightBytes(); }

    // After the last step: the final frame's codes into the sequence and [9005].
    std::vector<int64_t> finish(const DecodeOrder& order, bool complete) {
        if (order_frame_ >= 0) {
            const int64_t n = shape_.frameCells();
            std::vector<int64_t> seg = lumosFrameSegment(order.grid(0).data() + order_frame_ * n,
                                                         shape_.lat_h, shape_.lat_w, req_.height, req_.width);
            std::copy(seg.begin(), seg.end(), branches_[0].ids.begin() + frame_start_);
        }
        std::vector<int64_t> out = branches_[0].ids;
        if (complete) out.push_back(V::kVideoEnd);
        return out;
    }

    int64_t frameStart() const { return frame_start_; }
    int64_t cacheLength(int i) const { return branches_[static_cast<size_t>(i)].cache.length(); }
    const std::vector<LumosCommittedFrame>& committed() const { return committed_; }
    int64_t p0(int i) const { return firstContentIndex(branches_[static_cast<size_t>(i)].ids); }

private:
    // Runs ids[begin, end) of branch b through the model into its cache. Positions come from the ids as
    // they stand (MASK or code does not change them); `feed` replaces the ids fed (history masking).
    Tensor forward(Branch& b, const std::vector<int64_t>& feed, int64_t begin, int64_t end, bool frame) {
        TS_ASSERT(b.cache.length() == begin, "Lumos-1: branch cache out of step with its sequence");
        std::vector<int64_t> upto(b.ids.begin(), b.ids.begin() + end);
        auto pos = mmRopePositions(upto);
        if (!pos) throw Error(pos.error());
        MmRopePositions sub;
        auto cut = [&](const std::vector<int64_t>& v) {
            return std::vector<int64_t>(v.begin() + begin, v.begin() + end);
        };
        sub.text = cut(pos->text);
        sub.t = cut(pos->t);
        sub.h = cut(pos->h);
        sub.w = cut(pos->w);
        sub.content.assign(pos->content.begin() + begin, pos->content.begin() + end);
        const TransformerConfig& cfg = lm_.config();
        RopeTables rope = mmRopeTables(be_, sub, cfg.head_dim, cfg.rope_theta);
        std::vector<int64_t> ids(feed.begin() + begin, feed.begin() + end);
        // A frame segment sees the whole cache and itself in both directions; the prefix is causal.
        AttentionMask mask;
        mask.kind = frame ? AttentionMask::Kind::Full : AttentionMask::Kind::Causal;
        return lm_.forward(lm_.embed(be_.fromI64(ids, {1, end - begin})), b.cache, mask, &rope);
    }

    // Writes a complete frame (codes, -1 never) into both caches with the history mask.
    void commitFrame(int64_t frame, const int32_t* codes) {
        std::vector<int64_t> seg =
            lumosFrameSegment(codes, shape_.lat_h, shape_.lat_w, req_.height, req_.width);
        LumosCommittedFrame record;
        record.frame = frame;
        for (int i = 0; i < 2; ++i) {
            Branch& b = branches_[static_cast<size_t>(i)];
            const int64_t begin = frame_start_ - b.offset;
            std::copy(seg.begin(), seg.end(), b.ids.begin() + begin);
            std::vector<int64_t> feed = b.ids;
            for (int64_t k : history_) feed[static_cast<size_t>(begin + 3 + k)] = V::kMask;
            forward(b, feed, begin, begin + shape_.frameSegment(), /*frame=*/true);
            (i == 0 ? record.cond : record.uncond)
                .assign(feed.begin() + begin, feed.begin() + begin + shape_.frameSegment());
        }
        committed_.push_back(std::move(record));
    }

    void appendFrame() {
        std::vector<int64_t> masked =
            lumosFrameSegment(nullptr, shape_.lat_h, shape_.lat_w, req_.height, req_.width);
        frame_start_ = static_cast<int64_t>(branches_[0].ids.size());
        for (Branch& b : branches_) b.ids.insert(b.ids.end(), masked.begin(), masked.end());
    }

    void startFrame(int64_t f, const DecodeOrder& order) {
        if (order_frame_ < 0) {
            // The prompt (and I2V's given frame) go into both caches once.
            for (Branch& b : branches_)
                forward(b, b.ids, 0, static_cast<int64_t>(b.ids.size()), /*frame=*/false);
            if (shape_.given_frames > 0) {
                appendFrame();
                commitFrame(0, req_.first_frame_codes.data());
            }
        } else {
            TS_ASSERT(f == order_frame_ + 1, "Lumos-1 frames run in order");
            commitFrame(shape_.given_frames + order_frame_,
                        order.grid(0).data() + order_frame_ * shape_.frameCells());
        }
        appendFrame();
        order_frame_ = f;
    }

    CausalLM& lm_;
    Backend& be_;
    LumosShape shape_;
    const LumosRequest& req_;
    int64_t codes_;
    std::vector<int64_t> history_;
    Branch branches_[2];
    int64_t order_frame_ = -1;
    int64_t frame_start_ = 0;
    std::vector<LumosCommittedFrame> committed_;
};

} // namespace

// ---- the pipeline ------------------------------------------------------------------------------------

struct LumosPipeline::Impl {
    Backend* backend = nullptr;
    std::unique_ptr<CausalLM> lm;
    std::optional<Tokenizer> tokenizer;
};

LumosPipeline::~LumosPipeline() = default;

const TransformerConfig& LumosPipeline::config() const {
    return impl_->lm->config();
}
Backend& LumosPipeline::backend() const {
    return *impl_->backend;
}
bool LumosPipeline::hasTokenizer() const {
    return impl_->tokenizer.has_value();
}

Expected<std::unique_ptr<LumosPipeline>> LumosPipeline::load(const std::string& model_dir, Backend& backend) {
    auto ckpt = Checkpoint::open(model_dir);
    if (!ckpt) return ckpt.status();
    auto lm = loadCausalLM(*ckpt, backend);
    if (!lm) return lm.status();
    const TransformerConfig& c = (*lm)->config();
    if (c.family != "chameleon")
        return Status::error(model_dir + ": Lumos-1 runs on a Chameleon checkpoint; this one is '" +
                             c.family + "'");
    if (c.head_dim % 16 != 0)
        return Status::error(model_dir + ": MM-RoPE needs head_dim to be a multiple of 16, got " +
                             std::to_string(c.head_dim));
    if (c.vocab <= V::kCodeBase)
        return Status::error(model_dir + ": vocabulary of " + std::to_string(c.vocab) +
                             " tokens has no video codes (they start at 65536)");
    std::unique_ptr<LumosPipeline> p(new LumosPipeline());
    p->impl_ = std::make_unique<Impl>();
    p->impl_->backend = &backend;
    p->impl_->lm = std::move(*lm);
    p->codes_ = std::min<int64_t>(V::kMaxCodes, c.vocab - V::kCodeBase);
    const fs::path tok = fs::path(model_dir) / "tokenizer.json";
    if (fs::exists(tok)) {
        auto t = Tokenizer::load(tok.string());
        if (!t) return t.status();
        p->impl_->tokenizer = std::move(*t);
    }
    return p;
}

namespace {

// Decodes latent frames 0..t of `codes` and hands on the pixel frames latent frame t adds.
Status decodeCommitted(const LumosFrameDecoding& frames, Backend& be, const LumosShape& shape,
                       const std::vector<int32_t>& codes, int64_t t) {
    const int64_t n = shape.frameCells();
    const std::vector<int32_t> prefix(codes.begin(), codes.begin() + (t + 1) * n);
    auto video = frames.tokenizer->decode(be, prefix, t + 1, shape.lat_h, shape.lat_w);
    if (!video) return Status::error("decoding latent frame " + std::to_string(t) + ": " + video.error());
    LumosDecodedFrame out;
    out.latent_frame = t;
    out.latent_frames = shape.latent_frames;
    out.first_video_frame = t == 0 ? 0 : 1 + V::kTemporalCompression * (t - 1);
    out.codes.assign(codes.begin() + t * n, codes.begin() + (t + 1) * n);
    const int64_t count = video->frames - out.first_video_frame;
    const size_t frame_values = static_cast<size_t>(video->height * video->width * 3);
    out.pixels.frames = count;
    out.pixels.height = video->height;
    out.pixels.width = video->width;
    out.pixels.rgb.assign(video->rgb.begin() + static_cast<std::ptrdiff_t>(out.first_video_frame * frame_values),
                          video->rgb.end());
    if (frames.on_frame) frames.on_frame(out);
    return Status();
}

} // namespace

Expected<LumosResult> LumosPipeline::generate(const LumosRequest& req, JobContext& ctx,
                                              const std::function<void(const LumosProgress&)>& on_step,
                                              const LumosFrameDecoding& frames) {
    auto shape = lumosShape(req);
    if (!shape) return shape.status();
    for (int32_t k : req.first_frame_codes)
        if (k < 0 || k >= codes_)
            return Status::error("first-frame code " + std::to_string(k) + " outside the checkpoint's " +
                                 std::to_string(codes_) + " video codes");
    std::vector<int32_t> text = req.prompt_ids;
    if (text.empty()) {
        if (!impl_->tokenizer)
            return Status::error("the checkpoint has no tokenizer.json: give the prompt as token ids");
        text = impl_->tokenizer->encode(
            lumosPromptText(req.prompt, req.width, req.height, shape->fps, shape->duration_s), false);
    }
    for (int32_t t : text)
        if (t < 0 || t >= V::kCodeBase)
            return Status::error("prompt token " + std::to_string(t) + " is not a text token");

    Backend& be = *impl_->backend;
    const int64_t n = shape->frameCells();
    const int64_t generated = shape->latent_frames - shape->given_frames;
    FrameMaskSettings fm;
    fm.steps = req.steps;
    fm.gumbel_temperature = req.gumbel_temperature;
    fm.reset_temperature_per_frame = req.reset_temperature_per_frame;
    fm.seed = req.seed ^ 0x9E3779B97F4A7C15ull; // the Gumbel stream apart from the token draws
    FrameMaskOrder order(1, generated, shape->lat_h, shape->lat_w, fm);
    LumosStep step(*impl_->lm, *shape, req, codes_, lumosPrefix(text, shape->duration_s, shape->fps));

    GenerationSettings gs;
    gs.sampling.seed = req.seed;
    gs.sampling.temperature = 1.0f;
    gs.sampling.report_k = 3;
    gs.sampling.guidance_kl = false;
    gs.cfg = shape->cfg;
    gs.branches = 2;
    gs.cond_branch = 0;
    gs.uncond_branch = 1;
    gs.capture_guided_steps = req.capture_guided_steps;
    GenerationLoop loop(be, order, step, gs, ctx);

    LumosProgress progress;
    progress.frames = shape->latent_frames;
    progress.steps = req.steps;
    // Codes of the frames decoded so far (I2V's given frame first), for the prefix decodes.
    std::vector<int32_t> decoded_codes = req.first_frame_codes;
    if (frames.tokenizer && shape->given_frames > 0) {
        Status st = decodeCommitted(frames, be, *shape, decoded_codes, 0);
        if (!st.ok()) return st;
    }
    auto after = [&](int64_t done) -> Status {
        const int64_t s = (done - 1) % req.steps;
        const int64_t f = (done - 1) / req.steps;
        progress.frame = shape->given_frames + f;
        progress.step = s + 1;
        progress.grid.assign(order.grid(0).begin() + f * n, order.grid(0).begin() + (f + 1) * n);
        progress.masked = std::count(progress.grid.begin(), progress.grid.end(), -1);
        progress.gumbel_temperature = order.gumbelTemperature();
        progress.cond_cache_length = step.cacheLength(0);
        progress.uncond_cache_length = step.cacheLength(1);
        progress.cond_frame_start = step.frameStart();
        const SampleResult& sampled = loop.lastSampled();
        progress.sampled.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            const int32_t known = progress.grid[static_cast<size_t>(i)];
            progress.sampled[static_cast<size_t>(i)] =
                known >= 0 ? known : sampled.token[static_cast<size_t>(i)];
        }
        PreviewReady pr;
        pr.job_id = ctx.id();
        pr.tokens_done = static_cast<int>((n - progress.masked) + shape->given_frames * n + f * n);
        pr.width = static_cast<int>(shape->lat_w);
        pr.height = static_cast<int>(shape->lat_h);
        pr.rgb = std::make_shared<const std::vector<uint8_t>>(lumosCodeDigitColours(progress.sampled));
        pr.final = done == order.totalSteps();
        pr.approximate = true;
        ctx.emit(pr);
        loop.notePreview(loop.elapsedMs());
        if (on_step) on_step(progress);
        if (frames.tokenizer && s + 1 == req.steps) {
            decoded_codes.insert(decoded_codes.end(), progress.grid.begin(), progress.grid.end());
            return decodeCommitted(frames, be, *shape, decoded_codes, shape->given_frames + f);
        }
        return Status();
    };
    auto outcome = loop.run(after);
    if (!outcome) return outcome.status();

    LumosResult res;
    res.shape = *shape;
    res.cancelled = outcome->cancelled;
    res.steps = outcome->steps;
    res.decode_ms = outcome->decode_ms;
    res.preview_ms = outcome->after_ms;
    res.guided_logits = std::move(outcome->guided_logits);
    res.codes = req.first_frame_codes;
    res.codes.insert(res.codes.end(), order.grid(0).begin(), order.grid(0).end());
    try {
        res.sequence = step.finish(order, !outcome->cancelled);
    } catch (const Error& e) {
        return Status::error(std::string("Lumos-1 generation failed: ") + e.what());
    }
    res.committed = step.committed();
    res.cond_p0 = step.p0(0);
    res.uncond_p0 = step.p0(1);
    return res;
}

} // namespace tessera
