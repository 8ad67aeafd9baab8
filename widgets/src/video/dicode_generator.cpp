// The DiCoDe generator: DicodePipeline jobs that report keyframe strips, DDIM x0 previews and clips
// through a DicodeFeed. Sections: options; the feed; the generator; probing and loading.
#include "tessera/widgets/dicode_generator.h"

#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/recipe.h"
#include "tessera/widgets/janus_generator.h"

#include <QFileInfo>
#include <QMetaObject>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace tessera::widgets {

// ---- options ------------------------------------------------------------------------------------------

DicodeRequest dicodeRequestFrom(const GenerationSettings& s) {
    DicodeRequest r;
    const QJsonObject& o = s.dicode;
    r.prompt = s.prompt.toStdString();
    r.seed = s.seed;
    r.keyframes = o.value("keyframes").toInteger(r.keyframes);
    r.ddim_steps = o.value("ddim_steps").toInteger(r.ddim_steps);
    r.eta = o.value("eta").toDouble(r.eta);
    r.cfg = static_cast<float>(o.value("cfg").toDouble(r.cfg));
    r.rescale = static_cast<float>(o.value("rescale").toDouble(r.rescale));
    r.fs = o.value("fs").toInteger(r.fs);
    r.llm_cfg = static_cast<float>(o.value("llm_cfg").toDouble(r.llm_cfg));
    r.var_scale = static_cast<float>(o.value("var_scale").toDouble(r.var_scale));
    r.do_sample = o.value("do_sample").toBool(r.do_sample);
    return r;
}

QJsonObject dicodeOptionsJson(const DicodeRequest& r) {
    return {{"keyframes", static_cast<qint64>(r.keyframes)},
            {"ddim_steps", static_cast<qint64>(r.ddim_steps)},
            {"eta", r.eta},
            {"cfg", static_cast<double>(r.cfg)},
            {"rescale", static_cast<double>(r.rescale)},
            {"fs", static_cast<qint64>(r.fs)},
            {"llm_cfg", static_cast<double>(r.llm_cfg)},
            {"var_scale", static_cast<double>(r.var_scale)},
            {"do_sample", r.do_sample}};
}

QJsonObject dicodeOptionsFromRecipe(const QJsonObject& recipe) {
    if (recipe.value("method").toString() != "dicode") return {};
    QJsonObject o;
    for (const char* key :
         {"keyframes", "ddim_steps", "eta", "cfg", "rescale", "fs", "llm_cfg", "var_scale", "do_sample"})
        if (recipe.contains(key)) o[key] = recipe.value(key);
    return o;
}

// ---- the feed -----------------------------------------------------------------------------------------

DicodeFeed::DicodeFeed(QObject* context, Handler handler) : context_(context), handler_(std::move(handler)) {}

void DicodeFeed::post(DicodeUpdate update) {
    // Under the lock: detach() cannot finish while a call is being queued (see VideoFeed::post).
    std::lock_guard<std::mutex> lock(mutex_);
    if (!context_) return;
    QMetaObject::invokeMethod(
        context_, [handler = handler_, u = std::move(update)] { handler(u); }, Qt::QueuedConnection);
}

void DicodeFeed::detach() {
    std::lock_guard<std::mutex> lock(mutex_);
    context_ = nullptr;
}

// ---- the generator --------------------------------------------------------------------------------------

namespace {

QImage rgbImage(const uint8_t* rgb, int width, int height) {
    if (width <= 0 || height <= 0 || !rgb) return {};
    return QImage(rgb, width, height, width * 3, QImage::Format_RGB888).copy();
}

std::vector<QImage> frameImages(const DicodeFrames& v) {
    std::vector<QImage> out;
    const size_t per = static_cast<size_t>(v.height * v.width * 3);
    for (int64_t f = 0; f < v.frames; ++f)
        out.push_back(rgbImage(v.rgb.data() + static_cast<size_t>(f) * per, static_cast<int>(v.width),
                               static_cast<int>(v.height)));
    return out;
}

class DicodeGeneratorImpl : public DicodeGenerator {
public:
    DicodeGeneratorImpl(std::unique_ptr<Backend> backend, std::unique_ptr<DicodePipeline> pipeline,
                        std::string folder)
        : state_(std::make_shared<State>()) {
        state_->backend = std::move(backend);
        state_->pipeline = std::move(pipeline);
        state_->folder = folder;
        auto hash = modelIdentityHash(folder);
        state_->model_hash = hash ? *hash : "";
        info_.name = QFileInfo(QString::fromStdString(folder)).fileName();
        info_.family = "dicode";
        info_.video = true;
        info_.rows = 0; // deep tokens have no grid: the mosaic stays empty
        info_.cols = 0;
        info_.codebook = 0;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(folder, ec))
            if (e.path().extension() == ".safetensors")
                info_.weight_bytes += static_cast<size_t>(fs::file_size(e.path(), ec)); // follows links
        if (info_.weight_bytes < kSmokeTestWeightBytes)
            info_.note =
                QObject::tr("%1: untrained smoke-test model (random weights), its videos are noise by design")
                    .arg(info_.name);
    }

    GeneratorInfo info() const override { return info_; }
    void setFeed(std::shared_ptr<VideoFeed>) override {} // DiCoDe reports through its DicodeFeed
    void setDicodeFeed(std::shared_ptr<DicodeFeed> feed) override { feed_ = std::move(feed); }
    int maxKeyframes() const override { return static_cast<int>(state_->pipeline->maxKeyframes()); }

    JobFn makeJob(const GenerationRequest& request) override {
        if (request.settings.speculative())
            return [](JobContext&) -> Status {
                return Status::error("speculative Jacobi decoding needs a raster or window decode order "
                                     "(Janus, Token-Shuffle); "
                                     "DiCoDe predicts continuous deep tokens: choose Plain decoding");
            };
        const DicodeRequest r = dicodeRequestFrom(request.settings);
        auto state = state_;
        auto feed = feed_;
        return [state, feed, r](JobContext& ctx) -> Status {
            if (Status st = validateDicodeRequest(r); !st.ok()) return st;
            std::lock_guard<std::mutex> lock(state->mutex); // one backend, one thread at a time
            auto post = [&](DicodeUpdate u) {
                u.job = ctx.id();
                if (feed) feed->post(std::move(u));
            };
            DicodeUpdate started;
            started.kind = DicodeUpdate::Kind::Started;
            started.keyframes = static_cast<int>(r.keyframes);
            started.clips = static_cast<int>(r.keyframes - 1);
            started.steps = static_cast<int>(r.ddim_steps);
            started.fps = kDicodeFps;
            post(started);
            int64_t frames_so_far = 0;
            auto result = state->pipeline->generate(r, ctx, [&](const DicodeProgress& p) {
                DicodeUpdate u;
                u.keyframe = static_cast<int>(p.keyframe);
                u.keyframes = static_cast<int>(p.keyframes);
                u.clip = static_cast<int>(p.clip);
                u.clips = static_cast<int>(p.clips);
                u.step = static_cast<int>(p.step);
                u.steps = static_cast<int>(p.steps);
                switch (p.stage) {
                case DicodeProgress::Stage::Keyframe:
                    u.kind = DicodeUpdate::Kind::Keyframe;
                    u.picture = rgbImage(p.preview_rgb.data(), p.preview_width, p.preview_height);
                    break;
                case DicodeProgress::Stage::Step:
                    u.kind = DicodeUpdate::Kind::Step;
                    u.picture = rgbImage(p.preview_rgb.data(), p.preview_width, p.preview_height);
                    break;
                case DicodeProgress::Stage::Clip:
                    u.kind = DicodeUpdate::Kind::Clip;
                    u.first_frame = static_cast<int>(frames_so_far);
                    if (p.clip_frames) {
                        u.frames = frameImages(*p.clip_frames);
                        frames_so_far += p.clip_frames->frames;
                    }
                    break;
                }
                post(std::move(u));
            });
            if (!result) return result.status();
            const DicodeRecipeInfo info{state->folder, state->model_hash, state->backend->info().name, 0};
            DicodeUpdate done;
            done.kind = DicodeUpdate::Kind::Done;
            done.keyframe = static_cast<int>(result->keyframes);
            done.keyframes = static_cast<int>(r.keyframes);
            done.clip = static_cast<int>(result->clips);
            done.clips = static_cast<int>(r.keyframes - 1);
            done.steps = static_cast<int>(r.ddim_steps);
            done.fps = result->fps;
            done.cancelled = result->cancelled;
            done.recipe = QByteArray::fromStdString(dicodeRecipe(r, *result, info).dump());
            done.token_bits.resize(result->tokens.size());
            std::memcpy(done.token_bits.data(), result->tokens.data(),
                        done.token_bits.size() * sizeof(float));
            // The whole video again (the clips' reports may have been dropped by a detached feed).
            done.frames = frameImages(result->video);
            post(std::move(done));
            return Status();
        };
    }

    void setEngineThreads(int threads) override { state_->backend->setActiveThreads(threads); }
    std::pair<int, int> engineThreads() const override {
        return {state_->backend->activeThreads(), state_->backend->info().threads};
    }

    // Deep tokens have no pixels of their own and no grid to decode.
    Expected<ImageRgb8> decode(const std::vector<int32_t>&) override {
        return Status::error("DiCoDe deep tokens are decoded clip by clip by the video diffusion model; "
                             "there is no single-grid decode");
    }

private:
    struct State {
        std::mutex mutex;
        std::unique_ptr<Backend> backend;
        std::unique_ptr<DicodePipeline> pipeline;
        std::string folder, model_hash;
        ~State() { pipeline.reset(); } // before the backend that holds its tensors
    };
    std::shared_ptr<State> state_;
    std::shared_ptr<DicodeFeed> feed_;
    GeneratorInfo info_;
};

// A JSON integer at `path` (keys), or `fallback`.
int64_t intAt(const nlohmann::json& j, std::initializer_list<const char*> path, int64_t fallback) {
    const nlohmann::json* cur = &j;
    for (const char* k : path) {
        if (!cur->is_object() || !cur->contains(k)) return fallback;
        cur = &(*cur)[k];
    }
    return cur->is_number_integer() ? cur->get<int64_t>() : fallback;
}

} // namespace

// ---- probing and loading ----------------------------------------------------------------------------------

DicodeProbe probeDicode(const std::string& folder) {
    DicodeProbe p;
    p.dicode = DicodePipeline::isDicodeFolder(folder);
    if (!p.dicode) return p;
    std::ifstream in(fs::path(folder) / "config.json");
    const nlohmann::json c = nlohmann::json::parse(in, nullptr, false);
    if (c.is_discarded() || !c.is_object()) {
        p.error = QObject::tr("config.json is not valid JSON");
        return p;
    }
    DicodeLlmConfig lc;
    lc.num_img_tokens = intAt(c, {"llm", "agent", "num_img_tokens"}, lc.num_img_tokens);
    lc.text_length = intAt(c, {"llm", "generate_kwargs", "text_length"}, lc.text_length);
    lc.max_length = intAt(c, {"llm", "generate_kwargs", "max_length"}, lc.max_length);
    const int64_t positions = intAt(c, {"llm", "gpt2", "n_positions"}, 1024);
    const int64_t layers = intAt(c, {"llm", "gpt2", "n_layer"}, 0),
                  width = intAt(c, {"llm", "gpt2", "n_embd"}, 0);
    // The frame embeddings' rows, from the safetensors header (the weights are not read).
    auto st = SafetensorsFile::open((fs::path(folder) / "model.safetensors").string());
    if (st) {
        if (const TensorInfo* t = (*st)->find("llm_agent.video_pos_token.frame_token");
            t && !t->shape.empty())
            lc.max_frames = t->shape[0];
    } else {
        p.error = QString::fromStdString(st.error());
    }
    p.max_keyframes = static_cast<int>(lc.maxKeyframes(positions));
    p.kv_cache_bytes = 2 * 2 * layers * std::min(lc.max_length, positions) * width * 4;
    const nlohmann::json& params = c.contains("tokenizer_model")
                                       ? c["tokenizer_model"].value("params", nlohmann::json::object())
                                       : nlohmann::json::object();
    p.frames_per_clip = static_cast<int>(intAt(params, {"unet_config", "params", "temporal_length"}, 0));
    int64_t factor = 1;
    if (params.contains("first_stage_config")) {
        const nlohmann::json& dd = params["first_stage_config"].value("params", nlohmann::json::object());
        if (dd.contains("ddconfig") && dd["ddconfig"].contains("ch_mult") &&
            dd["ddconfig"]["ch_mult"].is_array())
            factor = int64_t{1} << (std::max<size_t>(1, dd["ddconfig"]["ch_mult"].size()) -
                                    1); // SD KL-f8: 4 levels
    }
    if (params.contains("image_size") && params["image_size"].is_array() &&
        params["image_size"].size() == 2 && params["image_size"][0].is_number_integer() &&
        params["image_size"][1].is_number_integer()) {
        p.height = static_cast<int>(params["image_size"][0].get<int64_t>() * factor);
        p.width = static_cast<int>(params["image_size"][1].get<int64_t>() * factor);
    }
    if (p.error.isEmpty() && !fs::exists(fs::path(folder) / kDicodeConstantsFile))
        p.error = QObject::tr("%1 is missing (text_context, uc_img_tokens)").arg(kDicodeConstantsFile);
    return p;
}

Expected<std::shared_ptr<DicodeGenerator>> loadDicodeGenerator(const std::string& folder,
                                                               const std::string& backend_name) {
    auto backend = createBackend(backend_name);
    if (!backend) return backend.status();
    auto pipeline = DicodePipeline::load(folder, **backend);
    if (!pipeline) return pipeline.status();
    std::shared_ptr<DicodeGenerator> g =
        std::make_shared<DicodeGeneratorImpl>(std::move(*backend), std::move(*pipeline), folder);
    return g;
}

} // namespace tessera::widgets
