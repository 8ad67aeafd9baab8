#include "tessera/widgets/token_shuffle_generator.h"

#include "tessera/engine/engine.h"
#include "tessera/engine/token_shuffle.h"
#include "tessera/widgets/janus_generator.h"

#include <QFileInfo>
#include <QObject>
#include <mutex>

namespace tessera::widgets {

namespace {

class TokenShuffleGenerator : public Generator {
public:
    TokenShuffleGenerator(std::unique_ptr<Backend> backend, std::unique_ptr<TokenShufflePipeline> pipeline,
                          const std::string& folder)
        : state_(std::make_shared<State>()) {
        state_->backend = std::move(backend);
        state_->pipeline = std::move(pipeline);
        const TokenShuffleInfo& ti = state_->pipeline->info();
        info_.name = QFileInfo(QString::fromStdString(folder)).fileName();
        info_.family = "token-shuffle";
        info_.rows = info_.cols = static_cast<int>(ti.grid);
        info_.codebook = static_cast<int>(ti.codebook);
        info_.weight_bytes = ti.weight_bytes + ti.vq_weight_bytes;
        info_.note = smokeTestNote(folder, info_.name, ti.weight_bytes);
    }

    GeneratorInfo info() const override { return info_; }

    JobFn makeJob(const GenerationRequest& request) override {
        TokenShuffleRequest r;
        r.prompt = request.settings.prompt.toStdString();
        r.seed = request.settings.seed;
        r.sampler.temperature = static_cast<float>(request.settings.temperature);
        r.sampler.top_k = request.settings.top_k;
        r.sampler.top_p = static_cast<float>(request.settings.top_p);
        r.sampler.cfg = static_cast<float>(request.settings.cfg);
        r.images = std::max(1, request.settings.images);
        r.report_top_k = 5;
        r.decode = request.settings.decodeSettings(); // SJD windows count s×s windows here
        // Branches force tokens in decode order, which is what the pipeline takes (window by window).
        if (!request.forced.empty()) r.forced.assign(static_cast<size_t>(r.images), request.forced);
        auto state = state_;
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
        return state_->pipeline->decode(tokens, info_.rows);
    }

private:
    struct State {
        std::mutex mutex;
        std::unique_ptr<Backend> backend;
        std::unique_ptr<TokenShufflePipeline> pipeline;
        ~State() { pipeline.reset(); } // before the backend that holds its tensors
    };
    std::shared_ptr<State> state_;
    GeneratorInfo info_;
};

} // namespace

Expected<std::shared_ptr<Generator>> loadTokenShuffleGenerator(const std::string& folder,
                                                               const std::string& backend_name) {
    auto backend = createBackend(backend_name);
    if (!backend) return backend.status();
    auto pipeline = TokenShufflePipeline::load(folder, **backend);
    if (!pipeline) return pipeline.status();
    std::shared_ptr<Generator> g =
        std::make_shared<TokenShuffleGenerator>(std::move(*backend), std::move(*pipeline), folder);
    return g;
}

Expected<std::shared_ptr<Generator>> loadGenerator(const std::string& folder, const std::string& backend) {
    if (TokenShufflePipeline::isTokenShuffleFolder(folder)) return loadTokenShuffleGenerator(folder, backend);
    return loadJanusGenerator(folder, backend);
}

} // namespace tessera::widgets
