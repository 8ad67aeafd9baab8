// `tessera-cli bench`: benchmarks that print one JSON line each (the logic lives in the engine).
#include "cli/cli.h"
#include "cli/dicode_runner.h"
#include "cli/tshuffle_runner.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/dicode.h"
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/lumos.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>

namespace tessera::cli {

namespace {

const char* const kUsage =
        "Usage: tessera-cli bench decode [--preset NAME | --config FILE] [OPTIONS]\n"
        "       tessera-cli bench bandwidth [--threads T] [--bandwidth-mb MB]\n"
        "       tessera-cli bench janus [--preset NAME] [--grid N] ... (see bench janus --help)\n"
        "       tessera-cli bench sjd [--model DIR] [--sjd-window L] [--lantern-k K] ... (bench sjd --help)\n"
        "       tessera-cli bench tokenize [--tokenizer PATH] [--corpus-mb MB] [--seconds S]\n"
        "                                  [--python PY]\n"
        "       tessera-cli bench batch [--items N] [--cores C]  (1 vs C shards; bench batch --help)\n"
        "       tessera-cli bench vq [--size S[,S...]] [--threads T] [--tile N] [--halo N]\n"
        "       tessera-cli bench lumos [--preset lumos-tiny|lumos-1b] [--size WxH] [--latent-frames N]\n"
        "                               [--steps S] [--threads T] [--dtype f32|bf16] [--scratch-dir DIR]\n"
        "                               [--write-checkpoint DIR]\n"
        "       tessera-cli bench dicode-llm [--shapes tiny,real] [--keyframes K] [--threads T] [--seed N]\n"
        "                                    [--scratch-dir DIR] [--write-checkpoint DIR [--shape S]]\n"
        "       tessera-cli bench dicode --model DIR [--keyframes K] [--ddim-steps S] [--threads T] [--seed N]\n"
        "       tessera-cli bench dicode [--shape tiny,real] [--frames F] [--ddim-steps S] [--keyframes K]\n"
        "                                [--rounds R] [--threads T] [--seed N] [--scratch-dir DIR]\n"
        "       tessera-cli bench tshuffle [--grid N] [--large-grid N] ... (see bench tshuffle --help)\n"
        "       tessera-cli bench render [--scenes N] [--size S[,S...]] [--samples N]  (bench render --help)\n\n"
        "decode: random weights in a real model shape, written as a scratch checkpoint (removed\n"
        "afterwards) and loaded like any model; prefill, then N greedy decode steps. Prints one JSON\n"
        "line: ms/step, tokens/s, weight bytes, the memory bandwidth measured in the same run and the\n"
        "fraction of the bandwidth floor (weights streamed per step / bandwidth) reached, resident bytes,\n"
        "backend allocations and bytes read back to the host per step.\n\n"
        "  --preset NAME       llama-tiny, llama-100m (default), janus-pro-1b\n"
        "  --config FILE       a model's config.json (llama, qwen2, chameleon families)\n"
        "  --batch B           rows decoded together (default 1; 2 = classifier-free guidance)\n"
        "  --steps N           timed decode steps (default 32)\n"
        "  --warmup W          untimed steps before them (default 8)\n"
        "  --prompt-len P      prefilled tokens (default 16)\n"
        "  --threads T         CPU threads (default: all)\n"
        "  --backend NAME      cpu (default), cuda, auto\n"
        "  --scratch-dir DIR   where the random checkpoint is written (default: system temp)\n"
        "  --bandwidth-mb MB   bandwidth buffer size (default 1024)\n"
        "  --dtype T           f32 (default), bf16 or f16: how the weights are stored (and kept)\n"
        "  --kv-dtype T        f32 (default) or bf16 KV cache\n"
        "  --act-dtype T       auto (default), f32 or bf16: activations rounded to bf16 where they enter\n"
        "                      products with bf16 weights (bf16 dot-product hardware where present);\n"
        "                      auto = bf16 for bf16 weights, as a bf16 reference run computes, else f32\n"
        "  --compare-batch B   also time batch B on the same model and print its cost as a ratio\n"
        "  --json              one JSON line on stdout (the default and only format)\n\n"
        "tokenize: encodes a fixed generated corpus (multilingual, emoji, digits, whitespace) on one\n"
        "thread and prints MB/s; with a Python that has the `tokenizers` package, that library's MB/s\n"
        "on the same corpus and file in the same run, as a ratio.\n\n"
        "  --tokenizer PATH    tokenizer.json or its folder (default: the tok_gpt2_bytelevel\n"
        "                      reference set)\n"
        "  --corpus-mb MB      corpus size (default 1)\n"
        "  --seconds S         keep the best pass over at least S seconds (default 2)\n"
        "  --python PY         interpreter for the comparison (default: $TESSERA_TOKENIZERS_PYTHON;\n"
        "                      none: engine only)\n\n"
        "vq: Janus-Pro's VQ-16 image decoder with random weights (a scratch safetensors file, removed\n"
        "afterwards) decoding one random token grid per size on the CPU backend; grids larger than a\n"
        "tile decode in overlapping tiles. Prints one JSON line with, per size: ms per image, peak\n"
        "conv scratch bytes and peak resident bytes.\n\n"
        "  --size S[,S...]     image sides in pixels, multiples of 16 (default 384,2048)\n"
        "  --threads T         CPU threads (default: all)\n"
        "  --tile N            tokens per tile side for tiled decodes (default 24)\n"
        "  --halo N            context tokens around each tile (default 8)\n"
        "  --seed N            weights and tokens (default 1)\n"
        "  --scratch-dir DIR   where the random weights are written (default: system temp)\n\n"
        "lumos: Lumos-1 text->video on random weights in a preset's shape (lumos-tiny: default 64x32;\n"
        "lumos-1b: Llama-3.2-1B dimensions, default 128x64), 2 latent frames of 8 AR-DF steps by default.\n"
        "Prints one JSON line: ms per AR-DF step (both guidance branches) and the preview work (the whole\n"
        "grid's code-digit colours every step) as a percentage of the same run. --write-checkpoint DIR only\n"
        "writes the preset's random checkpoint there (kept; for generate-video smoke runs) and exits.\n\n"
        "dicode: a DiCoDe folder (config.json, model.safetensors, dicode_constants.safetensors) generating\n"
        "K keyframes (default 3, i.e. 2 clips) of S DDIM steps (default 5) from fixed prompt ids, twice: with\n"
        "previews (keyframe strips, each step's x0 map) and without. Prints one JSON line: ms per LLM\n"
        "keyframe, ms per DDIM step and the preview overhead, measured in the same run.\n"
        "Without --model: random f32 weights (scratch checkpoints, removed afterwards) at the tiny\n"
        "(dicode_tiny's sizes) and the real (released) shapes: the LLM side's keyframes as dicode-llm\n"
        "times them, then per shape a U-Net + VAE decoder checkpoint, and clips of S DDIM steps (default 2;\n"
        "the first step of each clip is a warm-up) with the demo's guidance: with the x0 preview and the VAE\n"
        "decode of the clip, and without the preview. Prints one JSON line: ms per LLM keyframe, ms per DDIM\n"
        "step with and without the preview, the preview overhead, the preview map's own time, the VAE\n"
        "decode, weight and peak resident bytes.\n\n"
        "  --shape S[,S]       tiny, real or both (default tiny,real)\n"
        "  --frames F          latent frames per clip at the real shape (default 2, even; the released\n"
        "                      clip has 16 and one DDIM step of it takes minutes on two cores: the figures\n"
        "                      are measured at F frames and reported as such, never scaled)\n"
        "  --keyframes K       LLM keyframes per shape (default 2)\n"
        "  --rounds R          clips of each kind per shape, taking turns; medians (default 3 at tiny,\n"
        "                      1 at real)\n"
        "  --scratch-dir DIR   where the random checkpoints are written (default: system temp)\n\n"
        "dicode-llm: DiCoDe's GPT-2 with the Gaussian-mixture head on random f32 weights (a scratch\n"
        "checkpoint per shape, removed afterwards): tiny (the dicode_tiny reference's sizes) and real\n"
        "(gpt2-large, 16 tokens of 1024 floats per keyframe, K = 16). Prints one JSON line: per shape the\n"
        "ms of each keyframe (the first includes the 81-token prefill), the steady ms per keyframe and per\n"
        "token step. --write-checkpoint DIR only writes --shape's (default tiny) random checkpoint, with\n"
        "both Resamplers (kept), and exits.\n";

// `bench bandwidth`: read bandwidth of this machine's memory.
int benchBandwidth(int argc, char** argv) {
    CLI::App app;
    int threads = 0;
    long long bw_mb = 1024;
    bool json = false;
    addInt(app, "--threads", threads, 0, 4096);
    addInt(app, "--bandwidth-mb", bw_mb, 1, 1 << 20);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench bandwidth", kUsage, argc, argv)) return *rc;
    auto r = bench::measureReadBandwidth(static_cast<size_t>(bw_mb) << 20, threads);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    nlohmann::ordered_json j{{"bench", "bandwidth"},
                             {"bytes", r->bytes},
                             {"threads", r->threads},
                             {"passes", r->passes},
                             {"bandwidth_gbs", std::round(r->gb_per_s * 1000.0) / 1000.0}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

// `bench decode`: decode steps of a random-weight model in a real shape.
int benchDecode(int argc, char** argv) {
    CLI::App app;
    bench::DecodeBenchOptions o;
    long long bw_mb = 1024;
    bool json = false;
    app.add_option("--preset", o.preset);
    app.add_option("--config", o.config_path);
    addInt(app, "--batch", o.batch, 1, 1024);
    addInt(app, "--steps", o.steps, 1, 1 << 20);
    addInt(app, "--warmup", o.warmup, 0, 1 << 20);
    addInt(app, "--prompt-len", o.prompt_len, 1, 1 << 20);
    addInt(app, "--threads", o.threads, 0, 4096);
    app.add_option("--backend", o.backend);
    app.add_option("--scratch-dir", o.scratch_dir);
    addInt(app, "--bandwidth-mb", bw_mb, 1, 1 << 20);
    addInt(app, "--compare-batch", o.compare_batch, 0, 1024);
    std::string dtype = "f32", kv_dtype = "f32", act_dtype = "auto";
    app.add_option("--dtype", dtype)->check(CLI::IsMember({"f32", "bf16", "f16"}));
    app.add_option("--kv-dtype", kv_dtype)->check(CLI::IsMember({"f32", "bf16"}));
    app.add_option("--act-dtype", act_dtype)->check(CLI::IsMember({"auto", "f32", "bf16"}));
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench decode", kUsage, argc, argv)) return *rc;
    o.dtype = dtype == "bf16" ? DType::BF16 : dtype == "f16" ? DType::F16 : DType::F32;
    o.kv_dtype = kv_dtype == "bf16" ? DType::BF16 : DType::F32;
    o.act_dtype = act_dtype == "bf16" || (act_dtype == "auto" && o.dtype == DType::BF16) ? DType::BF16 : DType::F32;
    if (app.count("--preset") && app.count("--config")) {
        std::fprintf(stderr, "error: give --preset or --config, not both\n");
        return 2;
    }
    o.bandwidth_bytes = static_cast<size_t>(bw_mb) << 20;
    auto r = bench::runDecodeBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

// `bench tokenize`: tokenizer MB/s (and the tokenizers library's, given a Python).
int benchTokenize(int argc, char** argv) {
    CLI::App app;
    std::string tokenizer = dataDir() + "/reference/tok_gpt2_bytelevel";
    const char* env_python = std::getenv("TESSERA_TOKENIZERS_PYTHON");
    std::string python = env_python ? env_python : "";
    double corpus_mb = 1.0, seconds = 2.0;
    bool json = false;
    app.add_option("--tokenizer", tokenizer);
    addNumber(app, "--corpus-mb", corpus_mb, 0.001, 1024);
    addNumber(app, "--seconds", seconds, 0.0, 3600);
    app.add_option("--python", python);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench tokenize", kUsage, argc, argv)) return *rc;
    auto r = bench::runTokenizeBench(tokenizer, corpus_mb, seconds, python);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->dump().c_str());
    return 0;
}

// `bench vq`: the Janus VQ-16 decoder per image size.
int benchVq(int argc, char** argv) {
    CLI::App app;
    bench::VqBenchOptions o;
    std::string sizes;
    bool json = false;
    app.add_option("--size", sizes);
    addInt(app, "--threads", o.threads, 0, 4096);
    addInt(app, "--tile", o.tile, 1, 1 << 16);
    addInt(app, "--halo", o.halo, 0, 1 << 16);
    addSeed(app, "--seed", o.seed);
    app.add_option("--scratch-dir", o.scratch_dir);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench vq", kUsage, argc, argv)) return *rc;
    if (!sizes.empty()) {
        o.sizes.clear();
        size_t begin = 0;
        while (begin <= sizes.size()) {
            const size_t end = std::min(sizes.find(',', begin), sizes.size());
            auto v = parseInt(sizes.substr(begin, end - begin), 16, 1 << 16);
            if (!v) {
                std::fprintf(stderr, "error: --size takes pixel sides separated by commas, got '%s'\n", sizes.c_str());
                return 2;
            }
            o.sizes.push_back(*v);
            begin = end + 1;
        }
    }
    auto r = bench::runVqBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

// The benchmarks, by name: a new one is a function above and a line here.
// `bench lumos`: Lumos-1 AR-DF steps and preview overhead.
int benchLumos(int argc, char** argv) {
    CLI::App app;
    LumosBenchOptions o;
    std::string size, dtype = "f32", write_to;
    bool json = false;
    app.add_option("--preset", o.preset);
    app.add_option("--write-checkpoint", write_to);
    app.add_option("--size", size);
    addInt(app, "--latent-frames", o.latent_frames, 1, 256);
    addInt(app, "--steps", o.steps, 1, 1000);
    addInt(app, "--threads", o.threads, 0, 4096);
    app.add_option("--dtype", dtype);
    app.add_option("--scratch-dir", o.scratch_dir);
    addSeed(app, "--seed", o.seed);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench lumos", kUsage, argc, argv)) return *rc;
    if (!size.empty()) {
        char tail = 0;
        if (std::sscanf(size.c_str(), "%dx%d%c", &o.width, &o.height, &tail) != 2) {
            std::fprintf(stderr, "error: --size must look like 64x32, got '%s'\n", size.c_str());
            return 2;
        }
    }
    if (dtype == "bf16") o.dtype = DType::BF16;
    else if (dtype != "f32") {
        std::fprintf(stderr, "error: --dtype is f32 or bf16, got '%s'\n", dtype.c_str());
        return 2;
    }
    if (!write_to.empty()) {
        auto cfg = lumosPresetConfig(o.preset);
        Status st = cfg ? bench::writeRandomCheckpoint(*cfg, write_to, o.seed, o.dtype) : cfg.status();
        if (!st.ok()) {
            std::fprintf(stderr, "error: %s\n", st.message().c_str());
            return 1;
        }
        std::printf("wrote %s (%s, random weights)\n", write_to.c_str(), o.preset.c_str());
        return 0;
    }
    auto r = runLumosBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->dump().c_str());
    return 0;
}

// `bench dicode-llm`: time per DiCoDe keyframe, tiny and real shapes.
int benchDicodeLlm(int argc, char** argv) {
    CLI::App app;
    DicodeLlmBenchOptions o;
    std::string shapes = "tiny,real", write_to, shape = "tiny";
    bool json = false;
    app.add_option("--shapes", shapes);
    addInt(app, "--keyframes", o.keyframes, 1, 32);
    addInt(app, "--threads", o.threads, 0, 4096);
    app.add_option("--scratch-dir", o.scratch_dir);
    app.add_option("--write-checkpoint", write_to);
    app.add_option("--shape", shape);
    addSeed(app, "--seed", o.seed);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench dicode-llm", kUsage, argc, argv)) return *rc;
    if (!write_to.empty()) {
        auto s = dicodeLlmShape(shape);
        Status st = s ? writeRandomDicodeCheckpoint(*s, write_to, o.seed) : s.status();
        if (!st.ok()) {
            std::fprintf(stderr, "error: %s\n", st.message().c_str());
            return 1;
        }
        std::printf("wrote %s (DiCoDe LLM side, %s shape, random weights)\n", write_to.c_str(), shape.c_str());
        return 0;
    }
    o.shapes.clear();
    for (size_t at = 0; at <= shapes.size();) {
        const size_t comma = std::min(shapes.find(',', at), shapes.size());
        if (comma > at) o.shapes.push_back(shapes.substr(at, comma - at));
        at = comma + 1;
    }
    if (o.shapes.empty()) {
        std::fprintf(stderr, "error: --shapes names no shape\n");
        return 2;
    }
    auto r = runDicodeLlmBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->dump().c_str());
    return 0;
}

// `bench dicode`: DiCoDe keyframes, DDIM steps and the preview overhead.
int benchDicodeRun(int argc, char** argv) {
    CLI::App app;
    DicodeBenchOptions o;
    std::string shapes = "tiny,real", scratch;
    long long frames = 2, keyframes = 0, steps = 0, rounds = 0;
    bool json = false;
    app.add_option("--model", o.model);
    addInt(app, "--keyframes", keyframes, 1, 1024);
    addInt(app, "--ddim-steps", steps, 1, 1000);
    addInt(app, "--threads", o.threads, 0, 4096);
    addSeed(app, "--seed", o.seed);
    app.add_option("--shape", shapes);
    addInt(app, "--frames", frames, 2, 64);
    app.add_option("--scratch-dir", scratch);
    addInt(app, "--rounds", rounds, 1, 100);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench dicode", kUsage, argc, argv)) return *rc;
    if (!o.model.empty()) {
        if (app.count("--shape") || app.count("--frames") || app.count("--scratch-dir") || app.count("--rounds")) {
            std::fprintf(stderr, "error: --shape, --frames, --rounds and --scratch-dir are for the random-weight run "
                                 "(without --model)\n");
            return 2;
        }
        if (keyframes) o.keyframes = keyframes;
        if (steps) o.ddim_steps = steps;
        if (o.keyframes < 2) {
            std::fprintf(stderr, "error: --keyframes must be at least 2 with --model (one clip)\n");
            return 2;
        }
        return benchDicode(o);
    }
    if (frames % 2 != 0) {
        std::fprintf(stderr, "error: --frames must be even (a clip's two halves), got %lld\n", frames);
        return 2;
    }
    if (app.count("--ddim-steps") && steps < 2) {
        std::fprintf(stderr, "error: --ddim-steps must be at least 2 without --model (the first is a warm-up)\n");
        return 2;
    }
    DicodeLlmBenchOptions llm;
    DicodeDecoderBenchOptions dec;
    llm.shapes.clear();
    for (size_t at = 0; at <= shapes.size();) {
        const size_t comma = std::min(shapes.find(',', at), shapes.size());
        if (comma > at) llm.shapes.push_back(shapes.substr(at, comma - at));
        at = comma + 1;
    }
    if (llm.shapes.empty()) {
        std::fprintf(stderr, "error: --shape names no shape\n");
        return 2;
    }
    llm.keyframes = keyframes ? keyframes : 2;
    llm.threads = dec.threads = o.threads;
    llm.scratch_dir = dec.scratch_dir = scratch;
    llm.seed = dec.seed = o.seed;
    dec.shapes = llm.shapes;
    dec.real_frames = frames;
    if (steps) dec.ddim_steps = steps;
    dec.rounds = rounds;
    auto l = runDicodeLlmBench(llm);
    if (!l) {
        std::fprintf(stderr, "error: %s\n", l.error().c_str());
        return 1;
    }
    auto d = runDicodeDecoderBench(dec);
    if (!d) {
        std::fprintf(stderr, "error: %s\n", d.error().c_str());
        return 1;
    }
    const nlohmann::json j = {{"bench", "dicode"}, {"weights", "random f32"}, {"llm", (*l)["runs"]},
                              {"decoder", *d}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

struct Benchmark {
    const char* name;
    int (*run)(int argc, char** argv);
};
const Benchmark kBenchmarks[] = {
    {"decode", benchDecode},
    {"bandwidth", benchBandwidth},
    {"janus", cmdBenchJanus},
    {"sjd", cmdBenchSjd},
    {"tokenize", benchTokenize},
    {"vq", benchVq},
    {"lumos", benchLumos},
    {"dicode-llm", benchDicodeLlm},
    {"dicode", benchDicodeRun},
    {"batch", cmdBenchBatch},
    {"tshuffle", cmdBenchTokenShuffle},
    {"render", cmdBenchRender},
};

} // namespace

int cmdBench(int argc, char** argv) {
    const std::string what = argc > 0 ? argv[0] : "";
    if (what == "--help" || what == "-h") {
        std::printf("%s", kUsage);
        return 0;
    }
    for (const auto& b : kBenchmarks)
        if (what == b.name) return b.run(argc - 1, argv + 1);
    if (what.empty() || what[0] == '-') {
        std::fprintf(stderr, "%s", kUsage);
        return 2;
    }
    std::string names;
    for (const auto& b : kBenchmarks) names += (names.empty() ? "" : ", ") + std::string(b.name);
    std::fprintf(stderr, "error: unknown benchmark '%s' (%s)\n", what.c_str(), names.c_str());
    return 2;
}

} // namespace tessera::cli
