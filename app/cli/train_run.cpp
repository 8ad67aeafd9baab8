#include "cli/train_run.h"

#include <cstdio>
#include <fstream>

namespace tessera::cli {

namespace {
const char* const kScheduleUsage =
    "  --warmup N             steps of linear learning-rate warmup from 0 (default 0)\n"
    "  --schedule KIND        constant or cosine: after warmup, keep --lr or decay it along a cosine\n"
    "                         towards a tenth of it at the last step (default constant)\n"
    "  --clip X               clip the gradients' global L2 norm to X, 0 = off (default 0)\n";
} // namespace

std::optional<int> parseTrainingCommandLine(CLI::App& app, const std::string& command, const char* usage,
                                            train::TrainerOptions& o, int argc, char** argv) {
    std::string schedule = "constant";
    addInt(app, "--warmup", o.warmup_steps, 0, 100000000);
    app.add_option("--schedule", schedule);
    addNumber(app, "--clip", o.clip_norm, 0.0, 1e9);
    if (auto rc = parseCommandLine(app, command, std::string(usage) + kScheduleUsage, argc, argv)) return rc;
    if (schedule != "constant" && schedule != "cosine") {
        std::fprintf(stderr, "tessera-cli %s: --schedule must be constant or cosine, got '%s'\n",
                     command.c_str(), schedule.c_str());
        return 2;
    }
    o.cosine = schedule == "cosine";
    return std::nullopt;
}

int finishTrainingCommand(const std::string& command, const nlohmann::json& summary,
                          const std::string& out_dir) {
    std::ofstream metrics(out_dir + "/metrics.json");
    if (!(metrics << summary.dump(2) << '\n')) {
        std::fprintf(stderr, "tessera-cli %s: cannot write %s/metrics.json\n", command.c_str(),
                     out_dir.c_str());
        return 1;
    }
    std::printf("%s\n", summary.dump().c_str());
    return 0;
}

Expected<double> runTrainerPrintingSteps(train::Trainer& trainer, int64_t steps, bool resume,
                                         const std::function<void(nlohmann::json&)>& extra) {
    if (resume) {
        auto resumed = trainer.resume();
        if (!resumed) return Status::error(resumed.error());
        if (*resumed)
            std::printf("{\"event\":\"resumed\",\"step\":%lld}\n", static_cast<long long>(trainer.step()));
    }
    double step_ms = 0;
    int64_t timed = 0;
    Status run = trainer.run(steps, nullptr, [&](const train::StepRecord& r) {
        step_ms += r.step_ms;
        ++timed;
        nlohmann::json line{{"step", r.step},       {"total", r.total}, {"loss", r.loss},
                            {"step_ms", r.step_ms}, {"lr", r.lr},       {"grad_norm", r.grad_norm}};
        if (extra) extra(line);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
    });
    if (!run.ok()) return run;
    return timed ? step_ms / static_cast<double>(timed) : 0.0;
}

uint64_t trainingDraw(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t z = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xD1B54A32D192ED03ull);
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace tessera::cli
