// `tessera-cli erase`: EAR concept erasure on a Janus checkpoint as an engine job, printing the loss
// curve and the window decisions as JSON lines, and writing the delta in the official naming.
#include "cli/cli.h"
#include "cli/janus_runner.h"
#include "tessera/engine/recipe.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/train_ear.h"
#include "tessera/projects/erasure_store.h"
#include "tessera/projects/run_store.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace tessera::cli {

int cmdErase(int argc, char** argv) {
    const char* usage =
        "Usage: tessera-cli erase --model DIR --pairs FILE.json --out DELTA.safetensors [options]\n\n"
        "Erases a concept from a Janus-Pro checkpoint with EAR (docs/EAR.md): trains copies of q/k/v/o of\n"
        "the first N decoder layers so that the unsafe prompt's hidden states move toward the safe "
        "target's,\n"
        "with windowed gradient accumulation and thresholded loss masking. Each iteration rolls out one\n"
        "image for one prompt pair (three frozen CFG branches: unsafe, safe-neutral, safe-target).\n"
        "Prints one JSON line per rollout step and per window:\n"
        "  {\"step\":k,\"total\":N,\"iteration\":i,\"loss\":x}\n"
        "  {\"event\":\"update\"|\"skip\",\"window\":w,\"step\":k,\"loss_sum\":x,\"threshold\":t}\n"
        "then {\"event\":\"saved\",\"out\":FILE}. Use the delta with `generate --overlay FILE`.\n\n"
        "  --model DIR            Janus checkpoint folder (transformers layout)\n"
        "  --pairs FILE           prompt pairs (docs/examples/erase_pairs.json shows the format)\n"
        "  --out FILE             the delta: layers.<i>.self_attn.<q|k|v|o>_proj.weight, f32\n"
        "  --steps N              iterations, one prompt pair's rollout each (default: one per pair)\n"
        "  --window W             rollout steps per accumulation window (default 48)\n"
        "  --threshold T          a window's summed loss at or under T skips the update (default 0.05)\n"
        "  --eta E                strength of the negative guidance in the target (default 1)\n"
        "  --layers N             train the first N decoder layers (default 5; clamped to the model's)\n"
        "  --mode M               corrected (default: chat template, full context) or faithful (as the\n"
        "                         reference training code: raw prompt, no KV cache)\n"
        "  --seed S               seed of the branches' sampling (default 0)\n"
        "  --lr X                 Adam learning rate (default 1e-4)\n"
        "  --cfg W                guidance weight of the branches (default 5)\n"
        "  --rollout K            image tokens per rollout (default: the whole grid)\n"
        "  --checkpoint FILE      training checkpoint, written after every iteration and resumed from\n"
        "                         when present (same settings required)\n"
        "  --threads N            CPU threads of the frozen model (default: all)\n"
        "  --project DIR          also store the erasure in that project: a finished 'erase' job with the\n"
        "                         pairs, settings, loss curve and window decisions, the delta as an asset\n";
    CLI::App app;
    std::string model_dir, pairs_path, out_path, mode = "corrected", ckpt_path, project;
    int64_t steps = 0;
    int threads = 0;
    train::EarOptions o;
    app.add_option("--model", model_dir);
    app.add_option("--pairs", pairs_path);
    app.add_option("--out", out_path);
    app.add_option("--checkpoint", ckpt_path);
    app.add_option("--project", project);
    app.add_option("--mode", mode)->check(CLI::IsMember({"faithful", "corrected"}));
    addInt(app, "--steps", steps, 1, 1000000000);
    addInt(app, "--window", o.window, 1, 1000000);
    addNumber(app, "--threshold", o.threshold, 0.0, 1e30);
    addNumber(app, "--eta", o.eta, -1e3, 1e3);
    addInt(app, "--layers", o.layers, 1, 100000);
    addSeed(app, "--seed", o.seed);
    addNumber(app, "--lr", o.lr, 1e-12, 1e3);
    addNumber(app, "--cfg", o.cfg, -1e4, 1e4);
    addInt(app, "--rollout", o.rollout_tokens, 1, 1 << 20);
    addInt(app, "--threads", threads, 0, 4096);
    if (auto rc = parseCommandLine(app, "erase", usage, argc, argv)) return *rc;
    if (model_dir.empty() || pairs_path.empty() || out_path.empty()) {
        std::fprintf(stderr, "tessera-cli erase: --model, --pairs and --out are required\n");
        return 2;
    }
    o.mode = mode == "faithful" ? train::EarMode::Faithful : train::EarMode::Corrected;
    o.checkpoint_path = ckpt_path;

    auto pairs = train::readEarPairs(pairs_path);
    if (!pairs) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", pairs.error().c_str());
        return 1;
    }
    o.iterations = steps > 0 ? steps : static_cast<int64_t>(pairs->pairs.size());
    auto backend = createRunBackend("cpu", threads, "f32");
    if (!backend) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", backend.error().c_str());
        return 1;
    }
    auto loaded = train::EarTrainer::load(model_dir, pairs->pairs, o, **backend);
    if (!loaded) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", loaded.error().c_str());
        return 1;
    }
    std::shared_ptr<train::EarTrainer> trainer = std::move(*loaded);
    if (!trainer->note().empty())
        std::fprintf(stderr, "tessera-cli erase: note: %s\n", trainer->note().c_str());
    auto resumed = trainer->resume();
    if (!resumed) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", resumed.error().c_str());
        return 1;
    }
    if (*resumed) {
        std::printf("{\"event\":\"resumed\",\"iteration\":%lld,\"step\":%lld}\n",
                    static_cast<long long>(trainer->iterationsDone()),
                    static_cast<long long>(trainer->losses().size()));
        std::fflush(stdout);
    }
    const int64_t total = trainer->totalSteps();
    const double threshold = trainer->options().threshold;
    Scheduler sched(1);
    std::string failure;
    sched.setSink([&failure](const Event& e) {
        if (const auto* s = std::get_if<JobStateChanged>(&e); s && s->state == JobState::Failed)
            failure = s->message;
    });
    sched.submit(
        {"erase", "erase " + model_dir, 0, false, 0},
        train::earJob(trainer, [total, threshold](const train::EarStep& s) {
            std::printf("{\"step\":%lld,\"total\":%lld,\"iteration\":%lld,\"loss\":%.9g}\n",
                        static_cast<long long>(s.step), static_cast<long long>(total),
                        static_cast<long long>(s.iteration), s.loss);
            if (s.window)
                std::printf(
                    "{\"event\":\"%s\",\"window\":%lld,\"step\":%lld,\"loss_sum\":%.9g,\"threshold\":%.9g}\n",
                    s.window->update ? "update" : "skip", static_cast<long long>(s.window->window),
                    static_cast<long long>(s.step), s.window->loss_sum, threshold);
            std::fflush(stdout);
        }));
    sched.waitIdle();
    if (!failure.empty()) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", failure.c_str());
        return 1;
    }
    if (Status s = trainer->saveDelta(out_path); !s.ok()) {
        std::fprintf(stderr, "tessera-cli erase: %s\n", s.message().c_str());
        return 1;
    }
    std::printf("{\"event\":\"saved\",\"out\":%s,\"layers\":%d}\n", nlohmann::json(out_path).dump().c_str(),
                trainer->options().layers);
    if (!project.empty()) {
        const auto& eo = trainer->options();
        nlohmann::json params = {{"model", model_dir},
                                 {"pairs", nlohmann::json::parse(train::earPairsJson(*pairs))},
                                 {"settings",
                                  {{"mode", train::earModeName(eo.mode)},
                                   {"layers", eo.layers},
                                   {"window", eo.window},
                                   {"threshold", eo.threshold},
                                   {"eta", eo.eta},
                                   {"lr", eo.lr},
                                   {"cfg", eo.cfg},
                                   {"seed", eo.seed},
                                   {"iterations", eo.iterations}}}};
        nlohmann::json windows = nlohmann::json::array();
        for (const auto& w : trainer->windows())
            windows.push_back({{"window", w.window}, {"loss_sum", w.loss_sum}, {"update", w.update}});
        nlohmann::json result = {{"losses", trainer->losses()}, {"windows", windows}, {"delta", out_path}};
        auto hash = modelIdentityHash(model_dir);
        if (!hash) {
            std::fprintf(stderr, "tessera-cli erase: %s\n", hash.error().c_str());
            return 1;
        }
        projects::ErasureRun run;
        run.model = {0,     std::filesystem::absolute(model_dir).string(), "janus",
                     *hash, projects::safetensorsBytes(model_dir),         0};
        run.delta_file = out_path;
        run.params = std::move(params);
        run.result = std::move(result);
        auto job = projects::storeErasure(project, run);
        if (!job) {
            std::fprintf(stderr, "tessera-cli erase: %s\n", job.error().c_str());
            return 1;
        }
        std::printf("{\"event\":\"stored\",\"project\":%s,\"job\":%lld}\n",
                    nlohmann::json(project).dump().c_str(), static_cast<long long>(*job));
    }
    return 0;
}

} // namespace tessera::cli
