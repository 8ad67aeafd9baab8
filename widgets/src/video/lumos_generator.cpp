// The Lumos-1 generator: LumosPipeline jobs that report their steps and decoded frames through a
// VideoFeed. Sections: the feed; the generator; loading.
#include "tessera/engine/cosmos.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"
#include "tessera/engine/recipe.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/video_generator.h"
#include "tessera/widgets/video_strip.h"

#include <QFileInfo>
#include <QMetaObject>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace tessera::widgets {

// ---- the feed -----------------------------------------------------------------------------------------

VideoFeed::VideoFeed(QObject* context, Handler handler) : context_(context), handler_(std::move(handler)) {}

void VideoFeed::post(VideoUpdate update) {
    // Posting under the lock: detach() (on the context's thread) cannot finish while a call is being
    // queued to the context, and Qt drops queued calls to a context that is then destroyed.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!context_) return;
    QMetaObject::invokeMethod(
        context_, [handler = handler_, u = std::move(update)] { handler(u); }, Qt::QueuedConnection);
}

void VideoFeed::detach() {
    std::lock_guard<std::mutex> lock(mutex_);
    context_ = nullptr;
}

// ---- the generator --------------------------------------------------------------------------------------

namespace {

uint8_t toByte(float v) {
    return static_cast<uint8_t>(std::lround(std::clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f)));
}

std::vector<QImage> toImages(const VideoF32& v) {
    std::vector<QImage> out;
    const size_t per = static_cast<size_t>(v.height * v.width * 3);
    for (int64_t f = 0; f < v.frames; ++f) {
        QImage img(static_cast<int>(v.width), static_cast<int>(v.height), QImage::Format_RGB888);
        for (int64_t y = 0; y < v.height; ++y) {
            uchar* row = img.scanLine(static_cast<int>(y));
            const float* src =
                v.rgb.data() + static_cast<size_t>(f) * per + static_cast<size_t>(y * v.width * 3);
            for (int64_t i = 0; i < v.width * 3; ++i) row[i] = toByte(src[i]);
        }
        out.push_back(std::move(img));
    }
    return out;
}

class LumosGenerator : public VideoGenerator {
public:
    LumosGenerator(std::unique_ptr<Backend> backend, std::unique_ptr<LumosPipeline> pipeline,
                   std::unique_ptr<CosmosTokenizer> tokenizer, std::string folder,
                   LumosGeneratorOptions options)
        : state_(std::make_shared<State>()) {
        state_->backend = std::move(backend);
        state_->pipeline = std::move(pipeline);
        state_->tokenizer = std::move(tokenizer);
        state_->folder = folder;
        state_->options = options;
        auto hash = modelIdentityHash(folder);
        state_->model_hash = hash ? *hash : "";
        info_.name = QFileInfo(QString::fromStdString(folder)).fileName();
        info_.family = "lumos";
        info_.video = true;
        info_.rows = options.height / 8;
        info_.cols = options.width / 8;
        info_.codebook = static_cast<int>(state_->pipeline->codes());
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(folder, ec))
            if (e.path().extension() == ".safetensors")
                info_.weight_bytes += static_cast<size_t>(e.file_size(ec));
        if (info_.weight_bytes < kSmokeTestWeightBytes)
            info_.note =
                QObject::tr("%1: untrained smoke-test model (random weights), its videos are noise by design")
                    .arg(info_.name);
    }

    GeneratorInfo info() const override { return info_; }
    void setFeed(std::shared_ptr<VideoFeed> feed) override { feed_ = std::move(feed); }

    JobFn makeJob(const GenerationRequest& request) override {
        if (request.settings.speculative())
            return [](JobContext&) -> Status {
                return Status::error("speculative Jacobi decoding needs a raster or window decode order "
                                     "(Janus, Token-Shuffle); "
                                     "Lumos-1 decodes MaskGIT frames: choose Plain decoding");
            };
        const LumosGeneratorOptions& o = state_->options;
        LumosRequest r;
        r.task = LumosTask::TextToVideo;
        r.prompt = request.settings.prompt.toStdString();
        if (!state_->pipeline->hasTokenizer()) {
            for (unsigned char ch : r.prompt) r.prompt_ids.push_back(ch);
            if (r.prompt_ids.empty()) r.prompt_ids.push_back(' ');
        }
        r.width = o.width;
        r.height = o.height;
        r.fps = o.fps;
        r.duration_s = o.duration_s;
        r.latent_frames = o.latent_frames;
        r.steps = o.steps;
        r.seed = request.settings.seed;
        auto state = state_;
        auto feed = feed_;
        return [state, feed, r](JobContext& ctx) -> Status {
            std::lock_guard<std::mutex> lock(state->mutex); // one backend, one thread at a time
            auto shape = lumosShape(r);
            if (!shape) return shape.status();
            auto post = [&](VideoUpdate u) {
                u.job = ctx.id();
                if (feed) feed->post(std::move(u));
            };
            VideoUpdate started;
            started.kind = VideoUpdate::Kind::Started;
            started.lat_h = static_cast<int>(shape->lat_h);
            started.lat_w = static_cast<int>(shape->lat_w);
            started.latent_frames = static_cast<int>(shape->latent_frames);
            started.given_frames = static_cast<int>(shape->given_frames);
            started.steps = static_cast<int>(r.steps);
            started.fps = shape->fps;
            started.decodes = state->tokenizer != nullptr;
            post(started);
            LumosFrameDecoding frames;
            frames.tokenizer = state->tokenizer.get();
            frames.on_frame = [&](const LumosDecodedFrame& f) {
                VideoUpdate u;
                u.kind = VideoUpdate::Kind::Frame;
                u.frame = static_cast<int>(f.latent_frame);
                u.first_video_frame = static_cast<int>(f.first_video_frame);
                u.images = toImages(f.pixels);
                u.codes = f.codes;
                post(std::move(u));
            };
            auto result = state->pipeline->generate(
                r, ctx,
                [&](const LumosProgress& p) {
                    VideoUpdate u;
                    u.kind = VideoUpdate::Kind::Step;
                    u.frame = static_cast<int>(p.frame);
                    u.step = static_cast<int>(p.step);
                    u.steps = static_cast<int>(p.steps);
                    u.sampled = p.sampled;
                    u.grid = p.grid;
                    // Without a tokenizer a finished latent frame is shown as its code-digit picture,
                    // held for the 1 or 4 clip frames it stands for.
                    const bool last = p.step == p.steps;
                    post(std::move(u));
                    if (last && !state->tokenizer) {
                        VideoUpdate f;
                        f.kind = VideoUpdate::Kind::Frame;
                        f.frame = static_cast<int>(p.frame);
                        f.first_video_frame = p.frame == 0 ? 0 : static_cast<int>(1 + 4 * (p.frame - 1));
                        const QImage img = codeDigitImage(p.grid, static_cast<int>(shape->lat_h),
                                                          static_cast<int>(shape->lat_w));
                        f.images.assign(p.frame == 0 ? 1 : 4, img);
                        f.codes = p.grid;
                        post(std::move(f));
                    }
                },
                frames);
            if (!result) return result.status();
            LumosRecipeInfo info{state->folder, state->model_hash, state->backend->info().name, 0};
            VideoUpdate done;
            done.kind = VideoUpdate::Kind::Done;
            done.codes = result->codes;
            done.cancelled = result->cancelled;
            done.recipe = QByteArray::fromStdString(lumosRecipe(r, *result, info).dump());
            post(std::move(done));
            return Status();
        };
    }

    void setEngineThreads(int threads) override { state_->backend->setActiveThreads(threads); }
    std::pair<int, int> engineThreads() const override {
        return {state_->backend->activeThreads(), state_->backend->info().threads};
    }

    // One latent frame's codes (lat_h·lat_w, -1 = missing): decoded as a first frame by the Cosmos
    // decoder when there is one (exact for latent frame 0), else its code-digit picture.
    Expected<ImageRgb8> decode(const std::vector<int32_t>& tokens) override {
        std::lock_guard<std::mutex> lock(state_->mutex);
        ImageRgb8 out;
        if (state_->tokenizer &&
            std::none_of(tokens.begin(), tokens.end(), [](int32_t t) { return t < 0; })) {
            auto v = state_->tokenizer->decode(*state_->backend, tokens, 1, info_.rows, info_.cols);
            if (!v) return v.status();
            out.width = static_cast<int>(v->width);
            out.height = static_cast<int>(v->height);
            for (float x : v->rgb) out.rgb.push_back(toByte(x));
            return out;
        }
        out.width = info_.cols;
        out.height = info_.rows;
        out.rgb = lumosCodeDigitColours(tokens);
        return out;
    }

private:
    struct State {
        std::mutex mutex;
        std::unique_ptr<Backend> backend;
        std::unique_ptr<LumosPipeline> pipeline;
        std::unique_ptr<CosmosTokenizer> tokenizer;
        std::string folder, model_hash;
        LumosGeneratorOptions options;
        ~State() {
            tokenizer.reset(); // before the backend that holds their tensors
            pipeline.reset();
        }
    };
    std::shared_ptr<State> state_;
    std::shared_ptr<VideoFeed> feed_;
    GeneratorInfo info_;
};

} // namespace

// ---- loading --------------------------------------------------------------------------------------------

bool isLumosCheckpoint(const std::string& folder) {
    std::ifstream in(fs::path(folder) / "config.json");
    if (!in) return false;
    const nlohmann::json c = nlohmann::json::parse(in, nullptr, false);
    return c.is_object() && c.value("model_type", "") == "chameleon" && c.value("mm_rope", false);
}

Expected<std::shared_ptr<VideoGenerator>> loadLumosGenerator(const std::string& folder,
                                                             const LumosGeneratorOptions& options,
                                                             const std::string& backend_name) {
    LumosRequest probe;
    probe.width = options.width;
    probe.height = options.height;
    probe.fps = options.fps;
    probe.duration_s = options.duration_s;
    probe.latent_frames = options.latent_frames;
    probe.steps = options.steps;
    if (auto shape = lumosShape(probe); !shape) return shape.status();
    auto backend = createBackend(backend_name);
    if (!backend) return backend.status();
    auto pipeline = LumosPipeline::load(folder, **backend);
    if (!pipeline) return pipeline.status();
    std::string tok_dir = options.tokenizer_dir;
    if (tok_dir.empty() && fs::exists(fs::path(folder) / "cosmos" / "config.json"))
        tok_dir = (fs::path(folder) / "cosmos").string();
    std::unique_ptr<CosmosTokenizer> tokenizer;
    if (!tok_dir.empty()) {
        auto t = CosmosTokenizer::load(tok_dir, **backend, false);
        if (!t) return t.status();
        tokenizer = std::move(*t);
    }
    std::shared_ptr<VideoGenerator> g = std::make_shared<LumosGenerator>(
        std::move(*backend), std::move(*pipeline), std::move(tokenizer), folder, options);
    return g;
}

} // namespace tessera::widgets
