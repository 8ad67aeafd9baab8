// `tessera-cli bench`: benchmarks that print one JSON line each (the logic lives in the engine).
#include "cli/cli.h"
#include "tessera/engine/bench.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tessera::cli {

namespace {

void printUsage() {
    std::printf(
        "Usage: tessera-cli bench decode [--preset NAME | --config FILE] [OPTIONS]\n"
        "       tessera-cli bench bandwidth [--threads T] [--bandwidth-mb MB]\n"
        "       tessera-cli bench janus [--preset NAME] [--grid N] ... (see bench janus --help)\n"
        "       tessera-cli bench tokenize [--tokenizer PATH] [--corpus-mb MB] [--seconds S]\n"
        "                                  [--python PY]\n"
        "       tessera-cli bench batch [--items N] [--cores C]  (1 vs C shards; bench batch --help)\n"
        "       tessera-cli bench vq [--size S[,S...]] [--threads T] [--tile N] [--halo N]\n\n"
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
        "  --scratch-dir DIR   where the random weights are written (default: system temp)\n");
}

// `bench tokenize`, self-contained.
int benchTokenize(const Args& args) {
    if (auto bad = args.unknown({"tokenizer", "corpus-mb", "seconds", "python", "json"}); !bad.empty()) {
        std::fprintf(stderr, "error: unknown option %s (see bench --help)\n", bad[0].c_str());
        return 2;
    }
    const char* env_python = std::getenv("TESSERA_TOKENIZERS_PYTHON");
    auto r = bench::runTokenizeBench(args.get("tokenizer", dataDir() + "/reference/tok_gpt2_bytelevel"),
                                     args.getDouble("corpus-mb", 1.0), args.getDouble("seconds", 2.0),
                                     args.get("python", env_python ? env_python : ""));
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->dump().c_str());
    return 0;
}

int benchVq(const Args& args) {
    if (auto bad = args.unknown({"size", "threads", "tile", "halo", "seed", "scratch-dir", "json"}); !bad.empty()) {
        std::fprintf(stderr, "error: unknown option %s (see bench --help)\n", bad[0].c_str());
        return 2;
    }
    bench::VqBenchOptions o;
    if (args.has("size")) {
        o.sizes.clear();
        const std::string list = args.get("size");
        size_t begin = 0;
        while (begin <= list.size()) {
            const size_t end = std::min(list.find(',', begin), list.size());
            const std::string item = list.substr(begin, end - begin);
            char* stop = nullptr;
            const long long v = std::strtoll(item.c_str(), &stop, 10);
            if (item.empty() || *stop != '\0' || v <= 0) {
                std::fprintf(stderr, "error: --size takes pixel sides separated by commas, got '%s'\n",
                             list.c_str());
                return 2;
            }
            o.sizes.push_back(v);
            begin = end + 1;
        }
    }
    o.threads = static_cast<int>(args.getInt("threads", 0));
    o.tile = args.getInt("tile", o.tile);
    o.halo = args.getInt("halo", o.halo);
    o.seed = static_cast<uint64_t>(args.getInt("seed", 1));
    o.scratch_dir = args.get("scratch-dir");
    auto r = bench::runVqBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

} // namespace

int cmdBench(int argc, char** argv) {
    if (argc > 0 && std::string(argv[0]) == "janus") return cmdBenchJanus(argc - 1, argv + 1);
    if (argc > 0 && std::string(argv[0]) == "batch") return cmdBenchBatch(argc - 1, argv + 1);
    Args args(argc, argv, {"help", "json"});
    const std::string what = args.positional().empty() ? "" : args.positional()[0];
    if (args.has("help") || what.empty()) {
        printUsage();
        return args.has("help") ? 0 : 2;
    }
    if (what == "tokenize") return benchTokenize(args);
    if (what == "vq") return benchVq(args);
    const long long bw_mb = args.getInt("bandwidth-mb", 1024);
    if (bw_mb < 1) {
        std::fprintf(stderr, "error: --bandwidth-mb must be at least 1\n");
        return 2;
    }
    const size_t bw_bytes = static_cast<size_t>(bw_mb) << 20;
    if (what == "bandwidth") {
        if (auto bad = args.unknown({"threads", "bandwidth-mb", "json"}); !bad.empty()) {
            std::fprintf(stderr, "error: unknown option %s (see bench --help)\n", bad[0].c_str());
            return 2;
        }
        auto r = bench::measureReadBandwidth(bw_bytes, static_cast<int>(args.getInt("threads", 0)));
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
    if (what != "decode") {
        std::fprintf(stderr, "error: unknown benchmark '%s' (decode, bandwidth, tokenize, janus, batch, vq)\n", what.c_str());
        return 2;
    }
    if (auto bad = args.unknown({"preset", "config", "batch", "steps", "warmup", "prompt-len", "threads",
                                 "backend", "scratch-dir", "bandwidth-mb", "dtype", "kv-dtype", "compare-batch", "json"});
        !bad.empty()) {
        std::fprintf(stderr, "error: unknown option %s (see bench --help)\n", bad[0].c_str());
        return 2;
    }
    if (args.has("preset") && args.has("config")) {
        std::fprintf(stderr, "error: give --preset or --config, not both\n");
        return 2;
    }
    bench::DecodeBenchOptions o;
    o.preset = args.get("preset");
    o.config_path = args.get("config");
    o.batch = args.getInt("batch", o.batch);
    o.steps = args.getInt("steps", o.steps);
    o.warmup = args.getInt("warmup", o.warmup);
    o.prompt_len = args.getInt("prompt-len", o.prompt_len);
    o.threads = static_cast<int>(args.getInt("threads", 0));
    o.backend = args.get("backend", o.backend);
    o.scratch_dir = args.get("scratch-dir");
    o.bandwidth_bytes = bw_bytes;
    o.compare_batch = args.getInt("compare-batch", 0);
    const std::string dtype = args.get("dtype", "f32");
    if (dtype == "f32") {
        o.dtype = DType::F32;
    } else if (dtype == "bf16") {
        o.dtype = DType::BF16;
    } else if (dtype == "f16") {
        o.dtype = DType::F16;
    } else {
        std::fprintf(stderr, "error: --dtype must be f32, bf16 or f16\n");
        return 2;
    }
    const std::string kv = args.get("kv-dtype", "f32");
    if (kv != "f32" && kv != "bf16") {
        std::fprintf(stderr, "error: --kv-dtype must be f32 or bf16\n");
        return 2;
    }
    o.kv_dtype = kv == "bf16" ? DType::BF16 : DType::F32;
    auto r = bench::runDecodeBench(o);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().c_str());
        return 1;
    }
    std::printf("%s\n", r->toJson().dump().c_str());
    return 0;
}

} // namespace tessera::cli
