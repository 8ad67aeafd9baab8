// `tessera-cli generate`: Janus-Pro or Token-Shuffle text→image with live previews; PNGs carry their recipe.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/cli.h"
#include "cli/decode_options.h"
#include "cli/janus_runner.h"
#include "cli/project_store.h"
#include "cli/tshuffle_runner.h"
#include "tessera/engine/engine.h"

namespace tessera::cli {

namespace {

const char* kUsageBeforeDecode =
    "Usage: tessera-cli generate --prompt TEXT [options]\n\n"
    "Generates images with a Janus-Pro checkpoint, token by token, or with a Token-Shuffle checkpoint\n"
    "(config.json with a \"token_shuffle\" object, docs/TOKEN_SHUFFLE.md), one s x s window per step.\n\n"
    "Options:\n"
    "  --model DIR          checkpoint folder (transformers or DeepSeek layout; default: the built-in\n"
    "                       shapes-janus of resources/models, or TESSERA_MODELS_DIR; the untrained\n"
    "                       smoke-test janus_tiny where that is missing)\n"
    "  --overlay FILE       apply an EAR delta (tessera-cli erase --out, or an official release's\n"
    "                       safetensors) to the LM: the model plus the delta is the model; recorded in\n"
    "                       the recipe with its sha256\n"
    "  --prompt TEXT        what to draw\n"
    "  --seed N             random seed (default: a fresh one, printed)\n"
    "  --cfg W              classifier-free guidance weight (default 5)\n"
    "  --temperature T      sampling temperature, 0 = greedy (default 1)\n"
    "  --top-k K            keep the K most likely tokens, 0 = off (default 0)\n"
    "  --top-p P            nucleus sampling, 1 = off (default 1)\n"
    "  --min-p P            drop tokens below P x the most likely one, 0 = off (default 0)\n"
    "  --images N           images generated in parallel (default 1)\n";
const char* kUsageAfterDecode =
    "  --out FILE.png       output; image i > 0 goes to FILE-i.png (default out/tessera.png)\n"
    "  --preview-dir DIR    write partial previews there as they are decoded\n"
    "  --preview-every N    preview cadence in tokens (default: once per grid row)\n"
    "  --backend B          cpu | cuda | auto (default cpu)\n"
    "  --threads N          CPU threads (default: all)\n"
    "  --precision P        f32 (default) or bf16: activations rounded to bf16 where they meet bf16\n"
    "                       weights, on bf16 hardware (AMX) where present; recorded in the recipe\n"
    "  --project DIR        also store the generation (tokens, statistics, image) in that project\n"
    "                       folder, creating it when absent\n"
    "  --json               print a JSON summary on stdout (with --decode sjd: LM steps, drafts\n"
    "                       accepted and, per image, the step that made each cell final)\n"
    "Token-Shuffle only:\n"
    "  --grid N             image side in VQ tokens, a multiple of the window (default: the config's;\n"
    "                       128 = 2048x2048 with a 16x VQ decoder)\n"
    "  --cfg-schedule S     half-linear (default), constant, linear or cosine; recorded in the PNG\n"
    "  --estimate           print the time/memory estimate as JSON and exit without generating\n"
    "  (--preview-every counts windows; --project stores tokens in decode order, window by window;\n"
    "   --sjd-window counts s x s windows, each accepted when all its s*s drafts pass)\n";

namespace {

// With SJD: the window, the initialisation, drafts accepted, LANTERN's parameters and, per image and
// cell, the LM step that made the cell final.
void addSjdJson(nlohmann::json& j, const DecodeSettings& decode, int64_t drafts_accepted,
                const std::vector<std::vector<TokenSampled>>& token_events, int64_t cells) {
    if (decode.strategy != DecodeStrategy::Sjd) return;
    j["sjd_window"] = decode.window;
    j["sjd_init"] = sjdInitName(decode.init);
    j["drafts_accepted"] = drafts_accepted;
    if (decode.lantern_k > 0) {
        j["lantern_k"] = decode.lantern_k;
        j["lantern_delta"] = decode.lantern_delta;
        j["lossy"] = true;
    }
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& events : token_events) {
        std::vector<int> of_cell(static_cast<size_t>(cells), -1);
        for (const TokenSampled& t : events)
            if (t.position >= 0 && t.position < cells) of_cell[static_cast<size_t>(t.position)] = t.step;
        steps.push_back(of_cell);
    }
    j["step_of_cell"] = steps;
}

void printSjdSummary(const DecodeSettings& decode, int64_t lm_steps, int64_t cells, int64_t drafts_accepted) {
    if (decode.strategy != DecodeStrategy::Sjd) return;
    std::printf("speculative Jacobi decoding (window %d, %s init): %lld LM steps for %lld tokens per image, %lld "
                "drafts accepted\n",
                decode.window, sjdInitName(decode.init), static_cast<long long>(lm_steps),
                static_cast<long long>(cells), static_cast<long long>(drafts_accepted));
}

} // namespace

// The Token-Shuffle path of `generate`: the shared options, plus grid, schedule and --estimate.
int generateTokenShuffle(const JanusRun& jr, int64_t grid, CfgSchedule schedule, bool estimate_only, bool json,
                         const std::string& project) {
    TokenShuffleRun run;
    run.model_dir = jr.model_dir;
    run.backend = jr.backend;
    run.threads = jr.threads;
    run.precision = jr.precision;
    run.out_path = jr.out_path;
    run.preview_dir = jr.preview_dir;
    run.progress = jr.progress;
    run.request.prompt = jr.request.prompt;
    run.request.seed = jr.request.seed;
    run.request.sampler = jr.request.sampler;
    run.request.decode = jr.request.decode;
    run.request.images = jr.request.images;
    run.request.preview_every = jr.request.preview_every;
    run.request.grid = grid;
    run.request.cfg_schedule = schedule;
    if (estimate_only) {
        auto be = createBackend(run.backend, run.threads);
        if (!be) {
            std::fprintf(stderr, "tessera-cli generate: %s\n", be.error().c_str());
            return 1;
        }
        auto p = TokenShufflePipeline::load(run.model_dir, **be);
        auto e = p ? (*p)->estimate(run.request) : Expected<TokenShuffleEstimate>(p.status());
        if (!e) {
            std::fprintf(stderr, "tessera-cli generate: %s\n", e.error().c_str());
            return 1;
        }
        nlohmann::json j = {{"image_size", e->image_size}, {"grid", e->grid}, {"window", e->window}, {"steps", e->steps},
                            {"prompt_tokens", e->prompt_tokens}, {"weight_bytes", e->weight_bytes},
                            {"vq_weight_bytes", e->vq_weight_bytes}, {"kv_cache_bytes", e->kv_cache_bytes},
                            {"vq_window_bytes", e->vq_window_bytes}, {"output_bytes", e->output_bytes},
                            {"runtime_bytes", e->runtime_bytes},
                            {"peak_bytes_bound", e->peak_bytes_bound}, {"step_floor_ms", e->step_floor_ms},
                            {"decode_floor_ms", e->decode_floor_ms}, {"bandwidth_gbs", e->bandwidth_gbs}};
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    auto r = runTokenShuffle(run);
    if (!r) {
        std::fprintf(stderr, "tessera-cli generate: %s\n", r.error().c_str());
        return 1;
    }
    std::vector<int64_t> generation_ids;
    if (!project.empty()) {
        Status s = storeInProject(project, run, *r, &generation_ids);
        if (!s.ok()) {
            std::fprintf(stderr, "tessera-cli generate: images written, but %s\n", s.message().c_str());
            return 1;
        }
    }
    const double tokens = static_cast<double>(r->result.grid * r->result.grid * run.request.images);
    if (json) {
        nlohmann::json j = {{"method", "token-shuffle"},
                            {"outputs", r->written},
                            {"seed", run.request.seed},
                            {"images", run.request.images},
                            {"grid", {r->result.grid, r->result.grid}},
                            {"window", r->result.window},
                            {"cfg_schedule", cfgScheduleName(schedule)},
                            {"steps", r->result.steps},
                            {"generate_ms", r->result.generate_ms},
                            {"tokens_per_s", r->result.generate_ms > 0 ? tokens * 1000.0 / r->result.generate_ms : 0.0},
                            {"preview_ms", r->result.preview_ms},
                            {"previews_decoded", r->result.previews_decoded},
                            {"vq_decode_ms", r->result.vq_decode_ms},
                            {"peak_bytes_bound", r->estimate.peak_bytes_bound},
                            {"cancelled", r->result.cancelled},
                            {"tokens", r->result.tokens},
                            {"generation_ids", generation_ids},
                            {"decode", decodeStrategyName(run.request.decode.strategy)}};
        addSjdJson(j, run.request.decode, r->result.drafts_accepted, r->token_events,
                   r->result.grid * r->result.grid);
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("seed %llu, %d image(s) of %lldx%lld tokens (window %lld, %lld steps) in %.0f ms, VQ decode %.0f ms\n",
                    static_cast<unsigned long long>(run.request.seed), run.request.images, static_cast<long long>(r->result.grid),
                    static_cast<long long>(r->result.grid), static_cast<long long>(r->result.window),
                    static_cast<long long>(r->result.steps), r->result.generate_ms, r->result.vq_decode_ms);
        printSjdSummary(run.request.decode, r->result.steps, r->result.grid * r->result.grid, r->result.drafts_accepted);
        for (const auto& p : r->written) std::printf("wrote %s\n", p.c_str());
        for (int64_t id : generation_ids)
            std::printf("stored generation %lld in %s\n", static_cast<long long>(id), project.c_str());
    }
    return 0;
}

} // namespace

int cmdGenerate(int argc, char** argv) {
    CLI::App app;
    JanusRun run;
    run.model_dir = defaultModelDir();
    run.out_path = "out/tessera.png";
    std::string project;
    bool json = false;
    app.add_option("--model", run.model_dir);
    app.add_option("--prompt", run.request.prompt);
    app.add_option("--overlay", run.overlay);
    auto* seed = addSeed(app, "--seed", run.request.seed);
    addNumber(app, "--cfg", run.request.sampler.cfg, -1e4, 1e4);
    addNumber(app, "--temperature", run.request.sampler.temperature, 0, 1e4);
    addInt(app, "--top-k", run.request.sampler.top_k, 0, 1 << 30);
    addNumber(app, "--top-p", run.request.sampler.top_p, 0, 1);
    addNumber(app, "--min-p", run.request.sampler.min_p, 0, 1);
    addInt(app, "--images", run.request.images, 1, 64);
    app.add_option("--out", run.out_path);
    app.add_option("--preview-dir", run.preview_dir);
    addInt(app, "--preview-every", run.request.preview_every, 0, 1 << 20);
    app.add_option("--backend", run.backend);
    addInt(app, "--threads", run.threads, 0, 4096);
    app.add_option("--precision", run.precision)->check(CLI::IsMember({"f32", "bf16"}));
    app.add_option("--project", project);
    app.add_flag("--json", json);
    int64_t grid = 0;
    std::string schedule = "half-linear";
    bool estimate_only = false;
    app.add_option("--grid", grid)->check(CLI::Range(int64_t{1}, int64_t{1024}));
    app.add_option("--cfg-schedule", schedule)->check(CLI::IsMember({"half-linear", "constant", "linear", "cosine"}));
    app.add_flag("--estimate", estimate_only);
    DecodeOptions decode;
    addDecodeOptions(app, decode, run.request.decode);
    const std::string usage = std::string(kUsageBeforeDecode) + kDecodeUsage + kUsageAfterDecode;
    if (auto rc = parseCommandLine(app, "generate", usage, argc, argv)) return *rc;
    if (!app.count("--prompt")) {
        std::fprintf(stderr, "tessera-cli generate: --prompt is required (see --help)\n");
        return 2;
    }
    if (!validUtf8(run.request.prompt)) {
        std::fprintf(stderr, "tessera-cli generate: --prompt is not valid UTF-8 text\n");
        return 2;
    }
    if (!seed->count()) run.request.seed = std::random_device{}();
    if (std::string e = applyDecodeOptions(app, decode, run.request.decode); !e.empty()) {
        std::fprintf(stderr, "tessera-cli generate: %s\n", e.c_str());
        return 2;
    }
    if (!run.overlay.empty() && TokenShufflePipeline::isTokenShuffleFolder(run.model_dir)) {
        std::fprintf(stderr, "tessera-cli generate: --overlay applies EAR deltas to Janus models, not to Token-Shuffle\n");
        return 2;
    }
    run.progress = !json;

    if (TokenShufflePipeline::isTokenShuffleFolder(run.model_dir))
        return generateTokenShuffle(run, grid, *cfgScheduleFromName(schedule), estimate_only, json,
                                    app.count("--project") ? project : std::string());
    if (app.count("--grid") || app.count("--cfg-schedule") || estimate_only) {
        std::fprintf(stderr, "tessera-cli generate: --grid, --cfg-schedule and --estimate need a Token-Shuffle checkpoint\n");
        return 2;
    }

    auto r = runJanus(run);
    if (!r) {
        std::fprintf(stderr, "tessera-cli generate: %s\n", r.error().c_str());
        return 1;
    }
    std::vector<int64_t> generation_ids;
    if (app.count("--project")) {
        Status s = storeInProject(project, run, *r, &generation_ids);
        if (!s.ok()) {
            std::fprintf(stderr, "tessera-cli generate: images written, but %s\n", s.message().c_str());
            return 1;
        }
    }
    const double preview_pct = r->result.generate_ms > 0 ? 100.0 * r->result.preview_ms / r->result.generate_ms : 0;
    if (json) {
        nlohmann::json j = {{"outputs", r->written},
                            {"seed", run.request.seed},
                            {"images", run.request.images},
                            {"grid", {r->result.grid_h, r->result.grid_w}},
                            {"generate_ms", r->result.generate_ms},
                            {"preview_ms", r->result.preview_ms},
                            {"preview_overhead_percent", preview_pct},
                            {"previews_decoded", r->result.previews_decoded},
                            {"previews_approximate", r->result.previews_approximate},
                            {"preview_calibration_ms", r->info.preview_calibration_ms},
                            {"cancelled", r->result.cancelled},
                            {"tokens", r->result.tokens},
                            {"generation_ids", generation_ids},
                            {"decode", decodeStrategyName(run.request.decode.strategy)},
                            {"decode_steps", r->result.decode_steps}};
        addSjdJson(j, run.request.decode, r->result.drafts_accepted, r->token_events,
                   static_cast<int64_t>(r->result.grid_h) * r->result.grid_w);
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("seed %llu, %d image(s) of %dx%d tokens in %.0f ms (previews %.2f%% of generation time)\n",
                    static_cast<unsigned long long>(run.request.seed), run.request.images, r->result.grid_h, r->result.grid_w,
                    r->result.generate_ms, preview_pct);
        printSjdSummary(run.request.decode, r->result.decode_steps, static_cast<int64_t>(r->result.grid_h) * r->result.grid_w,
                        r->result.drafts_accepted);
        for (const auto& p : r->written) std::printf("wrote %s\n", p.c_str());
        for (int64_t id : generation_ids) std::printf("stored generation %lld in %s\n", static_cast<long long>(id), project.c_str());
    }
    return 0;
}

} // namespace tessera::cli
