// `tessera-cli bench`: benchmarks that print one JSON line each (the logic lives in the engine).
#include "cli/cli.h"
#include "tessera/engine/bench.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace tessera::cli {

namespace {

const char* const kUsage =
        "Usage: tessera-cli bench decode [--preset NAME | --config FILE] [OPTIONS]\n"
        "       tessera-cli bench bandwidth [--threads T] [--bandwidth-mb MB]\n"
        "       tessera-cli bench janus [--preset NAME] [--grid N] ... (see bench janus --help)\n\n"
        "decode: random weights in a real model shape, written as a scratch checkpoint (removed\n"
        "afterwards) and loaded like any model; prefill, then N greedy decode steps. Prints one JSON\n"
        "line: ms/step, tokens/s, weight bytes, the memory bandwidth measured in the same run and the\n"
        "fraction of the bandwidth floor (weights streamed per step / bandwidth) reached.\n\n"
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
        "  --json              one JSON line on stdout (the default and only format)\n";

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
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "bench decode", kUsage, argc, argv)) return *rc;
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

// The benchmarks, by name: a new one is a function above and a line here.
struct Benchmark {
    const char* name;
    int (*run)(int argc, char** argv);
};
const Benchmark kBenchmarks[] = {
    {"decode", benchDecode},
    {"bandwidth", benchBandwidth},
    {"janus", cmdBenchJanus},
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
