// `tessera-cli bench janus`: Janus generation speed and the cost of live previews (the logic lives in
// the engine, tessera/engine/janus_bench.h).
#include "cli/cli.h"
#include "tessera/engine/janus_bench.h"

#include <cstdio>
#include <string>

namespace tessera::cli {

namespace {

void printJanusUsage() {
    std::printf(
        "Usage: tessera-cli bench janus [--preset NAME] [--grid N] [OPTIONS]\n\n"
        "Writes a random-weight Janus checkpoint in a real shape (transformers layout, tokenizer of the\n"
        "janus_tiny reference), loads it like any model and generates twice with the same seed: live\n"
        "previews off, then on. Prints one JSON line: ms/step, sampling time, preview time and count,\n"
        "preview overhead in percent of sampling time, wall-time ratio, time to the first preview, and\n"
        "whether both runs sampled identical tokens.\n\n"
        "  --preset NAME       janus-tiny (the reference as stored), janus-small (default: LM 512x8,\n"
        "                      Janus-Pro's VQ-16 decoder, 24x24 tokens -> 384x384), janus-pro-1b (LM of\n"
        "                      Janus-Pro-1B: ~8 GB of f32 weights, slow on CPU; for big machines)\n"
        "  --grid N            tokens per image side (default: the preset's; 8 -> 128x128 pixels)\n"
        "  --images N          images generated together (default 1)\n"
        "  --preview-every N   preview cadence in tokens for the previews-on run (default: once per row)\n"
        "  --seed S            sampling and weight seed (default 1)\n"
        "  --threads T         CPU threads (default: all)\n"
        "  --backend NAME      cpu (default), cuda, auto\n"
        "  --keep DIR          write the checkpoint to DIR and keep it (default: scratch, removed)\n"
        "  --no-sampling       skip timing the sampling op alone (a 16-image Janus step and a\n"
        "                      Lumos-1-shaped step of 4,032 positions x 64,000 codes; ~2 GB)\n");
}

} // namespace

int cmdBenchJanus(int argc, char** argv) {
    Args args(argc, argv, {"help", "json", "no-sampling"});
    if (args.has("help")) {
        printJanusUsage();
        return 0;
    }
    if (auto bad = args.unknown(
            {"preset", "grid", "images", "threads", "preview-every", "seed", "keep", "backend", "json", "no-sampling"});
        !bad.empty()) {
        std::fprintf(stderr, "error: unknown option %s (see bench janus --help)\n", bad[0].c_str());
        return 2;
    }
    bench::JanusBenchOptions o;
    o.preset = args.get("preset", o.preset);
    o.reference_dir = dataDir() + "/reference/janus_tiny";
    const long long grid = args.getInt("grid", 0), images = args.getInt("images", 1),
                    every = args.getInt("preview-every", 0), seed = args.getInt("seed", 1);
    if (args.has("grid") && (grid < 1 || grid > 64)) {
        std::fprintf(stderr, "error: --grid must be between 1 and 64\n");
        return 2;
    }
    if (images < 1 || images > 64 || every < 0 || seed < 0) {
        std::fprintf(stderr, "error: --images must be 1..64, --preview-every and --seed at least 0\n");
        return 2;
    }
    o.grid = grid;
    o.images = static_cast<int>(images);
    o.preview_every = static_cast<int>(every);
    o.seed = static_cast<uint64_t>(seed);
    o.threads = static_cast<int>(args.getInt("threads", 0));
    o.backend = args.get("backend", o.backend);
    o.keep_dir = args.get("keep");
    o.sampling = !args.has("no-sampling");
    if (o.preset == "janus-pro-1b")
        std::fprintf(stderr, "note: janus-pro-1b writes about 8 GB of f32 weights and generates slowly on a "
                             "CPU; meant for large machines\n");
    auto r = bench::runJanusBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

} // namespace tessera::cli
