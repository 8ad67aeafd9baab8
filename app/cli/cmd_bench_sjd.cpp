// `tessera-cli bench sjd`: plain decoding against speculative Jacobi decoding on one Janus model (the
// logic lives in the engine, tessera/engine/sjd_bench.h).
#include "cli/cli.h"
#include "tessera/engine/sjd_bench.h"

#include <cstdio>
#include <string>

namespace tessera::cli {

namespace {

const char* const kSjdUsage =
    "Usage: tessera-cli bench sjd [--model DIR | --preset NAME] [OPTIONS]\n\n"
    "Generates the same images twice in one run, plain decoding (one LM step per token) then\n"
    "speculative Jacobi decoding (docs/SPECULATIVE.md), after an untimed warm-up, with previews off.\n"
    "Prints one JSON line: per strategy, LM steps per generate() call (all images of a call step\n"
    "together), decode-loop and whole-call milliseconds, ms per step and drafts accepted per image;\n"
    "then plain over SJD as ratios (steps_ratio, decode_ratio, wall_ratio; > 1: SJD is ahead).\n"
    "Random-weight presets accept few drafts: the saving needs a model whose predictions are sure.\n\n"
    "  --model DIR         a Janus checkpoint folder (default: the janus_tiny reference)\n"
    "  --preset NAME       instead of --model: janus-small, janus-pro-1b (random weights written to\n"
    "                      a scratch folder, removed afterwards; bench janus --help lists them)\n"
    "  --grid N            tokens per image side for a preset (default: the preset's)\n"
    "  --sjd-window L      draft tokens verified per step (default 16)\n"
    "  --sjd-init I        random (default) or spatial\n"
    "  --lantern-k K       also time SJD with LANTERN relaxed acceptance (lossy) over K latent\n"
    "                      neighbours (default 0 = not run)\n"
    "  --lantern-delta D   its total-variation bound (default 0.1)\n"
    "  --images N          images per generate() call (default 1)\n"
    "  --runs N            timed calls per strategy, seeds S..S+N-1 (default 3)\n"
    "  --seed S            first seed (default 1)\n"
    "  --prompt TEXT       (default: a red cube on a blue floor)\n"
    "  --cfg W             guidance weight (default 5)\n"
    "  --temperature T     (default 1)\n"
    "  --top-k K           (default 0 = off)\n"
    "  --threads T         CPU threads (default: all)\n"
    "  --backend NAME      cpu (default), cuda, auto\n"
    "  --scratch-dir DIR   where a preset's checkpoint is written (default: system temp)\n"
    "  --json              one JSON line on stdout (the default and only format)\n";

} // namespace

int cmdBenchSjd(int argc, char** argv) {
    CLI::App app;
    bench::SjdBenchOptions o;
    o.reference_dir = dataDir() + "/reference/janus_tiny";
    std::string init = "random";
    bool json = false;
    app.add_option("--model", o.model_dir);
    app.add_option("--preset", o.preset);
    addInt(app, "--grid", o.grid, 1, 64);
    addInt(app, "--sjd-window", o.sjd.window, 1, kMaxSjdWindow);
    app.add_option("--sjd-init", init)->check(CLI::IsMember({"random", "spatial"}));
    addInt(app, "--lantern-k", o.lantern_k, 0, kMaxLanternK);
    addNumber(app, "--lantern-delta", o.lantern_delta, 0, 1);
    addInt(app, "--images", o.images, 1, 64);
    addInt(app, "--runs", o.runs, 1, 1000);
    addSeed(app, "--seed", o.seed);
    app.add_option("--prompt", o.prompt);
    addNumber(app, "--cfg", o.cfg, -1e4, 1e4);
    addNumber(app, "--temperature", o.temperature, 0, 1e4);
    addInt(app, "--top-k", o.top_k, 0, 1 << 30);
    addInt(app, "--threads", o.threads, 0, 4096);
    app.add_option("--backend", o.backend);
    app.add_option("--scratch-dir", o.scratch_dir);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench sjd", kSjdUsage, argc, argv)) return *rc;
    if (app.count("--model") && app.count("--preset")) {
        std::fprintf(stderr, "error: give --model or --preset, not both\n");
        return 2;
    }
    o.sjd.init = *sjdInitFromName(init);
    auto r = bench::runSjdBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

} // namespace tessera::cli
