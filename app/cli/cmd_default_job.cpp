// `tessera-cli default-job`: what `./tessera run --headless` runs — a generation with the default model.
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "cli/janus_runner.h"

namespace fs = std::filesystem;

namespace tessera::cli {

int cmdDefaultJob(int argc, char** argv) {
    CLI::App app;
    std::string out_dir = "out";
    JanusRun run;
    run.model_dir = defaultModelDir();
    run.request.prompt = "a red cube on a blue floor";
    run.request.seed = 0;
    app.add_option("--out-dir", out_dir);
    app.add_option("--model", run.model_dir);
    app.add_option("--prompt", run.request.prompt);
    addSeed(app, "--seed", run.request.seed);
    if (auto rc = parseCommandLine(app, "default-job",
                                   "Usage: tessera-cli default-job [--out-dir DIR] [--model DIR] [--prompt TEXT] [--seed N]\n\n"
                                   "Runs the studio's default job headless — a Janus generation with the default model —\n"
                                   "and prints the paths it wrote (default folder: out/).\n",
                                   argc, argv))
        return *rc;
    run.out_path = (fs::path(out_dir) / "tessera-default.png").string();
    run.preview_dir = (fs::path(out_dir) / "previews").string();
    if (run.model_dir == defaultModelDir())
        std::printf("Default model: janus_tiny — an untrained smoke-test model with random weights; its images are "
                    "noise by design.\nPoint --model at a real Janus-Pro checkpoint folder for real images.\n");
    auto r = runJanus(run);
    if (!r) {
        std::fprintf(stderr, "tessera-cli default-job: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("generated %dx%d tokens in %.1f ms; %d live preview(s) took %.2f ms (%.1f%% of generation time)\n",
                r->result.grid_h, r->result.grid_w, r->result.generate_ms,
                r->result.previews_decoded + r->result.previews_approximate, r->result.preview_ms,
                r->result.generate_ms > 0 ? 100.0 * r->result.preview_ms / r->result.generate_ms : 0.0);
    for (const auto& p : r->written) std::printf("wrote %s\n", fs::absolute(p).c_str());
    std::printf("wrote previews in %s\n", fs::absolute(run.preview_dir).c_str());
    return 0;
}

} // namespace tessera::cli
