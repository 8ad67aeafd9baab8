// `tessera-cli generate`: Janus-Pro text→image with live previews; PNGs carry their recipe.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/cli.h"
#include "cli/janus_runner.h"
#include "cli/project_store.h"

namespace tessera::cli {

namespace {

const char* kUsage =
    "Usage: tessera-cli generate --prompt TEXT [options]\n\n"
    "Generates images with a Janus-Pro checkpoint, token by token.\n\n"
    "Options:\n"
    "  --model DIR          checkpoint folder (transformers or DeepSeek layout; default: the built-in\n"
    "                       janus_tiny, an untrained smoke-test model)\n"
    "  --prompt TEXT        what to draw\n"
    "  --seed N             random seed (default: a fresh one, printed)\n"
    "  --cfg W              classifier-free guidance weight (default 5)\n"
    "  --temperature T      sampling temperature, 0 = greedy (default 1)\n"
    "  --top-k K            keep the K most likely tokens, 0 = off (default 0)\n"
    "  --top-p P            nucleus sampling, 1 = off (default 1)\n"
    "  --min-p P            drop tokens below P x the most likely one, 0 = off (default 0)\n"
    "  --images N           images generated in parallel (default 1)\n"
    "  --out FILE.png       output; image i > 0 goes to FILE-i.png (default out/tessera.png)\n"
    "  --preview-dir DIR    write partial previews there as they are decoded\n"
    "  --preview-every N    preview cadence in tokens (default: once per grid row)\n"
    "  --backend B          cpu | cuda | auto (default cpu)\n"
    "  --threads N          CPU threads (default: all)\n"
    "  --precision P        f32 (default) or bf16: activations rounded to bf16 where they meet bf16\n"
    "                       weights, on bf16 hardware (AMX) where present; recorded in the recipe\n"
    "  --project DIR        also store the generation (tokens, statistics, image) in that project\n"
    "                       folder, creating it when absent\n"
    "  --json               print a JSON summary on stdout\n";

} // namespace

std::string defaultModelDir() { return dataDir() + "/reference/janus_tiny"; }

int cmdGenerate(int argc, char** argv) {
    CLI::App app;
    JanusRun run;
    run.model_dir = defaultModelDir();
    run.out_path = "out/tessera.png";
    std::string project;
    bool json = false;
    app.add_option("--model", run.model_dir);
    app.add_option("--prompt", run.request.prompt);
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
    if (auto rc = parseCommandLine(app, "generate", kUsage, argc, argv)) return *rc;
    if (!app.count("--prompt")) {
        std::fprintf(stderr, "tessera-cli generate: --prompt is required (see --help)\n");
        return 2;
    }
    if (!validUtf8(run.request.prompt)) {
        std::fprintf(stderr, "tessera-cli generate: --prompt is not valid UTF-8 text\n");
        return 2;
    }
    if (!seed->count()) run.request.seed = std::random_device{}();
    run.progress = !json;

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
                            {"generation_ids", generation_ids}};
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("seed %llu, %d image(s) of %dx%d tokens in %.0f ms (previews %.2f%% of generation time)\n",
                    static_cast<unsigned long long>(run.request.seed), run.request.images, r->result.grid_h, r->result.grid_w,
                    r->result.generate_ms, preview_pct);
        for (const auto& p : r->written) std::printf("wrote %s\n", p.c_str());
        for (int64_t id : generation_ids) std::printf("stored generation %lld in %s\n", static_cast<long long>(id), project.c_str());
    }
    return 0;
}

} // namespace tessera::cli
