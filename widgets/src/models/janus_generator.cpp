#include "tessera/widgets/janus_generator.h"

#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/recipe.h"
#include "tessera/engine/train_ear.h"

#include <QDir>
#include <QFileInfo>
#include <filesystem>
#include <mutex>

namespace tessera::widgets {

QString smokeTestNote(const std::string& folder, const QString& name, size_t weight_bytes) {
    const bool has_card = QFileInfo::exists(QString::fromStdString(folder) + "/MODEL.md");
    if (weight_bytes >= kSmokeTestWeightBytes || has_card) return {};
    return QObject::tr("%1: untrained smoke-test model (random weights), its pictures are noise by design").arg(name);
}

namespace {

// A pipeline for `folder`, with `overlay` applied when given (its hash checked against `sha256`).
Expected<std::unique_ptr<JanusPipeline>> loadPipeline(const std::string& folder, Backend& backend,
                                                      const std::string& overlay, const std::string& sha256) {
    auto pipeline = JanusPipeline::load(folder, backend);
    if (!pipeline) return pipeline.status();
    if (overlay.empty()) return std::move(*pipeline);
    auto hash = checkOverlayFile(overlay, sha256);
    if (!hash) return hash.status();
    auto delta = train::loadEarOverlay(overlay, (*pipeline)->lmLayout(), backend);
    if (!delta) return Status::error("the delta " + overlay + ": " + delta.error());
    if (Status s = (*pipeline)->applyOverlay(*delta); !s.ok())
        return Status::error("the delta " + overlay + " does not fit " + folder + ": " + s.message());
    return std::move(*pipeline);
}

class JanusGenerator : public Generator {
public:
    JanusGenerator(std::unique_ptr<Backend> backend, std::unique_ptr<JanusPipeline> pipeline,
                   std::string folder, std::string backend_name, std::string overlay,
                   std::string overlay_sha256)
        : state_(std::make_shared<State>()) {
        state_->backend = std::move(backend);
        state_->pipeline = std::move(pipeline);
        state_->folder = folder;
        state_->backend_name = backend_name;
        const JanusInfo& ji = state_->pipeline->info();
        info_.name = QFileInfo(QString::fromStdString(folder)).fileName();
        if (!overlay.empty()) {
            info_.name += " + " + QFileInfo(QString::fromStdString(overlay)).completeBaseName();
            info_.overlay_path = QString::fromStdString(overlay);
            info_.overlay_sha256 = QString::fromStdString(overlay_sha256);
        }
        info_.family = "janus";
        info_.rows = ji.grid_h;
        info_.cols = ji.grid_w;
        info_.codebook = ji.codebook;
        info_.weight_bytes = ji.weight_bytes;
        info_.note = smokeTestNote(folder, info_.name, ji.weight_bytes);
    }

    GeneratorInfo info() const override { return info_; }

    JobFn makeJob(const GenerationRequest& request) override {
        JanusRequest r;
        r.prompt = request.settings.prompt.toStdString();
        r.seed = request.settings.seed;
        r.sampler.temperature = static_cast<float>(request.settings.temperature);
        r.sampler.top_k = request.settings.top_k;
        r.sampler.top_p = static_cast<float>(request.settings.top_p);
        r.sampler.cfg = static_cast<float>(request.settings.cfg);
        r.images = std::max(1, request.settings.images);
        r.report_top_k = 5;
        r.decode = request.settings.decodeSettings();
        if (!request.forced.empty()) r.forced.assign(static_cast<size_t>(r.images), request.forced);
        auto state = state_;
        const std::string overlay = request.settings.overlay.toStdString();
        const std::string sha = request.settings.overlay_sha256.toStdString();
        if (!overlay.empty() && (request.settings.overlay != info_.overlay_path ||
                                 request.settings.overlay_sha256 != info_.overlay_sha256))
            // A record made with another delta (a re-run): the model plus that delta, loaded for this
            // generation only (a second copy of the weights while it runs), so the loaded one is untouched.
            return [state, r, overlay, sha](JobContext& ctx) -> Status {
                std::lock_guard<std::mutex> lock(state->mutex);
                auto backend = createBackend(state->backend_name);
                if (!backend) return backend.status();
                auto pipeline = loadPipeline(state->folder, **backend, overlay, sha);
                if (!pipeline) return pipeline.status();
                auto result = (*pipeline)->generate(r, ctx);
                pipeline->reset(); // before its backend
                return result ? Status() : result.status();
            };
        if (!info_.overlay_path.isEmpty())
            // The loaded delta: refuse to draw with it once its file is gone or changed, as a replay would.
            return [state, r, overlay, sha](JobContext& ctx) -> Status {
                std::lock_guard<std::mutex> lock(state->mutex);
                if (auto h = checkOverlayFile(overlay, sha); !h) return h.status();
                auto result = state->pipeline->generate(r, ctx);
                return result ? Status() : result.status();
            };
        return [state, r](JobContext& ctx) -> Status {
            // One backend is driven by one thread at a time.
            std::lock_guard<std::mutex> lock(state->mutex);
            auto result = state->pipeline->generate(r, ctx);
            return result ? Status() : result.status();
        };
    }

    void setEngineThreads(int threads) override { state_->backend->setActiveThreads(threads); }
    std::pair<int, int> engineThreads() const override {
        return {state_->backend->activeThreads(), state_->backend->info().threads};
    }

    Expected<ImageRgb8> decode(const std::vector<int32_t>& tokens) override {
        std::lock_guard<std::mutex> lock(state_->mutex);
        return state_->pipeline->decode(tokens);
    }

private:
    struct State {
        std::mutex mutex;
        std::unique_ptr<Backend> backend;
        std::unique_ptr<JanusPipeline> pipeline;
        std::string folder, backend_name;
        ~State() { pipeline.reset(); } // before the backend that holds its tensors
    };
    std::shared_ptr<State> state_;
    GeneratorInfo info_;
};

} // namespace

Expected<std::shared_ptr<Generator>> loadJanusGenerator(const std::string& folder,
                                                        const std::string& backend_name) {
    return loadJanusGenerator(folder, backend_name, std::string());
}

Expected<std::string> checkOverlayFile(const std::string& overlay, const std::string& expected_sha256) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(overlay, ec))
        return Status::error("the delta file " + overlay + " is missing (the model plus it cannot be used)");
    auto hash = fileHash(overlay);
    if (!hash) return Status::error("the delta file " + overlay + ": " + hash.error());
    if (!expected_sha256.empty() && *hash != expected_sha256)
        return Status::error("the delta file " + overlay + " has changed (sha256 " + hash->substr(0, 12) +
                             ", expected " + expected_sha256.substr(0, 12) + ")");
    return *hash;
}

Expected<std::shared_ptr<Generator>> loadJanusGenerator(const std::string& folder,
                                                        const std::string& backend_name,
                                                        const std::string& overlay,
                                                        const std::string& expected_sha256) {
    std::string sha;
    if (!overlay.empty()) {
        auto h = checkOverlayFile(overlay, expected_sha256);
        if (!h) return h.status();
        sha = *h;
    }
    auto backend = createBackend(backend_name);
    if (!backend) return backend.status();
    auto pipeline = loadPipeline(folder, **backend, overlay, sha);
    if (!pipeline) return pipeline.status();
    std::shared_ptr<Generator> g = std::make_shared<JanusGenerator>(std::move(*backend), std::move(*pipeline),
                                                                    folder, backend_name, overlay, sha);
    return g;
}

} // namespace tessera::widgets
