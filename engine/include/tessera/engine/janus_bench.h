// Janus-Pro generation benchmark: speed of the sampling loop and the cost of live previews.
//
// The model is random weights in a real Janus shape (Llama LM, generation head and aligner, the VQ-16
// image decoder of Janus-Pro), written as an ordinary transformers-layout checkpoint (config.json,
// model.safetensors, and the tokenizer files of a reference folder) and loaded through
// JanusPipeline::load, so the loader, the decode loop, the preview policy and the VQ decoder are exactly
// what the studio runs. runJanusBench generates twice in one process on the same checkpoint, previews
// off then on, with the same seed, and compares.
//
// Thread affinity: none; each call creates and destroys its own backend. Failures (unknown preset, bad
// grid, unreadable tokenizer folder, disk full, out of memory) come back as a Status.
#pragma once

#include "tessera/engine/bench.h"
#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::bench {

// ---- model shapes ------------------------------------------------------------------------------------

// A Janus checkpoint's shape: the few numbers every tensor shape follows from.
struct JanusShape {
    // Language model (Llama).
    int64_t vocab = 300;
    int64_t hidden = 512;
    int64_t layers = 8;
    int64_t heads = 8;
    int64_t kv_heads = 8;
    int64_t intermediate = 1408;
    int64_t max_positions = 4096;
    // Generation head and aligner width (the original image_token_embed / projection dim).
    int64_t gen_projection = 512;
    // VQ image tokenizer (Janus-Pro's VQ-16 by default).
    int64_t codebook = 16384;
    int64_t code_dim = 8;
    int64_t base_channels = 128;
    std::vector<int64_t> channel_multiplier = {1, 1, 2, 2, 4};
    int64_t num_res_blocks = 2; // encoder blocks per level; the decoder has one more
    int64_t latent_channels = 256;
    int64_t grid = 24; // tokens per side of a generated image
    // Understanding tower: kept tiny, generation never runs it.
    int64_t vision_hidden = 32;
    int64_t vision_layers = 1;
    int64_t vision_heads = 2;
    int64_t vision_patch = 8;
    int64_t vision_image = 32;

    int64_t downsample() const { return int64_t{1} << (channel_multiplier.size() - 1); }
    int64_t imageSize() const { return grid * downsample(); }
};

// "janus-tiny" (the reference folder as it is), "janus-small", "janus-pro-1b", "janus-pro-7b".
std::vector<std::string> janusPresets();
// The shape of a preset; "janus-tiny" has none (it is used as stored) and is rejected here.
Expected<JanusShape> janusPresetShape(const std::string& name);
// transformers-style config.json (text_config, vision_config, vq_config) for a shape.
nlohmann::json janusConfig(const JanusShape& shape);
// Every tensor a transformers-layout checkpoint of this shape holds.
std::vector<TensorSpec> janusTensors(const JanusShape& shape);

// Writes config.json, model.safetensors (f32: normal with std 0.02, norm weights 1, biases and norm
// biases 0) and copies tokenizer.json and tokenizer_config.json from `tokenizer_dir` into `dir`,
// creating it. Deterministic for a given seed. Fails when the LM vocabulary is smaller than the
// tokenizer's.
// dtype BF16 stores every tensor as bf16, like the published Janus-Pro checkpoints.
Status writeRandomJanusCheckpoint(const JanusShape& shape, const std::string& dir,
                                  const std::string& tokenizer_dir, uint64_t seed = 1,
                                  DType dtype = DType::F32);
// Bytes of weights one decode step streams: the LM layers, the generation aligner and head (the
// token embedding gathers one row; the understanding tower and VQ model do not run per step).
size_t janusStepWeightBytes(const JanusShape& shape, DType dtype);

// ---- the benchmark -----------------------------------------------------------------------------------

struct JanusBenchOptions {
    std::string preset = "janus-small";
    // tests/data/reference/janus_tiny: the tokenizer source, and the janus-tiny model itself.
    std::string reference_dir;
    int64_t grid = 0;      // 0 = the preset's
    int images = 1;        // images generated together (2 CFG rows each)
    int preview_every = 0; // preview cadence in tokens for the previews-on run (0 = once per grid row)
    uint64_t seed = 1;
    int threads = 0; // CPU threads (0 = all)
    std::string backend = "cpu";
    std::string prompt = "a red apple on a wooden table";
    std::string keep_dir;    // keep the checkpoint here (default: a scratch folder removed afterwards)
    std::string scratch_dir; // where the scratch folder goes (default: the system temp folder)
    // Also time one sampling step (the backend op, statistics included) for a 16-image Janus batch
    // (32 CFG rows × 16,384 codes) and a Lumos-1-shaped MaskGIT step (4,032 positions × 64,000 codes,
    // 2 CFG rows; about 2 GB of logits).
    bool sampling = false;
    DType dtype = DType::F32; // how the random checkpoint stores its weights (F32 or BF16)
    DType kv_dtype = DType::F32; // KV cache dtype (Backend::setKvCacheDtype)
};

struct JanusBenchResult {
    std::string preset;
    int64_t grid = 0, image_size = 0, codebook = 0;
    int images = 0;
    int64_t steps = 0; // tokens per image
    int preview_every = 0;
    size_t weight_bytes = 0;
    std::string backend;
    int threads = 0;
    double write_ms = 0, load_ms = 0;
    double warmup_ms = 0; // untimed warm-up: one grid row and a final decode
    // Previews off.
    double ms_per_step = 0; // one step samples a token for every image
    double generate_ms = 0; // sampling loop
    double wall_off_ms = 0; // whole generate() call, final decode included
    // Previews on.
    double generate_on_ms = 0;
    double preview_ms = 0;
    int preview_count = 0; // non-final PreviewReady events, all images
    int previews_due = 0;  // events the cadence alone would have produced; the rest the budget skipped
    double preview_overhead_percent = 0; // preview_ms / generate_on_ms * 100
    double wall_on_ms = 0;
    double wall_ratio_on_vs_off = 0;
    double first_preview_ms = -1; // from the start of generate() to the first preview event
    double preview_decode_ms = 0; // mean cost of one preview (all images of one cadence point)
    double final_decode_ms = 0;   // previews-off wall minus its sampling loop
    bool tokens_identical = false;
    double load_avg_1m = -1;
    double sampling_janus_ms = -1; // one step, 16 images × 2 rows × 16,384 codes (-1 = not run)
    double sampling_lumos_ms = -1; // one step, 4,032 positions × 2 rows × 64,000 codes
    // The weight-streaming floor measured in the same run: bytes one step streams, the backend's copy
    // bandwidth, their quotient, and floor / ms_per_step (1 = at the floor). Generated presets only.
    std::string dtype, kv_dtype;
    double seconds_per_image = 0; // previews-off wall time (final decode included) / images
    size_t step_weight_bytes = 0;
    double copy_gb_per_s = 0;
    double floor_ms_per_step = 0;
    double fraction_of_floor = 0;

    // One JSON object (the line `tessera-cli bench janus` prints).
    nlohmann::ordered_json toJson() const;
};

Expected<JanusBenchResult> runJanusBench(const JanusBenchOptions& options);

} // namespace tessera::bench
