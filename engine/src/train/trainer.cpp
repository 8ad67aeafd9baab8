// The training loop, its checkpoints, and the scheduler job.
//
// Sections: safetensors writing / checkpoint restore / the loop / the job.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/train_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace tessera::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kFormatKey = "tessera.train.format";
constexpr const char* kStepKey = "tessera.train.step";
constexpr const char* kLossesName = "trainer.losses";
const std::string kAvgPrefix = "optimizer.exp_avg.";
const std::string kAvgSqPrefix = "optimizer.exp_avg_sq.";
} // namespace

// ---------------------------------------------------------------------------------------------
// safetensors writing

Status writeFileAtomically(const std::string& path,
                           const std::vector<std::pair<const void*, size_t>>& pieces) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return Status::error("cannot write " + tmp + ": " + std::strerror(errno));
    auto writeAll = [fd](const void* data, size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
        return true;
    };
    bool ok = true;
    for (const auto& [data, size] : pieces)
        if (ok) ok = writeAll(data, size);
    if (ok) ok = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        return Status::error("writing " + tmp + " failed: " + std::strerror(err));
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return Status::error("cannot move " + tmp + " to " + path + ": " + ec.message());
    return {};
}

Status writeSafetensorsF32(const std::string& path, const std::vector<NamedF32>& tensors,
                           const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    size_t offset = 0;
    for (const auto& t : tensors) {
        if (!t.values || static_cast<int64_t>(t.values->size()) != shapeNumel(t.shape))
            return Status::error("writing " + path + ": tensor " + t.name + " does not match its shape " +
                                 shapeString(t.shape));
        if (header.contains(t.name))
            return Status::error("writing " + path + ": tensor " + t.name + " given twice");
        if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
            return Status::error("writing " + path + ": tensor " + t.name +
                                 " must be stored as F32, BF16 or F16");
        const size_t bytes = t.values->size() * (t.dtype == DType::F32 ? 4 : 2);
        const char* dtype = t.dtype == DType::F32 ? "F32" : t.dtype == DType::BF16 ? "BF16" : "F16";
        header[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    while (text.size() % 8 != 0) text.push_back(' '); // keeps the data section 8-byte aligned
    uint64_t len = text.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(len >> (8 * i)); // little-endian
    // Narrow tensors are converted into one buffer each; f32 ones are written from their own storage.
    std::vector<std::vector<uint16_t>> narrow;
    narrow.reserve(tensors.size());
    std::vector<std::pair<const void*, size_t>> pieces{{prefix, 8}, {text.data(), text.size()}};
    for (const auto& t : tensors) {
        if (t.dtype == DType::F32) {
            pieces.emplace_back(t.values->data(), t.values->size() * sizeof(float));
            continue;
        }
        std::vector<uint16_t>& h = narrow.emplace_back(t.values->size());
        for (size_t i = 0; i < h.size(); ++i)
            h[i] = t.dtype == DType::BF16 ? f32ToBf16((*t.values)[i]) : f32ToF16((*t.values)[i]);
        pieces.emplace_back(h.data(), h.size() * sizeof(uint16_t)); // little-endian host, as the loader reads
    }
    return writeFileAtomically(path, pieces);
}

// ---------------------------------------------------------------------------------------------
// checkpoint restore

Trainer::Trainer(std::vector<Parameter<float>>& params, TrainerOptions options, LossFn loss)
    : params_(params), options_(std::move(options)), loss_(std::move(loss)), adam_(options_.adam) {
    TS_ASSERT(options_.accumulate >= 1, "accumulate must be at least 1");
    freezeMatching(params_, options_.freeze);
}

Status Trainer::saveCheckpoint() const {
    if (options_.checkpoint_path.empty()) return {};
    std::vector<NamedF32> out;
    for (const auto& p : params_) {
        if (!p.trainable) continue;
        out.push_back({p.name, p.shape, &p.value});
        auto it = adam_.state().find(p.name);
        if (it != adam_.state().end()) {
            out.push_back({kAvgPrefix + p.name, p.shape, &it->second.exp_avg});
            out.push_back({kAvgSqPrefix + p.name, p.shape, &it->second.exp_avg_sq});
        }
    }
    out.push_back({kLossesName, {static_cast<int64_t>(losses_.size())}, &losses_});
    return writeSafetensorsF32(options_.checkpoint_path, out,
                               {{kFormatKey, "1"}, {kStepKey, std::to_string(adam_.step())}});
}

Expected<bool> Trainer::resume() {
    const std::string& path = options_.checkpoint_path;
    if (path.empty() || !fs::exists(path)) return false;
    auto file = SafetensorsFile::open(path);
    if (!file) return file.status();
    const auto& meta = (*file)->header().metadata;
    auto fmt = meta.find(kFormatKey);
    auto st = meta.find(kStepKey);
    if (fmt == meta.end() || fmt->second != "1" || st == meta.end())
        return Status::error(path + " is not a Tessera training checkpoint (format 1)");
    int64_t step = 0;
    try {
        step = std::stoll(st->second);
    } catch (const std::exception&) {
        return Status::error(path + ": bad step count '" + st->second + "'");
    }
    auto read = [&](const std::string& name, const Shape& shape, std::vector<float>& into) -> Status {
        const TensorInfo* info = (*file)->find(name);
        if (!info) return Status::error(path + " lacks tensor " + name);
        if (info->dtype != DType::F32 || info->shape != shape)
            return Status::error(path + ": tensor " + name + " is " + dtypeName(info->dtype) + " " +
                                 shapeString(info->shape) + ", the model needs F32 " + shapeString(shape));
        into.resize(static_cast<size_t>(shapeNumel(shape)));
        std::memcpy(into.data(), (*file)->data(*info), into.size() * sizeof(float));
        return {};
    };
    const TensorInfo* li = (*file)->find(kLossesName);
    if (!li || li->shape.size() != 1 || li->shape[0] != step)
        return Status::error(path + ": loss history missing or not " + std::to_string(step) + " long");
    // Read everything before changing anything, so a bad file leaves the trainer as it was.
    std::vector<std::vector<float>> values;
    std::map<std::string, Adam::State> state;
    std::vector<float> losses;
    if (Status s = read(kLossesName, {step}, losses); !s) return s;
    for (const auto& p : params_) {
        if (!p.trainable) continue;
        values.emplace_back();
        if (Status s = read(p.name, p.shape, values.back()); !s) return s;
        if (step > 0) {
            Adam::State& a = state[p.name];
            if (Status s = read(kAvgPrefix + p.name, p.shape, a.exp_avg); !s) return s;
            if (Status s = read(kAvgSqPrefix + p.name, p.shape, a.exp_avg_sq); !s) return s;
        }
    }
    size_t i = 0;
    for (auto& p : params_)
        if (p.trainable) p.value = std::move(values[i++]);
    adam_.restore(step, std::move(state));
    losses_ = std::move(losses);
    return true;
}

// ---------------------------------------------------------------------------------------------
// the loop

double scheduledLr(const TrainerOptions& o, int64_t step, int64_t total_steps) {
    // transformers' get_constant_schedule_with_warmup / get_cosine_with_min_lr_schedule_with_warmup,
    // evaluated at the 0-based step as LambdaLR does.
    const double lr = o.adam.lr;
    if (step < o.warmup_steps) return lr * static_cast<double>(step) / static_cast<double>(o.warmup_steps);
    if (!o.cosine) return lr;
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - o.warmup_steps));
    const double progress = static_cast<double>(step - o.warmup_steps) / span;
    const double pi = 3.14159265358979323846;
    const double factor = 0.5 * (1.0 + std::cos(pi * progress));
    return lr * (factor * (1.0 - o.min_lr_ratio) + o.min_lr_ratio);
}

double clipGradNorm(std::vector<Parameter<float>>& params, double max_norm) {
    double sum = 0;
    for (const auto& p : params)
        if (p.trainable)
            for (float g : p.grad) sum += static_cast<double>(g) * static_cast<double>(g);
    const double norm = std::sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        const float scale = static_cast<float>(max_norm / (norm + 1e-6));
        for (auto& p : params)
            if (p.trainable)
                for (float& g : p.grad) g *= scale;
    }
    return norm;
}

Status Trainer::run(int64_t total_steps, const JobContext* ctx,
                    const std::function<void(const StepRecord&)>& on_step) {
    using Clock = std::chrono::steady_clock;
    try {
        while (adam_.step() < total_steps) {
            if (ctx && ctx->cancelled()) return saveCheckpoint();
            const auto t0 = Clock::now();
            for (auto& p : params_)
                if (p.trainable) p.zeroGrad();
            const int64_t step = adam_.step();
            double total = 0;
            for (int micro = 0; micro < options_.accumulate; ++micro) {
                Tape<float> tape;
                Var loss = loss_(tape, step, micro);
                const float value = tape.scalar(loss);
                // A diverged step would poison the weights and every later checkpoint: stop before it.
                if (!std::isfinite(value))
                    return Status::error("training step " + std::to_string(step + 1) +
                                         ": the loss is not finite (" + std::to_string(value) +
                                         "); the last checkpoint holds step " + std::to_string(step));
                total += value;
                tape.backward(tape.scale(loss, 1.0f / static_cast<float>(options_.accumulate)));
            }
            const double lr = scheduledLr(options_, step, total_steps);
            adam_.setLr(lr);
            const double norm = clipGradNorm(params_, options_.clip_norm);
            adam_.update(params_);
            const float mean = static_cast<float>(total / options_.accumulate);
            losses_.push_back(mean);
            StepRecord rec{adam_.step(), total_steps, mean,
                           std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), lr, norm};
            const bool last = adam_.step() == total_steps;
            if (options_.checkpoint_every > 0 && (adam_.step() % options_.checkpoint_every == 0 || last))
                if (Status s = saveCheckpoint(); !s) return s;
            if (ctx) {
                StepTiming t;
                t.job_id = ctx->id();
                t.step = static_cast<int>(rec.step);
                t.total = static_cast<int>(total_steps);
                t.step_ms = rec.step_ms;
                ctx->emit(t);
            }
            if (on_step) on_step(rec);
        }
    } catch (const std::exception& e) {
        return Status::error(std::string("training step ") + std::to_string(adam_.step() + 1) + ": " +
                             e.what());
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// the job

JobFn trainingJob(std::shared_ptr<Trainer> trainer, int64_t total_steps,
                  std::function<void(const StepRecord&)> on_step) {
    return [trainer, total_steps, on_step](JobContext& ctx) -> Status {
        auto resumed = trainer->resume();
        if (!resumed) return resumed.status();
        return trainer->run(total_steps, &ctx, on_step);
    };
}

} // namespace tessera::train
