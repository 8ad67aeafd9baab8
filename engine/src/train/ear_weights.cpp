// EAR's trained projections: selection, and the file in the official naming.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/train_ear.h"
#include "tessera/engine/train_loop.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace tessera::train {

namespace {
constexpr const char* kProjections[] = {"q_proj", "k_proj", "v_proj", "o_proj"};

std::string officialName(int layer, const char* proj) {
    return "layers." + std::to_string(layer) + ".self_attn." + proj + ".weight";
}
} // namespace

std::vector<std::string> earTrainedNames(const LmLayout& layout, int layers) {
    std::vector<std::string> out;
    for (int l = 0; l < layers; ++l)
        for (const char* proj : kProjections) out.push_back(layout.prefix + officialName(l, proj));
    return out;
}

int earSelectTrainable(std::vector<Parameter<float>>& params, const LmLayout& layout, int layers) {
    const auto names = earTrainedNames(layout, layers);
    int trainable = 0;
    for (auto& p : params) {
        p.trainable = std::find(names.begin(), names.end(), p.name) != names.end();
        trainable += p.trainable;
    }
    return trainable;
}

Status saveEarWeights(const std::string& path, const std::vector<Parameter<float>>& params,
                      const LmLayout& layout, int layers) {
    std::map<std::string, const Parameter<float>*> by_name;
    for (const auto& p : params) by_name[p.name] = &p;
    std::vector<NamedF32> out;
    for (int l = 0; l < layers; ++l)
        for (const char* proj : kProjections) {
            const std::string name = layout.prefix + officialName(l, proj);
            auto it = by_name.find(name);
            if (it == by_name.end()) return Status::error("EAR weights: the model has no tensor " + name);
            out.push_back({officialName(l, proj), it->second->shape, &it->second->value});
        }
    return writeSafetensorsF32(path, out, {{"format", "pt"}});
}

Expected<WeightOverlay> loadEarOverlay(const std::string& path, const LmLayout& layout, Backend& backend) {
    auto file = SafetensorsFile::open(path);
    if (!file) return file.status();
    WeightOverlay overlay;
    overlay.name = path;
    overlay.mode = WeightOverlay::Mode::Replace;
    for (const auto& info : (*file)->header().tensors) {
        // layers.<i>.self_attn.<proj>.weight and nothing else.
        bool known = false;
        const std::string& n = info.name;
        if (n.rfind("layers.", 0) == 0) {
            const size_t dot = n.find('.', 7);
            const bool digits =
                dot != std::string::npos && dot > 7 && n.find_first_not_of("0123456789", 7) == dot;
            if (digits)
                for (const char* proj : kProjections)
                    known = known || n.substr(dot) == std::string(".self_attn.") + proj + ".weight";
        }
        if (!known)
            return Status::error(path + ": tensor " + n +
                                 " is not an EAR projection (layers.<i>.self_attn.<q|k|v|o>_proj.weight)");
        if (info.dtype != DType::F32 && info.dtype != DType::BF16 && info.dtype != DType::F16)
            return Status::error(path + ": tensor " + n + " is " + dtypeName(info.dtype) +
                                 ", not a float tensor");
        // An aligned copy: the format does not promise aligned data.
        std::vector<uint64_t> aligned((info.end - info.begin + 7) / 8);
        std::memcpy(aligned.data(), (*file)->data(info), info.end - info.begin);
        overlay.tensors[layout.prefix + n] = backend.upload(aligned.data(), info.dtype, info.shape);
    }
    if (overlay.tensors.empty()) return Status::error(path + " holds no tensors");
    return overlay;
}

std::vector<float> earTarget(const std::vector<float>& safe_target, const std::vector<float>& unsafe,
                             const std::vector<float>& safe_neutral, float eta) {
    TS_CHECK(safe_target.size() == unsafe.size() && unsafe.size() == safe_neutral.size(),
             "earTarget: hidden states of different sizes (pad or truncate the safe prompts to the unsafe "
             "one's length)");
    std::vector<float> out(unsafe.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = safe_target[i] - eta * (unsafe[i] - safe_neutral[i]);
    return out;
}

WindowedAccumulation::WindowedAccumulation(int window, double threshold)
    : window_(window), threshold_(threshold) {
    TS_ASSERT(window >= 1, "window must be at least 1");
}

std::optional<WindowedAccumulation::Decision> WindowedAccumulation::add(double step_loss) {
    sum_ += step_loss;
    if (++steps_in_window_ < window_) return std::nullopt;
    Decision d{windows_++, sum_, sum_ > threshold_};
    steps_in_window_ = 0;
    sum_ = 0;
    return d;
}

std::optional<WindowedAccumulation::Decision> WindowedAccumulation::flush() {
    if (steps_in_window_ == 0) return std::nullopt;
    Decision d{windows_++, sum_, sum_ > threshold_};
    steps_in_window_ = 0;
    sum_ = 0;
    return d;
}

} // namespace tessera::train
