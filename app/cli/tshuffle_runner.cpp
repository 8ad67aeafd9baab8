#include "cli/tshuffle_runner.h"

#include "cli/cli.h"
#include "cli/janus_runner.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/recipe.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::cli {

Expected<TokenShuffleRunResult> runTokenShuffle(const TokenShuffleRun& run) {
    const auto t0 = std::chrono::steady_clock::now();
    auto backend = createRunBackend(run.backend, run.threads, run.precision);
    if (!backend) return backend.status();
    auto pipeline = TokenShufflePipeline::load(run.model_dir, **backend);
    if (!pipeline) return pipeline.status();
    auto hash = modelIdentityHash(run.model_dir);
    if (!hash) return hash.status();
    auto est = (*pipeline)->estimate(run.request);
    if (!est) return est.status();
    if (run.progress)
        std::fprintf(stderr,
                     "token-shuffle: %lldx%lld px, window %lld, %lld steps; memory bound %.1f MB (weights "
                     "%.1f, KV cache %.1f, "
                     "VQ window %.1f, image %.1f, runtime %.1f); decode floor %.0f ms at %.0f GB/s\n",
                     static_cast<long long>(est->image_size), static_cast<long long>(est->image_size),
                     static_cast<long long>(est->window), static_cast<long long>(est->steps),
                     est->peak_bytes_bound / 1e6, (est->weight_bytes + est->vq_weight_bytes) / 1e6,
                     est->kv_cache_bytes / 1e6, est->vq_window_bytes / 1e6, est->output_bytes / 1e6,
                     est->runtime_bytes / 1e6, est->decode_floor_ms, est->bandwidth_gbs);
    if (!run.preview_dir.empty()) fs::create_directories(run.preview_dir);
    if (fs::path(run.out_path).has_parent_path())
        fs::create_directories(fs::path(run.out_path).parent_path());

    const bool bar = run.progress && ::isatty(2);
    // Previews are written after the run (they are few: the budget keeps them within 3% of the time).
    std::vector<PreviewReady> previews;
    std::vector<std::vector<TokenSampled>> token_events(static_cast<size_t>(std::max(0, run.request.images)));
    auto sink = [&](const Event& e) {
        if (const auto* ts = std::get_if<TokenSampled>(&e)) {
            if (ts->image >= 0 && static_cast<size_t>(ts->image) < token_events.size())
                token_events[static_cast<size_t>(ts->image)].push_back(*ts);
        } else if (const auto* t = std::get_if<StepTiming>(&e)) {
            if (bar) {
                const int width = 30, filled = t->total ? width * t->step / t->total : 0;
                std::fprintf(stderr, "\r[%.*s%*s] %d/%d windows  %.1f tok/s ", filled,
                             "##############################", width - filled, "", t->step, t->total,
                             t->tokens_per_s);
                if (t->step == t->total) std::fprintf(stderr, "\n");
            }
        } else if (const auto* p = std::get_if<PreviewReady>(&e)) {
            if (!p->final && !run.preview_dir.empty()) previews.push_back(*p);
        }
    };
    std::atomic<bool> never{false};
    JobContext ctx(0, sink, &never);
    auto result = (*pipeline)->generate(run.request, ctx);
    if (!result) return result.status();
    for (const PreviewReady& p : previews) {
        char name[64];
        std::snprintf(name, sizeof name, "preview-img%d-%06d.png", p.image, p.tokens_done);
        if (Status s =
                writePng((fs::path(run.preview_dir) / name).string(), ImageRgb8{p.width, p.height, *p.rgb});
            !s.ok())
            return s;
    }

    TokenShuffleRunResult out;
    const BackendInfo bi = (*backend)->info();
    for (int i = 0; i < run.request.images; ++i) {
        Recipe r;
        r.method = "token-shuffle";
        r.model_dir = run.model_dir;
        r.model_name = fs::path(run.model_dir).filename().string();
        if (r.model_name.empty()) r.model_name = fs::path(run.model_dir).parent_path().filename().string();
        r.model_hash = *hash;
        r.model_layout = "token-shuffle";
        r.prompt = run.request.prompt;
        r.seed = run.request.seed;
        r.sampler = run.request.sampler;
        r.decode = run.request.decode;
        r.images = run.request.images;
        r.image_index = i;
        r.grid_h = r.grid_w = static_cast<int>(result->grid);
        r.backend = bi.name;
        r.precision = run.precision;
        r.threads = bi.threads;
        r.cancelled = result->cancelled;
        r.tokens = result->tokens[static_cast<size_t>(i)];
        auto text = r.toPngText();
        // What the recipe record has no field for: the window, the schedule, and that `tokens` are in
        // decode (window) order — what TokenShuffleRequest::forced takes to replay them.
        text["tessera-token-shuffle"] = nlohmann::json{
            {"window", result->window},
            {"cfg_schedule", cfgScheduleName(run.request.cfg_schedule)},
            {"token_order", "window"},
            {"vq_tile", run.request.vq_tile},
            {"vq_halo",
             run.request.vq_halo}}.dump();
        const std::string path = outputPathFor(run.out_path, i);
        if (Status s = writePng(path, result->images[static_cast<size_t>(i)], text); !s.ok()) return s;
        out.written.push_back(path);
        out.recipes.push_back(std::move(r));
    }
    out.token_events = std::move(token_events);
    out.result = std::move(*result);
    out.estimate = *est;
    out.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

Expected<TokenShuffleRun> tokenShuffleRunFromRecipe(const Recipe& recipe,
                                                    const std::map<std::string, std::string>& text) {
    if (recipe.method != "token-shuffle")
        return Status::error("the recipe is a " + recipe.method + " run, not a Token-Shuffle one");
    auto it = text.find("tessera-token-shuffle");
    if (it == text.end())
        return Status::error("the PNG has no tessera-token-shuffle record (window, CFG schedule, tiling)");
    const auto j = nlohmann::json::parse(it->second, nullptr, false);
    if (!j.is_object() || !j.contains("cfg_schedule") || !j["cfg_schedule"].is_string())
        return Status::error("the tessera-token-shuffle record is not a JSON object with a cfg_schedule");
    auto schedule = cfgScheduleFromName(j["cfg_schedule"].get<std::string>());
    if (!schedule) return Status::error("unknown CFG schedule " + j["cfg_schedule"].dump());
    if (j.value("token_order", std::string("window")) != "window")
        return Status::error("tokens in " + j["token_order"].dump() + " order cannot be replayed");
    TokenShuffleRun run;
    run.model_dir = recipe.model_dir;
    run.precision = recipe.precision.empty() ? "f32" : recipe.precision;
    run.request.prompt = recipe.prompt;
    run.request.seed = recipe.seed;
    run.request.sampler = recipe.sampler;
    run.request.decode = recipe.decode;
    run.request.images = recipe.images;
    run.request.grid = recipe.grid_h;
    run.request.cfg_schedule = *schedule;
    const auto tiling = [&](const char* key, int64_t fallback) -> int64_t {
        return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : fallback;
    };
    run.request.vq_tile = tiling("vq_tile", run.request.vq_tile);
    run.request.vq_halo = tiling("vq_halo", run.request.vq_halo);
    if (recipe.grid_h != recipe.grid_w || recipe.grid_h < 1)
        return Status::error("the recipe's grid is not square");
    return run;
}

namespace {

const char* const kBenchUsage =
    "Usage: tessera-cli bench tshuffle [--grid N] [--large-grid N] [--windows 1,2,4] [OPTIONS]\n\n"
    "Writes random Token-Shuffle checkpoints (docs/TOKEN_SHUFFLE.md) of one tiny Llama backbone, one per\n"
    "window size (same seed, so the same backbone), generates one image with each (CFG, previews off)\n"
    "and prints tokens/s, ms/step and the speed-up over the first window; then generates one s = 2\n"
    "image at --large-grid and prints its peak resident memory next to the pipeline's estimate and their\n"
    "ratio (peak_to_bound_ratio). One JSON line. The scratch checkpoints are removed afterwards.\n\n"
    "  --grid N            tokens per side of the speed runs (default 32 = 512x512)\n"
    "  --large-grid N      tokens per side of the memory run (default 128 = 2048x2048; 0 = skip)\n"
    "  --windows LIST      window sizes, from 1, 2, 4 (default 1,2,4)\n"
    "  --hidden D          backbone width (default 128); --layers L (default 2)\n"
    "  --threads T         CPU threads (default: all)\n"
    "  --seed N            weights and sampling (default 1)\n"
    "  --scratch-dir DIR   where the checkpoints are written (default: system temp)\n";

} // namespace

int cmdBenchTokenShuffle(int argc, char** argv) {
    CLI::App app;
    bench::TokenShuffleBenchOptions o;
    o.reference_dir = dataDir() + "/reference/janus_tiny";
    std::string windows;
    bool json = false;
    addInt(app, "--grid", o.grid, 4, 1024);
    addInt(app, "--large-grid", o.large_grid, 0, 1024);
    app.add_option("--windows", windows);
    addInt(app, "--hidden", o.shape.hidden, 16, 1 << 14);
    addInt(app, "--layers", o.shape.layers, 1, 256);
    addInt(app, "--threads", o.threads, 0, 4096);
    addSeed(app, "--seed", o.seed);
    app.add_option("--scratch-dir", o.scratch_dir);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench tshuffle", kBenchUsage, argc, argv)) return *rc;
    if (!windows.empty()) {
        o.windows.clear();
        for (char c : windows) {
            if (c == ',') continue;
            if (c != '1' && c != '2' && c != '4') {
                std::fprintf(stderr,
                             "error: --windows takes sizes from 1, 2, 4 separated by commas, got '%s'\n",
                             windows.c_str());
                return 2;
            }
            o.windows.push_back(c - '0');
        }
    }
    for (int64_t s : o.windows)
        if (o.grid % s != 0) {
            std::fprintf(stderr, "error: --grid %lld is not a multiple of window %lld\n",
                         static_cast<long long>(o.grid), static_cast<long long>(s));
            return 2;
        }
    if (o.large_grid % 2 != 0) {
        std::fprintf(stderr, "error: --large-grid must be even (it runs with window 2)\n");
        return 2;
    }
    if (o.shape.hidden % 16 != 0) {
        std::fprintf(stderr, "error: --hidden must be a multiple of 16 (window 4 splits it into 16 slots)\n");
        return 2;
    }
    auto r = bench::runTokenShuffleBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->dump().c_str());
    return 0;
}

} // namespace tessera::cli
