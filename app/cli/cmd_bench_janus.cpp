// `tessera-cli bench janus`: Janus generation speed and the cost of live previews (the logic lives in
// the engine, tessera/engine/janus_bench.h).
#include "cli/cli.h"
#include "tessera/engine/janus_bench.h"

#include <cstdio>
#include <string>
#include <tuple>

namespace tessera::cli {

namespace {

const char* const kJanusUsage =
        "Usage: tessera-cli bench janus [--preset NAME] [--grid N] [OPTIONS]\n\n"
        "Writes a random-weight Janus checkpoint in a real shape (transformers layout, tokenizer of the\n"
        "janus_tiny reference), loads it like any model and generates twice with the same seed: live\n"
        "previews off, then on. Prints one JSON line: ms/step, sampling time, preview time and count,\n"
        "preview overhead in percent of sampling time, wall-time ratio, time to the first preview,\n"
        "whether both runs sampled identical tokens, seconds per image, and for generated presets the\n"
        "weight-streaming floor: bytes one step streams over the backend's copy bandwidth measured in the\n"
        "same run (device-to-device on a GPU), and the fraction of that floor reached.\n\n"
        "  --preset NAME       janus-tiny (the reference as stored), janus-small (default: LM 512x8,\n"
        "                      Janus-Pro's VQ-16 decoder, 24x24 tokens -> 384x384), janus-pro-1b (LM of\n"
        "                      Janus-Pro-1B: ~8 GB of f32 weights, slow on CPU; for big machines),\n"
        "                      janus-pro-7b (LM of Janus-Pro-7B: ~14 GB as bf16; for GPUs)\n"
        "  --grid N            tokens per image side (default: the preset's; 8 -> 128x128 pixels)\n"
        "  --images N          images generated together (default 1)\n"
        "  --preview-every N   preview cadence in tokens for the previews-on run (default: once per row)\n"
        "  --seed S            sampling and weight seed (default 1)\n"
        "  --threads T         CPU threads (default: all)\n"
        "  --backend NAME      cpu (default), cuda, auto\n"
        "  --dtype T           f32 (default) or bf16: how the random checkpoint stores its weights\n"
        "  --kv-dtype T        f32 (default) or bf16: the KV cache's element type\n"
        "  --keep DIR          write the checkpoint to DIR and keep it (default: scratch, removed); a\n"
        "                      DIR written before for the same preset, grid, seed and dtype is reused\n"
        "  --no-sampling       skip timing the sampling op alone (a 16-image Janus step and a\n"
        "                      Lumos-1-shaped step of 4,032 positions x 64,000 codes; ~2 GB)\n";

} // namespace

int cmdBenchJanus(int argc, char** argv) {
    CLI::App app;
    bench::JanusBenchOptions o;
    o.reference_dir = dataDir() + "/reference/janus_tiny";
    long long grid = 0;
    int images = 1, every = 0;
    uint64_t seed = 1;
    bool json = false;
    app.add_option("--preset", o.preset);
    addInt(app, "--grid", grid, 1, 64);
    addInt(app, "--images", images, 1, 64);
    addInt(app, "--preview-every", every, 0, 1 << 20);
    addSeed(app, "--seed", seed);
    addInt(app, "--threads", o.threads, 0, 4096);
    app.add_option("--backend", o.backend);
    std::string dtype = "f32", kv_dtype = "f32";
    app.add_option("--dtype", dtype);
    app.add_option("--kv-dtype", kv_dtype);
    app.add_option("--keep", o.keep_dir);
    app.add_flag("--json", json);
    bool no_sampling = false;
    app.add_flag("--no-sampling", no_sampling);
    if (auto rc = parseCommandLine(app, "bench janus", kJanusUsage, argc, argv)) return *rc;
    o.grid = grid;
    o.images = images;
    o.preview_every = every;
    o.seed = seed;
    o.sampling = !no_sampling;
    for (auto [text, out, flag] : {std::tuple{&dtype, &o.dtype, "--dtype"}, std::tuple{&kv_dtype, &o.kv_dtype, "--kv-dtype"}}) {
        if (*text == "bf16") {
            *out = DType::BF16;
        } else if (*text != "f32") {
            std::fprintf(stderr, "error: %s must be f32 or bf16\n", flag);
            return 2;
        }
    }
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
