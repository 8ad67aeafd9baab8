// Cosmos discrete video tokenizer (DV4x8x8): the video tokenizer Lumos-1 generates in.
//
// Causal: a video of F = 1 + 4·(T_lat − 1) frames of H×W pixels is T_lat latent frames of (H/8)×(W/8)
// codes; latent frame 0 is the first pixel frame alone, every later latent frame covers 4 pixel frames
// and depends only on the latent frames before it. Codes are FSQ indices in [0, 64000) for the levels
// [8,8,8,5,5,5] (see docs of the format in engine/README.md).
//
// Loaded natively from safetensors with the official parameter names (`encoder.*`, `quant_conv.*`,
// `post_quant_conv.*`, `decoder.*`) plus config.json; the official TorchScript release converts with
// tools/convert_cosmos.py. Thread affinity: one job's worker thread per instance; const methods may
// run concurrently on different backends.
#pragma once

#include "tessera/engine/status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

class Backend;

// Frames as f32, [frames][height][width][3] (RGB, interleaved), nominally in [-1, 1]; the decoder's
// output is not clamped (the official decoder's is not either).
struct VideoF32 {
    int64_t frames = 0, height = 0, width = 0;
    std::vector<float> rgb;
};

// FSQ index ↔ code, the exact integer arithmetic of the official quantiser.
struct CosmosFsq {
    std::vector<int64_t> levels; // [8,8,8,5,5,5]
    int64_t codebookSize() const;
    // index → `levels.size()` values in [-1, 1]
    void indexToCode(int64_t index, float* code) const;
    // code (each value on its level's grid) → index; −1 when a value lies outside its level's range
    int64_t codeToIndex(const float* code) const;
    // The quantiser's forward pass on one continuous `levels.size()`-vector (float32, as the official
    // module): bound(z) = tanh(z + atanh(off/half_l))·half_l − off, rounded half to even. Writes the
    // code to `code` (may be null) and returns its index.
    int64_t quantize(const float* z, float* code) const;
};

class CosmosTokenizer {
public:
    virtual ~CosmosTokenizer() = default;

    // `dir` holds config.json and model.safetensors (official names). with_encoder = false binds only
    // what decoding needs. Bad files give a Status naming the file and the tensor.
    static Expected<std::unique_ptr<CosmosTokenizer>> load(const std::string& dir, Backend& be,
                                                           bool with_encoder = true);

    virtual const CosmosFsq& fsq() const = 0;
    int64_t codebookSize() const { return fsq().codebookSize(); }
    virtual int64_t temporalCompression() const = 0; // 4
    virtual int64_t spatialCompression() const = 0;  // 8
    virtual bool hasEncoder() const = 0;

    // codes: [latent_frames][h][w] row-major indices → 1 + 4·(latent_frames − 1) frames of 8h × 8w.
    virtual Expected<VideoF32> decode(Backend& be, const std::vector<int32_t>& codes, int64_t latent_frames,
                                      int64_t h, int64_t w) const = 0;
    // frames: 1 + 4k frames whose size is a multiple of 8 → [latent_frames][h][w] indices.
    virtual Expected<std::vector<int32_t>> encode(Backend& be, const VideoF32& video) const = 0;
};

} // namespace tessera
