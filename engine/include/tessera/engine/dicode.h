// DiCoDe's language-model side: a GPT-2 that writes videos as keyframes of continuous deep tokens.
//
// The sequence is [text ids right-padded with eos to text_length][<img>], then per keyframe
// num_img_tokens deep tokens followed by <img>. Deep token j of keyframe f enters as
// input_resampler(x) + frame_token[f] + pos_token[j] (GPT-2 adds its positions); the final hidden state
// before each token goes through output_resampler to a Gaussian mixture over the token: K means
// (component-major), K diagonal variances clamp(softplus(raw), 1e-5)·var_scale and K mixture logits.
// No attention mask: pads are attended, as the reference does.
//
// Ownership: DicodeLlm owns its weights on one backend (shared with the checkpoint's mapping on the
// CPU). Threads: one thread at a time (a job's worker); callbacks run on that thread. Failures: load()
// and the entry points return a Status for bad folders, bad inputs and lengths past the model's limits;
// backend failures (out of memory) surface as that Status too, never an abort.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/causal_lm.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode_resampler.h"
#include "tessera/engine/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

struct DicodeLlmConfig {
    int64_t num_img_tokens = 16; // deep tokens per keyframe
    int64_t gmm_components = 16; // K
    int64_t token_dim = 1024;    // d of a deep token
    int64_t text_length = 80;    // prompt ids after truncation/padding (then <img>)
    int64_t max_length = 512;    // generate's sequence limit
    int64_t max_frames = 32;     // frame_token rows (VideoPosToken max_length / num_img_tokens)
    int64_t boi_id = -1;         // <img>
    int64_t pad_id = -1;         // eos = pad
    float var_scale = 0.01f;     // generate's default variance scale
    // Keyframes one prompt can produce: min(frame_token rows, (max_length - prompt + 1) / (n + 1),
    // the backbone's positions).
    int64_t maxKeyframes(int64_t hidden_positions) const;
};

// Teacher-forced pass (training loss): tensors on the host, row-major.
struct DicodeTeacherForced {
    std::vector<float> inputs_embeds; // [1, T, hidden]
    std::vector<float> last_hidden;   // [1, T, hidden] after ln_f
    std::vector<float> gmm_params;    // [frames, n, 2·K·d + K]
    std::vector<float> means;         // [frames, n, K, d]
    std::vector<float> variances;     // [frames, n, K, d] (var_scale 1)
    std::vector<float> mix_logits;    // [frames, n, K]
    std::vector<float> token_logprob; // [frames, n]: log p(target) under the mixture
    float nll = 0;                    // -mean(log p) / d, the official llm_rec_loss
};

// Draws to replay instead of the seeded stream (a reference run's): per generation step of row 0, the
// component index and d standard-normal values.
struct DicodeGmmDraws {
    std::vector<int64_t> components; // [steps]
    std::vector<float> z;            // [steps, d]
};

struct DicodeGenerateOptions {
    int64_t keyframes = 2;
    bool do_sample = true;   // false: the mixture-weighted mean of the means
    float var_scale = 0.01f; // variances are multiplied by it before sampling
    float cfg_scale = 1.0f;  // > 1: guide against the empty prompt, in token space after sampling
    uint64_t seed = 0;       // Philox stream: row r, step s
    const DicodeGmmDraws* replay = nullptr; // test hook: use these draws for row 0 (no CFG)
    bool record_steps = false;              // fill step_params / step_inputs
    // After each keyframe: (keyframe index, its n·d floats). Return false to stop.
    std::function<bool(int64_t keyframe, const std::vector<float>& tokens)> on_keyframe;
    // Polled between steps; true cancels (the result then holds the whole keyframes made so far).
    std::function<bool()> cancelled;
};

struct DicodeGenerated {
    int64_t rows = 1;               // 2 with CFG (both rows hold the guided tokens, as the reference)
    int64_t keyframes = 0;          // complete keyframes in `tokens`
    std::vector<float> tokens;      // [rows, keyframes, n, d]
    std::vector<float> step_params; // [steps, 2·K·d + K] of row 0 (record_steps)
    std::vector<float>
        step_inputs; // [steps, hidden]: the embedding fed after each step's token, row 0 (record_steps)
    bool cancelled = false;
};

class DicodeLlm {
public:
    // A DiCoDe folder: config.json (the official configs, `llm.agent`, `llm.gpt2`, `llm.special_tokens`,
    // `llm.generate_kwargs`) and model.safetensors under the official state-dict names
    // (`llm_agent.llm.transformer.*`, `llm_agent.{input,output}_resampler.{0,2}`,
    // `llm_agent.video_pos_token.*`; `llm_agent.pre_input_resampler.*` optional, for teacher forcing).
    static Expected<std::unique_ptr<DicodeLlm>> load(const std::string& dir, Backend& backend);
    static Expected<std::unique_ptr<DicodeLlm>> load(const Checkpoint& ckpt, Backend& backend);

    const DicodeLlmConfig& config() const { return cfg_; }
    const TransformerConfig& backboneConfig() const { return lm_->config(); }
    Backend& backend() const { return lm_->backend(); }
    // The frozen target Resampler (null when the checkpoint has none).
    const DicodeResampler* preInputResampler() const { return pre_input_.get(); }

    // Text ids (no special tokens) truncated on the right and right-padded with eos to text_length,
    // then <img>.
    std::vector<int64_t> promptIds(const std::vector<int64_t>& text_ids) const;

    // Teacher forcing: ids [T] with placeholders where video_mask is 1, filled frame by frame with
    // targets [frames, n, d] (deep tokens, e.g. from preInputResampler()).
    Expected<DicodeTeacherForced> teacherForced(const std::vector<int64_t>& ids,
                                                const std::vector<int64_t>& video_mask,
                                                const std::vector<float>& targets) const;

    // Generates keyframes after promptIds(text_ids), KV-cached, one token per step (after a keyframe's
    // last token the step also feeds <img>). Fails with a clear Status when more keyframes are asked
    // for than maxKeyframes() allows.
    Expected<DicodeGenerated> generate(const std::vector<int64_t>& text_ids,
                                       const DicodeGenerateOptions& options) const;

private:
    DicodeLlm() = default;
    Tensor inputResampler(const Tensor& tokens) const;  // [..., d] -> [..., hidden]
    Tensor outputResampler(const Tensor& hidden) const; // [..., hidden] -> [..., 2Kd+K]
    Tensor videoEmbedding(const Tensor& tokens, int64_t frame, int64_t index) const;

    DicodeLlmConfig cfg_;
    std::unique_ptr<CausalLM> lm_;
    std::unique_ptr<DicodeResampler> pre_input_;
    Tensor in0_w_, in0_b_, in2_w_, in2_b_, out0_w_, out0_b_, out2_w_, out2_b_;
    Tensor frame_token_, pos_token_; // [frames, hidden], [n, hidden]
};

// ---- random checkpoints and the keyframe benchmark (src/bench/dicode_llm_bench.cpp) ------------------

// The LLM side's sizes: "tiny" (reference/dicode_tiny's) or "real" (the released gpt2-large model).
struct DicodeLlmShape {
    std::string name;
    int64_t base_vocab = 0; // text vocabulary before the 66 special tokens (eos = pad = its last id)
    int64_t hidden = 0, layers = 0, heads = 0, positions = 0;
    int64_t text_length = 0, num_img_tokens = 0, gmm_components = 0, token_dim = 0, max_frames = 0;
    DicodeResamplerConfig resampler; // image_proj_model and pre_input_resampler
};
// Throws nothing; an unknown name is a Status listing the known ones.
Expected<DicodeLlmShape> dicodeLlmShape(const std::string& name);

// Writes config.json (laid out like reference/dicode_tiny's: tokenizer_model's Resampler, llm.agent,
// llm.gpt2, llm.special_tokens, llm.generate_kwargs) and model.safetensors (f32, official names:
// llm_agent.llm.transformer.*, llm_agent.{input,output}_resampler.*, llm_agent.video_pos_token.*, and
// with `resamplers` image_proj_model.* and llm_agent.pre_input_resampler.*) into `dir`, creating it.
// Weights are uniform in ±1/sqrt(fan-in), norms 1 and 0, embeddings ±0.05; deterministic per seed.
// The decoder side's tensors (U-Net, VAE, schedule) are not written.
Status writeRandomDicodeCheckpoint(const DicodeLlmShape& shape, const std::string& dir, uint64_t seed = 1,
                                   bool resamplers = true);

struct DicodeLlmBenchOptions {
    std::vector<std::string> shapes = {"tiny", "real"};
    int64_t keyframes = 3;   // per shape; the first includes the 81-token prefill
    int threads = 0;         // CPU threads (0 = all)
    std::string scratch_dir; // where the random checkpoints go (removed afterwards)
    uint64_t seed = 1;
};
// Time per keyframe (n sampled tokens + <img>) of each shape on the CPU backend: one JSON object.
Expected<nlohmann::json> runDicodeLlmBench(const DicodeLlmBenchOptions& options);

} // namespace tessera
