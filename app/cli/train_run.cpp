#include "cli/train_run.h"

#include <cstdio>

namespace tessera::cli {

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
        nlohmann::json line{{"step", r.step}, {"total", r.total}, {"loss", r.loss}, {"step_ms", r.step_ms}};
        if (extra) extra(line);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
    });
    if (!run.ok()) return run;
    return timed ? step_ms / static_cast<double>(timed) : 0.0;
}

} // namespace tessera::cli
