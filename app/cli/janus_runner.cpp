#include "cli/janus_runner.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tessera/engine/engine.h"

namespace fs = std::filesystem;

namespace tessera::cli {

std::string outputPathFor(const std::string& out, int index) {
    if (index == 0) return out;
    fs::path p(out);
    return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
}

Expected<JanusRunResult> runJanus(const JanusRun& run) {
    const auto t0 = std::chrono::steady_clock::now();
    auto backend = createBackend(run.backend, run.threads);
    if (!backend) return backend.status();
    auto pipeline = JanusPipeline::load(run.model_dir, **backend);
    if (!pipeline) return pipeline.status();
    auto hash = modelIdentityHash(run.model_dir);
    if (!hash) return hash.status();
    if (!run.preview_dir.empty()) fs::create_directories(run.preview_dir);
    if (fs::path(run.out_path).has_parent_path()) fs::create_directories(fs::path(run.out_path).parent_path());

    const bool bar = run.progress && ::isatty(2);
    Status preview_error;
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
            if (run.preview_dir.empty() || p->final) return;
            ImageRgb8 img{p->width, p->height, *p->rgb};
            char name[64];
            std::snprintf(name, sizeof name, "preview-img%d-%04d.png", p->image, p->tokens_done);
            Status s = writePng((fs::path(run.preview_dir) / name).string(), img);
            if (!s.ok() && preview_error.ok()) preview_error = s;
        }
    };
    std::atomic<bool> never{false};
    JobContext ctx(0, sink, &never);
    auto result = (*pipeline)->generate(run.request, ctx);
    if (!result) return result.status();
    if (!preview_error.ok()) return preview_error;

    JanusRunResult out;
    out.info = (*pipeline)->info();
    const BackendInfo bi = (*backend)->info();
    for (int i = 0; i < run.request.images; ++i) {
        Recipe r;
        r.model_dir = run.model_dir;
        r.model_name = fs::path(run.model_dir).filename().string();
        if (r.model_name.empty()) r.model_name = fs::path(run.model_dir).parent_path().filename().string();
        r.model_hash = *hash;
        r.model_layout = out.info.layout;
        r.prompt = run.request.prompt;
        r.seed = run.request.seed;
        r.sampler = run.request.sampler;
        r.images = run.request.images;
        r.image_index = i;
        r.grid_h = result->grid_h;
        r.grid_w = result->grid_w;
        r.backend = bi.name;
        r.precision = "f32";
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
