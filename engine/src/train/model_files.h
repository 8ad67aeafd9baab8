// What the image-generation trainers (janus_gen_train.cpp, token_shuffle_train.cpp) share when they
// write and read model folders: a seeded weight stream, text files written atomically, and tensors
// gathered for writeSafetensorsF32 in the dtype a model is saved in.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/status.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_loop.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::train::files {

// SplitMix64: the same stream on every machine and standard library (std:: distributions are not).
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in (0, 1).
    double uniform() { return (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0; }
    // Standard normal (Box-Muller; one draw per pair, the simple way).
    double normal() {
        const double u = uniform(), v = uniform();
        return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
    }

private:
    uint64_t state_;
};

// Written to a temporary file and renamed.
Status writeText(const std::string& path, const std::string& text);
// The whole file; empty when it is absent and not `required`.
Expected<std::string> readText(const std::string& path, bool required);

// The model's tensors in the file's order, stored as `dtype`.
struct SafetensorsOut {
    explicit SafetensorsOut(SaveDType d)
        : dtype(d == SaveDType::F32    ? DType::F32
                : d == SaveDType::BF16 ? DType::BF16
                                       : DType::F16) {}
    void add(const std::string& name, const Shape& shape, const std::vector<float>& value) {
        tensors.push_back({name, shape, &value, dtype});
    }
    DType dtype;
    std::vector<NamedF32> tensors;
};

// The LM's shape as written: kv heads (0 = heads) and the MLP width (0 = 8/3 · hidden rounded up to 32).
int64_t kvHeadsOf(const JanusGenConfig& m);
int64_t intermediateOf(const JanusGenConfig& m);
// Whether hidden splits into heads of an even width and heads into kv heads (an error naming them).
Status checkLlamaShape(const JanusGenConfig& m);
// Initial weight spreads: N(0, kInitStd) for matrices, scaled down by sqrt(2·layers) for the matrices
// that write into the residual stream.
inline constexpr double kInitStd = 0.02;
inline double residualInitStd(int64_t layers) {
    return kInitStd / std::sqrt(2.0 * static_cast<double>(layers));
}
// The Llama config of a fresh LM over `vocab` ids, with janusWordTokenizer's BOS, EOS and pad ids and tied
// embeddings (Janus nests it as text_config; Token-Shuffle adds its object beside it).
nlohmann::ordered_json llamaConfigJson(const JanusGenConfig& m, int64_t vocab);
// A fresh LM's tensors under `prefix`, in the order both trainers draw them from their one stream:
// embed_tokens N(0, 0.02); per layer the norms 1, q/k/v/gate/up N(0, 0.02), o and down
// N(0, 0.02/sqrt(2·layers)); the final norm 1. add(name, shape, std, fill): std > 0 draws, else fills.
using AddWeight = std::function<void(const std::string& name, Shape shape, double std, double fill)>;
void addLlamaWeights(const AddWeight& add, const std::string& prefix, const JanusGenConfig& m, int64_t vocab);

// Every tensor of `ckpt` whose name starts with `prefix` (a frozen VQ's model.vqmodel.*), in the
// checkpoint's order, read as f32 on `be` and appended to `out` as {name, shape, values}.
template <class Named>
Status readTensorsWithPrefix(const Checkpoint& ckpt, Backend& be, const std::string& prefix,
                             std::vector<Named>& out) {
    for (const std::string& name : ckpt.names()) {
        if (name.rfind(prefix, 0) != 0) continue;
        auto t = ckpt.load(name, be);
        if (!t) return t.status();
        out.push_back({name, t->shape(), be.readF32(*t)});
    }
    return {};
}

// config.json's torch_dtype for a save dtype.
inline const char* torchDtypeName(SaveDType d) {
    return d == SaveDType::F32 ? "float32" : d == SaveDType::BF16 ? "bfloat16" : "float16";
}

} // namespace tessera::train::files
