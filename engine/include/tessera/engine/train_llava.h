// IG-LLM on the tape: a LLaVA (CLIP vision tower, two-layer projector, Llama LM) with IG-LLM's float
// head, trained image → scene program, saved as an ordinary LLaVA checkpoint folder that
// IgllmPipeline (igllm.h) loads.
//
// The model's parameters carry the names the LLaVA loader binds (transformers 4.x naming:
// `vision_tower.*`, `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.weight`,
// `float_head.*`), and the forward pass is the loader's arithmetic: patch convolution, class and position
// embeddings, pre-LayerNorm, encoder layers with biased full attention and the configured activation up
// to `vision_feature_layer`, CLS dropped, projector, image placeholders replaced in order, the Llama LM
// (LlamaTrainModel::hiddenFromEmbeds), lm_head and the float head on the final-normed hidden state that
// predicts each `[NUM]`. The sequence is the pipeline's: BOS, one `<image>` per image token, the prompt
// (tokenized without special tokens), then the program's object statements one grammar word per token
// with `[NUM]` for each number, and the end-of-text token.
//
// Loss = mean cross-entropy over the program tokens and the end-of-text token
//      + λ · mean over `[NUM]` positions of ((value − target) / scale(field))², with scale 0.35 for size
//        and z, 3 for x and y, 180 for rotation (errors measured against each field's spread).
// The float head's last bias is trained in units of kFloatHeadUnit (the parameter times kFloatHeadUnit is
// the bias), so that Adam's step size lets the head's offset reach rotations of hundreds of degrees
// while the weights move in the units positions need; save() folds the factor into the bias, so the
// checkpoint's head gives the number directly.
//
// Ownership: a LlavaTrainModel owns its parameters (the LM's inside its LlamaTrainModel); Vars it returns
// point at them, so the model must outlive the tape's backward(). Thread affinity: one thread at a time.
// Failure modes: initialize()/load()/save() return a Status naming the file or tensor; forward() throws
// tessera::Error on bad batches (wrong pixel count, an id outside the vocabulary).
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"
#include "tessera/engine/tokenizer.h"
#include "tessera/engine/train.h"
#include "tessera/engine/train_llama.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::train {

// The sizes of a freshly initialised model (initialize()).
struct LlavaTrainConfig {
    int64_t image_size = 64, patch = 8;
    int64_t vision_hidden = 128, vision_layers = 2, vision_heads = 4, vision_intermediate = 512;
    std::string vision_act = "gelu";   // quick_gelu, gelu or gelu_pytorch_tanh
    int64_t vision_feature_layer = -1; // LLaVA's convention: negative counts from the end
    int64_t hidden = 256, layers = 4, heads = 4, kv_heads = 4, intermediate = 704;
    std::string float_head = "tanh_mlp_gelu"; // or "linear"
    bool position_cells = false;              // the vocabulary holds the position cells (igllm.h)
    bool cells_first = false;                 // with them: both cells right after `object` (igllm.h)
};

inline constexpr float kFloatHeadUnit = 100.0f;

// One object statement of a scene program: `object SHAPE COLOUR MATERIAL size N position N N N rotation N`.
struct ProgramObject {
    std::string shape, colour, material;
    float size = 0, x = 0, y = 0, z = 0, rotation = 0;
};
// Field of each `[NUM]` in statement order, and the loss scale of each.
enum class NumberField { Size, X, Y, Z, Rotation };
float numberFieldScale(NumberField field);

// The word-level vocabulary of scene programs: `<unk>` `<s>` `</s>` `<image>` `[NUM]` and the newline,
// then every keyword and name of docs/scene-programs.md and the words of the default prompt.
// With `position_cells`, the position cells' words follow (igllm.h). Writes tokenizer.json and
// tokenizer_config.json (BOS `<s>`, EOS `</s>`) into `dir`.
Status writeProgramTokenizer(const std::string& dir, bool position_cells = false);

// A training sequence laid out as IgllmPipeline lays out its prompt and generation.
struct LlavaSequence {
    std::vector<int64_t> ids;
    int64_t prompt_len = 0;          // BOS + image placeholders + prompt: the first target follows
    std::vector<int64_t> number_at;  // index in ids of each `[NUM]`
    std::vector<float> number_value; // its target value
    std::vector<NumberField> number_field;
};
// When the vocabulary holds the position cells, each ground coordinate's cell word goes before its
// `[NUM]`, or with `cells_first` both go right after `object`. Fails when a word of an object (shape,
// colour, material) is not in the vocabulary or a value is not finite.
Expected<LlavaSequence> buildLlavaSequence(const Tokenizer& tokenizer, const std::string& prompt,
                                           int64_t image_tokens, int64_t image_token,
                                           const std::vector<ProgramObject>& objects,
                                           bool cells_first = false);

// A batch: pixels [B, 3, S, S] already normalised as the pipeline normalises them (imagePixels()).
struct LlavaBatch {
    std::vector<float> pixels;
    std::vector<LlavaSequence> sequences;
};

// RGB8 pixels (S×S, row-major RGB) -> [3, S, S] with CLIP's mean and standard deviation, the pipeline's
// preprocessing when the image is already the tower's size (then its resize is the identity).
std::vector<float> imagePixels(const std::vector<uint8_t>& rgb, int64_t side);

class LlavaTrainModel {
public:
    // Writes config.json, tokenizer files and model.safetensors (f32, random initial weights: normal with
    // std 0.02 for matrices and embeddings, zero biases, unit norm weights; the float head's last layer
    // zero with bias 0.5) into `dir`.
    static Status initialize(const std::string& dir, const LlavaTrainConfig& config, uint64_t seed);
    // Reads a LLaVA checkpoint folder (f32, f16 or bf16) through Checkpoint; every tensor becomes an f32
    // parameter (the float head's last bias divided by kFloatHeadUnit).
    static Expected<LlavaTrainModel> load(const std::string& dir);

    // Every parameter in one list (Trainer, Adam): the LM's first, then the tower's, the projector's and
    // the head's, appended to the LM's list so that LlamaTrainModel still finds its own.
    std::vector<Parameter<float>>& parameters() { return lm_.parameters(); }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    int64_t imageSize() const { return image_size_; }
    int64_t imageTokens() const { return grid_ * grid_; }
    int64_t imageToken() const { return image_token_; }
    int64_t numToken() const { return num_token_; }
    int64_t vocab() const { return lm_cfg_.vocab; }
    const std::string& floatHead() const { return head_type_; }
    bool cellsFirst() const { return cells_first_; } // config.json's position_cells is "first"

    struct Forward {
        Var loss, cross_entropy, float_mse;
        Var logits;         // [B, L, V] (L = the longest sequence; shorter ones padded at the end)
        Var float_values;   // [R, 1]: the head's numbers at every `[NUM]` of the batch, in order
        Var image_features; // [B·N, D] projected
        int64_t length = 0;
    };
    Forward forward(Tape<float>& tape, const LlavaBatch& batch, float float_weight = 1.0f);

    // config.json, tokenizer files and model.safetensors (dtype F16 or BF16; the float head in F32, its
    // last bias multiplied by kFloatHeadUnit) into `dir` (created when missing).
    Status save(const std::string& dir, DType dtype) const;

private:
    Parameter<float>& param(const std::string& name);
    Var leaf(Tape<float>& t, const std::string& name);
    Var activation(Tape<float>& t, Var x, const std::string& act);

    std::map<std::string, size_t> index_; // the tower's, projector's and head's places in parameters()
    std::string config_json_, tokenizer_json_, tokenizer_config_json_; // written back by save()
    Tokenizer tokenizer_;
    TransformerConfig lm_cfg_;
    LlamaTrainModel lm_;
    int64_t image_size_ = 0, patch_ = 0, grid_ = 0, vd_ = 0, vheads_ = 0, vlayers_ = 0, feature_layers_ = 0;
    float veps_ = 1e-5f;
    std::string vact_, proj_act_, head_type_;
    bool cells_first_ = false;
    int64_t image_token_ = -1, num_token_ = -1;
};

} // namespace tessera::train
