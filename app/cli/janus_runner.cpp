#include "cli/janus_runner.h"
#include "tessera/engine/train_ear.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cstdio>
#include <filesystem>

#include "tessera/engine/engine.h"

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

// Writes preview PNGs in the background, in arrival order.
class PreviewWriter {
public:
    explicit PreviewWriter(std::string dir) : dir_(std::move(dir)) {
        if (!dir_.empty()) thread_ = std::thread([this] { loop(); });
    }
    ~PreviewWriter() { finish(); }
    void post(const PreviewReady& p) {
        if (dir_.empty()) return;
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(p);
        wake_.notify_one();
    }
    Status finish() {
        if (thread_.joinable()) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                done_ = true;
            }
            wake_.notify_one();
            thread_.join();
        }
        return error_;
    }

private:
    void loop() {
        for (;;) {
            PreviewReady p;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return done_ || !queue_.empty(); });
                if (queue_.empty()) return;
                p = std::move(queue_.front());
                queue_.pop_front();
            }
            char name[64];
            std::snprintf(name, sizeof name, "preview-img%d-%04d.png", p.image, p.tokens_done);
            Status s = writePng((fs::path(dir_) / name).string(), ImageRgb8{p.width, p.height, *p.rgb});
            if (!s.ok() && error_.ok()) error_ = s;
        }
    }
    std::string dir_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<PreviewReady> queue_;
    bool done_ = false;
    Status error_;
};

} // namespace

std::string outputPathFor(const std::string& out, int index) {
    if (index == 0) return out;
    fs::path p(out);
    return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
}

Expected<std::unique_ptr<Backend>> createRunBackend(const std::string& name, int threads, const std::string& precision) {
    auto backend = createBackend(name, threads);
    if (!backend) return backend.status();
    if (precision != "f32" && precision != "bf16")
        return Status::error("precision must be f32 or bf16, not '" + precision + "'");
    try {
        (*backend)->setActivationDtype(precision == "bf16" ? DType::BF16 : DType::F32);
    } catch (const Error& e) {
        return Status::error(e.what());
    }
    return backend;
}

Expected<JanusRunResult> runJanus(const JanusRun& run) {
    const auto t0 = std::chrono::steady_clock::now();
    auto backend = createRunBackend(run.backend, run.threads, run.precision);
    if (!backend) return backend.status();
    auto pipeline = JanusPipeline::load(run.model_dir, **backend);
    if (!pipeline) return pipeline.status();
    std::string overlay_hash;
    if (!run.overlay.empty()) {
        auto overlay = train::loadEarOverlay(run.overlay, (*pipeline)->lmLayout(), **backend);
        if (!overlay) return overlay.status();
        if (Status s = (*pipeline)->applyOverlay(*overlay); !s.ok()) return Status::error(run.overlay + ": " + s.message());
        auto h = fileHash(run.overlay);
        if (!h) return h.status();
        overlay_hash = *h;
    }
    auto hash = modelIdentityHash(run.model_dir);
    if (!hash) return hash.status();
    if (!run.preview_dir.empty()) fs::create_directories(run.preview_dir);
    if (fs::path(run.out_path).has_parent_path()) fs::create_directories(fs::path(run.out_path).parent_path());

    const bool bar = run.progress && ::isatty(2);
    // Preview files are written by a thread of their own: event sinks run on the generation thread and
    // must not wait for the disk.
    PreviewWriter writer(run.preview_dir);
    std::vector<std::vector<TokenSampled>> token_events(static_cast<size_t>(std::max(0, run.request.images)));
    auto sink = [&](const Event& e) {
        if (const auto* ts = std::get_if<TokenSampled>(&e)) {
            token_events[static_cast<size_t>(ts->image)].push_back(*ts);
        } else if (const auto* t = std::get_if<StepTiming>(&e)) {
            if (bar) {
                const int width = 30, filled = t->total ? width * t->step / t->total : 0;
                std::fprintf(stderr, "\r[%.*s%*s] %d/%d tokens  %.1f tok/s ", filled, "##############################",
                             width - filled, "", t->step, t->total, t->tokens_per_s);
                if (t->step == t->total) std::fprintf(stderr, "\n");
            }
        } else if (const auto* p = std::get_if<PreviewReady>(&e)) {
            if (!p->final) writer.post(*p);
        }
    };
    std::atomic<bool> never{false};
    JobContext ctx(0, sink, &never);
    auto result = (*pipeline)->generate(run.request, ctx);
    if (!result) return result.status();
    if (Status s = writer.finish(); !s.ok()) return s;

    JanusRunResult out;
    out.info = (*pipeline)->info();
    const BackendInfo bi = (*backend)->info();
    for (int i = 0; i < run.request.images; ++i) {
        Recipe r;
        r.model_dir = run.model_dir;
        r.model_name = fs::path(run.model_dir).filename().string();
        if (r.model_name.empty()) r.model_name = fs::path(run.model_dir).parent_path().filename().string();
        r.model_hash = *hash;
        r.overlay_path = run.overlay;
        r.overlay_hash = overlay_hash;
        r.model_layout = out.info.layout;
        r.prompt = run.request.prompt;
        r.seed = run.request.seed;
        r.sampler = run.request.sampler;
        r.decode = run.request.decode;
        r.images = run.request.images;
        r.image_index = i;
        r.grid_h = result->grid_h;
        r.grid_w = result->grid_w;
        r.backend = bi.name;
        r.precision = run.precision;
        r.threads = bi.threads;
        r.cancelled = result->cancelled;
        r.tokens = result->tokens[static_cast<size_t>(i)];
        const std::string path = outputPathFor(run.out_path, i);
        Status s = writePng(path, result->images[static_cast<size_t>(i)], r.toPngText());
        if (!s.ok()) return s;
        out.written.push_back(path);
        out.recipes.push_back(std::move(r));
    }
    out.result = std::move(*result);
    out.token_events = std::move(token_events);
    out.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

} // namespace tessera::cli
