// Token-Shuffle test checkpoints built on the llama_tiny reference LM: its config.json plus a
// "token_shuffle" object, its model.safetensors as it is, and a token_shuffle.safetensors written here
// (f32, by a writer independent of the engine's).
#pragma once

#include "tessera/engine/bench.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace tessera::test {

// The tiny random Token-Shuffle shape the decoding tests use: hidden 64, 2 layers, 4 heads over 2 kv
// heads, MLP 128, s = 2; `codebook` codes, a `grid`-token side.
inline bench::TokenShuffleShape tinyTokenShuffleShape(int64_t codebook, int64_t grid) {
    bench::TokenShuffleShape s;
    s.hidden = 64;
    s.layers = 2;
    s.heads = 4;
    s.kv_heads = 2;
    s.intermediate = 128;
    s.codebook = codebook;
    s.window = 2;
    s.grid = grid;
    return s;
}

struct F32Tensor {
    std::vector<int64_t> shape;
    std::vector<float> values;
};
using F32File = std::map<std::string, F32Tensor>;

inline void writeF32Safetensors(const std::string& path, const F32File& tensors) {
    nlohmann::json h = nlohmann::json::object();
    size_t offset = 0;
    for (const auto& [name, t] : tensors) {
        const size_t bytes = t.values.size() * 4;
        h[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    const uint64_t n = header.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header;
    for (const auto& [name, t] : tensors)
        out.write(reinterpret_cast<const char*>(t.values.data()),
                  static_cast<std::streamsize>(t.values.size() * 4));
}

// Deterministic values in ±scale.
inline std::vector<float> randomValues(size_t n, uint64_t seed, float scale) {
    std::vector<float> v(n);
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (auto& x : v) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x = scale * (static_cast<float>((s >> 40) & 0xFFFFFF) / static_cast<float>(0x800000) - 1.0f);
    }
    return v;
}

inline std::vector<float> identity(int64_t n) {
    std::vector<float> v(static_cast<size_t>(n * n), 0.0f);
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i * n + i)] = 1.0f;
    return v;
}

// A Token-Shuffle folder over llama_tiny (D = 64, vocabulary 256, all of it used as image codes).
// identity = true: MLP_in and MLP_out are the identity and every fc2 is zero (fc1 random), so s = 1
// must reproduce the plain Llama LM exactly. Otherwise every tensor is random.
inline std::filesystem::path makeLlamaTinyTokenShuffle(const std::string& name, int64_t window,
                                                       bool identity_weights) {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "llama_tiny";
    const fs::path dir =
        fs::temp_directory_path() / ("tessera_tshuffle_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(src / "model.safetensors", dir / "model.safetensors");
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
    cfg["token_shuffle"] = {{"window", window},          {"image_vocab_start", 0}, {"image_vocab_size", 256},
                            {"image_start_token_id", 1}, {"grid", 4 * window},     {"mlp_ratio", 2.0}};
    std::ofstream(dir / "config.json") << cfg.dump(2);
    const int64_t d = 64, slot = d / (window * window), r = 128;
    F32File f;
    uint64_t seed = 7;
    auto rnd = [&](std::vector<int64_t> shape, float scale) {
        int64_t n = 1;
        for (int64_t x : shape) n *= x;
        return F32Tensor{shape, randomValues(static_cast<size_t>(n), seed++, scale)};
    };
    auto zeros = [](std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t x : shape) n *= x;
        return F32Tensor{shape, std::vector<float>(static_cast<size_t>(n), 0.0f)};
    };
    if (identity_weights) {
        f["token_shuffle.mlp_in.weight"] = {{slot, d}, identity(d)};
        f["token_shuffle.mlp_out.weight"] = {{d, slot}, identity(d)};
        f["token_shuffle.mlp_in.bias"] = zeros({slot});
        f["token_shuffle.mlp_out.bias"] = zeros({d});
    } else {
        f["token_shuffle.mlp_in.weight"] = rnd({slot, d}, 0.3f);
        f["token_shuffle.mlp_out.weight"] = rnd({d, slot}, 0.3f);
        f["token_shuffle.mlp_in.bias"] = rnd({slot}, 0.05f);
        f["token_shuffle.mlp_out.bias"] = rnd({d}, 0.05f);
    }
    for (const char* kind : {"in_blocks", "out_blocks"})
        for (int i = 0; i < 2; ++i) {
            const std::string p = std::string("token_shuffle.") + kind + "." + std::to_string(i) + ".";
            f[p + "fc1.weight"] = rnd({r, d}, 0.2f);
            f[p + "fc1.bias"] = rnd({r}, 0.05f);
            f[p + "fc2.weight"] = identity_weights ? zeros({d, r}) : rnd({d, r}, 0.1f);
            f[p + "fc2.bias"] = identity_weights ? zeros({d}) : rnd({d}, 0.05f);
        }
    writeF32Safetensors((dir / "token_shuffle.safetensors").string(), f);
    return dir;
}

} // namespace tessera::test
