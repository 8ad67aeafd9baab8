// Benchmarks that print figures: decode speed against the machine's memory-bandwidth floor, VQ image
// decode time and memory (runVqBench, below).
//
// Decoding one token reads every weight once, so on a CPU a step can be no faster than
// weight bytes / memory bandwidth. runDecodeBench measures both in the same process, on the same
// threads (just before and just after the timed loop), and reports how close the real decode loop
// comes to that floor.
//
// The model is random weights in a real shape, written as an ordinary checkpoint (config.json +
// model.safetensors) into a scratch folder and loaded through loadCausalLM, so the loader, the
// zero-copy f32 path and the shared transformer are exactly what generation uses. The scratch folder
// is removed before runDecodeBench returns.
//
// Thread affinity: none; each call creates and destroys its own backend. Failures (unknown preset,
// unreadable config, disk full, out of memory) come back as a Status.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::bench {

// ---- model shapes ------------------------------------------------------------------------------------

// Names accepted by presetConfig ("llama-tiny", "llama-100m", "janus-pro-1b").
std::vector<std::string> decodePresets();
// A transformers-style config.json for a preset.
Expected<nlohmann::json> presetConfig(const std::string& name);

// Tensor names and shapes a checkpoint of this config must hold (any supported family; a nested
// text_config is honoured). Parameter count = sum of the shapes' element counts.
struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
};
Expected<std::vector<TensorSpec>> checkpointTensors(const nlohmann::json& config);
int64_t parameterCount(const std::vector<TensorSpec>& tensors);

// Writes config.json and model.safetensors (uniform random in ±1/sqrt(fan-in), norm weights 1; every
// tensor stored as `dtype`: F32, BF16 or F16) into `dir`, creating it. Deterministic for a given seed.
Status writeRandomCheckpoint(const nlohmann::json& config, const std::string& dir, uint64_t seed = 1,
                             DType dtype = DType::F32);

// ---- memory bandwidth --------------------------------------------------------------------------------

struct BandwidthResult {
    double gb_per_s = 0; // best pass, 1 GB = 1e9 bytes
    size_t bytes = 0;    // buffer size
    int threads = 1;
    int passes = 0;
};
// Streams a buffer of `bytes` (choose ≫ last-level cache) with `threads` threads, each summing its own
// contiguous share, and keeps the best of `passes` passes. threads <= 0: all hardware threads.
Expected<BandwidthResult> measureReadBandwidth(size_t bytes = size_t(1) << 30, int threads = 0,
                                               int passes = 5);

// ---- decode ------------------------------------------------------------------------------------------

struct DecodeBenchOptions {
    std::string preset;      // one of decodePresets(), or empty when config_path is set
    std::string config_path; // a real config.json (any supported family)
    int64_t batch = 1;       // rows decoded together (2 for classifier-free guidance)
    int64_t steps = 32;      // timed decode steps
    // Untimed steps before them: page faults on the fresh mapping, and BLAS worker threads from the
    // prefill still spinning, would otherwise land in the first timed steps.
    int64_t warmup = 8;
    int64_t prompt_len = 16; // prefilled tokens before decoding
    int threads = 0;         // CPU threads for decode and for the bandwidth pass (0 = all)
    std::string backend = "cpu";
    std::string scratch_dir; // where the random checkpoint goes (default: the system temp folder)
    size_t bandwidth_bytes = size_t(1) << 30;
    DType dtype = DType::F32; // how the random checkpoint stores its weights (bf16 stays bf16 in memory)
    DType kv_dtype = DType::F32; // KV cache dtype (Backend::setKvCacheDtype)
    DType act_dtype = DType::F32; // activations entering products (Backend::setActivationDtype)
    // > 0: also time this batch on the same loaded model and report its per-step cost as a ratio
    // (weights are read once per step for all rows, so 32 rows should cost far less than 16 × 2).
    int64_t compare_batch = 0;
};

struct DecodeBenchResult {
    std::string preset; // preset name, or the config path
    std::string family;
    int64_t params = 0;
    size_t weight_bytes = 0;   // all weights as stored
    size_t streamed_bytes = 0; // weights read per step (an untied input embedding is only gathered)
    int64_t batch = 0, steps = 0, prompt_len = 0;
    int threads = 0;
    std::string backend;
    double ms_per_step = 0;
    double tokens_per_s = 0;
    double prefill_ms = 0;
    double bandwidth_gbs = 0;     // best streaming read, measured just before and just after the loop
    double floor_ms_per_step = 0; // streamed_bytes / bandwidth
    double fraction_of_floor = 0; // floor / measured: 1.0 means decode runs at memory speed
    // 1-minute load average when the run ended (-1 where unknown): other processes share the cores and
    // the memory bus, so figures from a busy machine are not comparable.
    double load_avg_1m = -1;
    std::string dtype, kv_dtype, act_dtype;
    std::string matmul_path; // the CPU's bf16 product path ("amx", "f32") when act_dtype is bf16
    size_t resident_bytes = 0;  // weights as resident + KV cache + backend workspace after the run
    size_t kv_cache_bytes = 0;
    size_t workspace_bytes = 0; // backend memory beyond weights and cache (activations, logits, cached blocks)
    double allocations_per_step = 0;      // system allocations by the backend per timed step (0 = warm)
    double host_read_bytes_per_step = 0;  // bytes copied to the host per step (ids + statistics)
    int64_t compare_batch = 0;
    double compare_ms_per_step = 0;
    double compare_ratio = 0; // compare_ms_per_step / ms_per_step

    // One JSON object, keys in the order above (the line `tessera-cli bench decode` prints).
    nlohmann::ordered_json toJson() const;
};

Expected<DecodeBenchResult> runDecodeBench(const DecodeBenchOptions& options);

// ---- sampling ----------------------------------------------------------------------------------------

// One sampling step as a backend op: `positions` tokens for each of `sequences` sequences drawn from
// guided logits over `vocab` codes (2 CFG rows each), with statistics. Random logits; the mean of
// `repeats` timed calls after one warm-up.
struct SamplingBenchResult {
    int64_t sequences = 0, positions = 0, vocab = 0;
    int threads = 0;
    double ms_per_step = 0;
    double ns_per_code = 0; // per guided logit
};
Expected<SamplingBenchResult> runSamplingBench(int64_t sequences, int64_t positions, int64_t vocab, int threads,
                                               int repeats = 3, const std::string& backend = "cpu");
// ---- tokenize ----------------------------------------------------------------------------------------

// Encodes a fixed, generated corpus (multilingual text, emoji, digits, whitespace; `corpus_mb` MB, in
// paragraphs) with the tokenizer at `tokenizer_path` (a tokenizer.json or its folder) on one thread,
// best of passes over at least `seconds`, and returns one JSON object: MB/s, tokens/s, token count.
// When `python` names an interpreter with the `tokenizers` package (dev-time only), the same corpus
// is encoded by that library in a child process (one thread, one encode() per paragraph) and the JSON
// adds its MB/s, the ratio engine/library and whether both produced the same number of tokens. A
// failing child only adds an error field. Temporary files go to the system temp folder and are removed.
Expected<nlohmann::ordered_json> runTokenizeBench(const std::string& tokenizer_path, double corpus_mb = 1.0,
                                                  double seconds = 2.0, const std::string& python = {});
// ---- VQ decode ---------------------------------------------------------------------------------------

// Janus-Pro's VQ-16 image tokenizer (random f32 weights written to a scratch safetensors file, removed
// afterwards) decoding one random token grid per image size on the CPU backend. A grid larger than
// `tile` tokens goes through the tiled decode (VqModel::decodeCodesTiled), so memory stays bounded at
// 2048² (128x128 tokens); smaller grids decode whole. Sizes are pixel sides, multiples of 16.
struct VqBenchOptions {
    std::vector<int64_t> sizes = {384, 2048};
    int threads = 0; // 0 = all hardware threads
    int64_t tile = 24, halo = 8;
    uint64_t seed = 1;
    std::string scratch_dir; // default: the system temp folder
};

struct VqBenchSize {
    int64_t size = 0, grid = 0; // pixels and tokens per side
    bool tiled = false;
    int64_t windows = 1;      // decoder runs for the image
    double ms_per_image = 0;  // decode, blend and read back
    size_t peak_scratch_bytes = 0;    // most conv2d im2col scratch held at once (all threads)
    size_t peak_resident_bytes = 0;   // the process's peak resident set during this decode (VmHWM)
    size_t resident_before_bytes = 0; // resident set just before it (weights, codes)
    double mean_abs_pixel = 0;        // mean |pixel| of the output, a check that it is real work
};

struct VqBenchResult {
    std::string model;
    int64_t params = 0;
    size_t weight_bytes = 0;
    int threads = 0;
    int64_t tile = 0, halo = 0;
    size_t conv_scratch_bound_bytes = 0; // threads × the per-thread bound for the widest conv
    double load_ms = 0;                  // binding the weights and an untimed 8x8-token decode
    std::vector<VqBenchSize> sizes;
    double load_avg_1m = -1;
    // One JSON object (the line `tessera-cli bench vq` prints).
    nlohmann::ordered_json toJson() const;
};

Expected<VqBenchResult> runVqBench(const VqBenchOptions& options);

// ---- Token-Shuffle -----------------------------------------------------------------------------------

// A Token-Shuffle checkpoint's shape (docs/TOKEN_SHUFFLE.md): a Llama backbone, the window, and a
// VQ-16-shaped decoder (16x downsampling) of `vq_base_channels`.
struct TokenShuffleShape {
    int64_t hidden = 128, layers = 2, heads = 4, kv_heads = 2, intermediate = 256, max_positions = 8192;
    int64_t window = 2;
    int64_t grid = 32; // default image side in tokens
    int64_t codebook = 1024;
    double mlp_ratio = 1.0;
    int64_t vq_base_channels = 32, vq_res_blocks = 1;
    std::string image_start_token = "<begin_of_image>", image_end_token = "<end_of_image>";
};
// config.json of a shape (the LM vocabulary is the tokenizer's plus the codebook).
nlohmann::json tokenShuffleConfig(const TokenShuffleShape& shape, int64_t text_vocab, int64_t image_start, int64_t image_end);
// The token_shuffle.* tensors of a shape.
std::vector<TensorSpec> tokenShuffleTensors(const TokenShuffleShape& shape);
// Writes config.json, model.safetensors (writeRandomCheckpoint: the same seed gives the same backbone
// whatever the window), token_shuffle.safetensors, the tokenizer files of `tokenizer_dir`, and vq/ (a
// random Janus checkpoint with a minimal LM) into `dir`. Deterministic for a given seed.
Status writeRandomTokenShuffleCheckpoint(const TokenShuffleShape& shape, const std::string& dir,
                                         const std::string& tokenizer_dir, uint64_t seed = 1);

struct TokenShuffleBenchOptions {
    TokenShuffleShape shape;
    std::string reference_dir; // tokenizer source (tests/data/reference/janus_tiny)
    std::vector<int64_t> windows = {1, 2, 4};
    int64_t grid = 32;        // tokens per side of the speed runs (32 = 512²)
    int64_t large_grid = 128; // one s = 2 run at this size with peak memory (128 = 2048²; 0 = skip)
    uint64_t seed = 1;
    int threads = 0;
    std::string backend = "cpu";
    std::string prompt = "a lighthouse on a cliff at dusk";
    std::string scratch_dir;
};
// Generates on random checkpoints of one backbone for each window (tokens/s, ms/step, speed-up), then
// one large run whose peak resident memory is measured against the pipeline's estimate. One JSON object.
Expected<nlohmann::ordered_json> runTokenShuffleBench(const TokenShuffleBenchOptions& options);

} // namespace tessera::bench
