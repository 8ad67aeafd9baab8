// `tessera-cli train`: next-token training of a Llama-family checkpoint on token-id sequences, as an
// engine job, printing the loss curve as JSON lines; resumable from its checkpoint after a kill.
#include "cli/cli.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/train_llama.h"
#include "tessera/engine/train_loop.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::cli {

namespace {

// {"sequences": [[id, id, ...], ...]}: each at least 2 ids.
Expected<std::vector<std::vector<int64_t>>> readSequences(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Status::error("cannot read " + path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("sequences") || !j["sequences"].is_array())
        return Status::error(path + ": expected {\"sequences\": [[token ids], ...]}");
    std::vector<std::vector<int64_t>> out;
    for (const auto& s : j["sequences"]) {
        if (!s.is_array() || s.size() < 2)
            return Status::error(path + ": sequence " + std::to_string(out.size()) +
                                 " is not a list of at least 2 ids");
        std::vector<int64_t> ids;
        for (const auto& v : s) {
            if (!v.is_number_integer())
                return Status::error(path + ": sequence " + std::to_string(out.size()) +
                                     " holds a non-integer id");
            ids.push_back(v.get<int64_t>());
        }
        out.push_back(std::move(ids));
    }
    if (out.empty()) return Status::error(path + ": no sequences");
    return out;
}

} // namespace

int cmdTrain(int argc, char** argv) {
    const char* usage =
        "Usage: tessera-cli train --model DIR --data FILE.json --steps N --checkpoint FILE [options]\n\n"
        "Trains a Llama-family checkpoint (f32 on the CPU) on token-id sequences with next-token\n"
        "cross-entropy and Adam/AdamW. Micro-batch m of step s is sequence (s*accumulate + m) mod count,\n"
        "so a run resumed from its checkpoint (weights, optimizer state, loss history) continues exactly\n"
        "where it stopped, even after kill -9. Prints one JSON line per step:\n"
        "  {\"step\":k,\"total\":N,\"loss\":x,\"step_ms\":t}\n"
        "and {\"event\":\"resumed\",\"step\":k} first when it resumed.\n\n"
        "  --model DIR            checkpoint folder (config.json + safetensors)\n"
        "  --data FILE            {\"sequences\": [[token ids], ...]}\n"
        "  --steps N              optimizer steps in total (resumed steps count)\n"
        "  --checkpoint FILE      training checkpoint (safetensors), read at start when present\n"
        "  --checkpoint-every N   steps between checkpoints (default 1)\n"
        "  --accumulate N         micro-batches per step (default 1)\n"
        "  --lr X                 learning rate (default 1e-3)\n"
        "  --beta1 X, --beta2 X   Adam betas (default 0.9, 0.999)\n"
        "  --weight-decay X       decoupled (AdamW) weight decay (default 0)\n"
        "  --freeze GLOB          keep tensors matching GLOB fixed ('*' = any run); repeatable\n"
        "  --out FILE             write the trained tensors (safetensors, checkpoint names) at the end\n";
    CLI::App app;
    std::string model_dir, data_path, ckpt_path, out_path;
    std::vector<std::string> freeze;
    int64_t steps = 0;
    train::TrainerOptions opt;
    opt.adam = train::AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0.0, true};
    app.add_option("--model", model_dir);
    app.add_option("--data", data_path);
    app.add_option("--checkpoint", ckpt_path);
    app.add_option("--out", out_path);
    app.add_option("--freeze", freeze);
    addInt(app, "--steps", steps, 1, 1000000000);
    addInt(app, "--checkpoint-every", opt.checkpoint_every, 1, 1000000000);
    addInt(app, "--accumulate", opt.accumulate, 1, 1000000);
    addNumber(app, "--lr", opt.adam.lr, 0.0, 1e3);
    addNumber(app, "--beta1", opt.adam.beta1, 0.0, 0.999999);
    addNumber(app, "--beta2", opt.adam.beta2, 0.0, 0.999999999);
    addNumber(app, "--weight-decay", opt.adam.weight_decay, 0.0, 1e3);
    if (auto rc = parseCommandLine(app, "train", usage, argc, argv)) return *rc;
    if (model_dir.empty() || data_path.empty() || ckpt_path.empty() || steps == 0) {
        std::fprintf(stderr, "tessera-cli train: --model, --data, --steps and --checkpoint are required\n");
        return 2;
    }
    opt.checkpoint_path = ckpt_path;
    opt.freeze = freeze;

    auto seqs = readSequences(data_path);
    if (!seqs) {
        std::fprintf(stderr, "error: %s\n", seqs.error().c_str());
        return 1;
    }
    auto loaded = train::LlamaTrainModel::load(model_dir);
    if (!loaded) {
        std::fprintf(stderr, "error: %s\n", loaded.error().c_str());
        return 1;
    }
    auto model = std::make_shared<train::LlamaTrainModel>(std::move(*loaded));
    auto data = std::make_shared<std::vector<std::vector<int64_t>>>(std::move(*seqs));
    const int accumulate = opt.accumulate;
    auto trainer = std::make_shared<train::Trainer>(
        model->parameters(), opt, [model, data, accumulate](train::Tape<float>& t, int64_t step, int micro) {
            const auto& ids = (*data)[static_cast<size_t>((step * accumulate + micro) %
                                                          static_cast<int64_t>(data->size()))];
            return model->nextTokenLoss(t, ids, ids, 1, static_cast<int64_t>(ids.size()));
        });
    auto resumed = trainer->resume();
    if (!resumed) {
        std::fprintf(stderr, "error: %s\n", resumed.error().c_str());
        return 1;
    }
    if (*resumed) {
        std::printf("{\"event\":\"resumed\",\"step\":%lld}\n", static_cast<long long>(trainer->step()));
        std::fflush(stdout);
    }
    Scheduler sched(1);
    std::string failure;
    sched.setSink([&failure](const Event& e) {
        if (const auto* s = std::get_if<JobStateChanged>(&e); s && s->state == JobState::Failed)
            failure = s->message;
    });
    sched.submit({"train", "train " + model_dir, 0, false, 0},
                 train::trainingJob(trainer, steps, [](const train::StepRecord& r) {
                     std::printf("{\"step\":%lld,\"total\":%lld,\"loss\":%.9g,\"step_ms\":%.3f}\n",
                                 static_cast<long long>(r.step), static_cast<long long>(r.total), r.loss,
                                 r.step_ms);
                     std::fflush(stdout);
                 }));
    sched.waitIdle();
    if (!failure.empty()) {
        std::fprintf(stderr, "error: %s\n", failure.c_str());
        return 1;
    }
    if (!out_path.empty()) {
        std::vector<train::NamedF32> out;
        for (const auto& p : model->parameters())
            if (p.trainable) out.push_back({p.name, p.shape, &p.value});
        if (Status s = train::writeSafetensorsF32(out_path, out); !s) {
            std::fprintf(stderr, "error: %s\n", s.message().c_str());
            return 1;
        }
    }
    return 0;
}

} // namespace tessera::cli
