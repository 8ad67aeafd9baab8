// Training text→image generation in the Janus-Pro layout over a VQ image tokenizer, on the tape.
//
// A JanusGenTrainModel is a Janus checkpoint folder's generation path as trainable parameters: the text
// embeddings and the Llama LM (a LlamaTrainModel under `model.language_model.`), the image-token input
// path gen_embed → gen_aligner, and gen_head → logits over the VQ codebook. Sequences are the ones the
// inference pipeline builds (janus.h): the SFT template with the image-start tag (janusGenerationPrompt),
// encoded with the folder's tokenizer as the pipeline encodes it, then the image tokens in raster order,
// positions 0.. without gaps; the unconditional row is the pipeline's CFG row (every prompt token but
// the first and the last replaced by the pad). The loss is the mean cross-entropy of the image tokens.
// The VQ tokenizer rides along unchanged (frozen, not a parameter) so save() writes a whole Janus folder
// that JanusPipeline loads and generates from.
//
// Also here: the word-level tokenizer of the Shapes captions (janusWordTokenizer), a fresh model's
// folder (JanusGenTrainModel::create), and images → codes with the normal Janus VQ loader (JanusVqCodes).
//
// Ownership: a JanusGenTrainModel owns its parameters; Vars it returns point at them, so it must outlive
// the tape's backward(). Thread affinity: one thread at a time per object. Failure modes: load/create/save
// return a Status naming the file or tensor; forward methods throw tessera::Error on bad ids or shapes
// (the Trainer turns that into a failed step).
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"
#include "tessera/engine/tokenizer.h"
#include "tessera/engine/train.h"
#include "tessera/engine/train_llama.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::train {

// ---- tokenizer -------------------------------------------------------------------------------------

// tokenizer.json and tokenizer_config.json of a word-level tokenizer: the special tokens the Janus-Pro
// template and pipeline use at fixed ids (0 <｜▁pad▁｜>, 1 <｜begin▁of▁sentence｜>, 2 <｜end▁of▁sentence｜>,
// 3 <|User|>, 4 <|Assistant|>, 5 <begin_of_image>, 6 <end_of_image>, 7 <image_placeholder>), then 8 <unk>,
// 9 ":" (the template's separator), then `words` lower-cased in the order given (repeats dropped).
// Text is lower-cased and split on whitespace and punctuation runs (the `tokenizers` Whitespace
// pre-tokenizer); BOS is prepended; decode joins words with spaces. Fails on an empty list or a word
// that is not one run of letters/digits/underscores.
struct WordTokenizerFiles {
    std::string tokenizer_json;
    std::string tokenizer_config_json;
};
Expected<WordTokenizerFiles> janusWordTokenizer(const std::vector<std::string>& words);

// ---- sequences -------------------------------------------------------------------------------------

// Prompt rows as JanusPipeline::generate builds them.
class JanusPrompts {
public:
    // `pad_id`: janusPadId() of the folder.
    JanusPrompts(Tokenizer tokenizer, int32_t pad_id) : tokenizer_(std::move(tokenizer)), pad_id_(pad_id) {}
    // encode(janusGenerationPrompt(caption)) with the transformers special tokens.
    std::vector<int64_t> conditional(const std::string& caption) const;
    // The CFG row of `conditional`: the same length, every token but the first and the last the pad.
    std::vector<int64_t> unconditional(const std::vector<int64_t>& conditional) const;
    const Tokenizer& tokenizer() const { return tokenizer_; }
    int32_t padId() const { return pad_id_; }

private:
    Tokenizer tokenizer_;
    int32_t pad_id_;
};

// One training sequence: prompt ids, then the image's codes (grid², raster order).
struct JanusGenExample {
    std::vector<int64_t> prompt;
    std::vector<int64_t> codes;
};

// ---- the model -------------------------------------------------------------------------------------

struct JanusGenConfig {
    int64_t hidden = 256;
    int64_t layers = 4;
    int64_t heads = 8;
    int64_t kv_heads = 0;     // 0: heads
    int64_t intermediate = 0; // 0: 8/3 · hidden rounded up to a multiple of 32
    int64_t max_positions = 256;
    double rope_theta = 10000.0;
    double norm_eps = 1e-5;
};

struct JanusGenInit {
    JanusGenConfig model;
    std::string vq_dir;             // a Janus-layout VQ folder (tessera-cli train-vq writes one)
    int64_t grid = 8;               // image tokens per side (vq_config.num_patches)
    std::vector<std::string> words; // the tokenizer's words (janusWordTokenizer)
    uint64_t seed = 0;              // initial weights
};

enum class SaveDType { F32, BF16, F16 };

class JanusGenTrainModel {
public:
    // A Janus folder (transformers layout, Llama LM) with its tokenizer.
    static Expected<JanusGenTrainModel> load(const std::string& dir);
    // A fresh model: writes its folder (config.json, tokenizer files, model.safetensors with initial
    // weights from `seed` — N(0, 0.02) matrices, output projections scaled by 1/sqrt(2·layers), unit
    // norms, zero biases, N(0, 1) image-token embeddings — and the VQ's tensors) to `dir`, then loads it.
    // The same init gives the same weights on every machine.
    static Expected<JanusGenTrainModel> create(const JanusGenInit& init, const std::string& dir);

    // The LM's tensors, then gen_embed, gen_aligner and gen_head (all trainable). The Trainer's list.
    std::vector<Parameter<float>>& parameters() { return lm_.parameters(); }
    const TransformerConfig& lmConfig() const { return lm_.config(); }
    const JanusPrompts& prompts() const { return *prompts_; }
    int64_t grid() const { return grid_; }
    int64_t codebook() const { return codebook_; }
    int64_t maxPositions() const { return lm_.config().max_positions; }

    // Logits [rows, prompt_len + grid² - 1, codebook] of gen_head over every position of rows that all
    // share one prompt length: prompt ids, then the image-token embeddings of codes 0 .. grid²-2.
    // Position prompt_len - 1 + i predicts code i.
    Var logits(Tape<float>& tape, const std::vector<int64_t>& prompts, const std::vector<int64_t>& codes,
               int64_t rows, int64_t prompt_len);
    // Mean cross-entropy over every image token of `batch` (rows grouped by prompt length, one LM pass
    // per length).
    Var loss(Tape<float>& tape, const std::vector<JanusGenExample>& batch);

    // The whole folder: config.json, tokenizer files, model.safetensors (trained tensors and the VQ's,
    // in `dtype`), each written to a temporary file and renamed.
    Status save(const std::string& dir, SaveDType dtype = SaveDType::BF16) const;

private:
    JanusGenTrainModel() = default;
    Var leaf(Tape<float>& tape, size_t index);
    Var alignedCodebook(Tape<float>& tape);

    LlamaTrainModel lm_;
    std::unique_ptr<JanusPrompts> prompts_;
    size_t gen_first_ = 0; // index of the first generation-path parameter
    Gelu gen_act_ = Gelu::Erf;
    int64_t grid_ = 0, codebook_ = 0;
    std::string config_json_, tokenizer_json_, tokenizer_config_json_;
    struct Frozen {
        std::string name;
        Shape shape;
        std::vector<float> value;
    };
    std::vector<Frozen> vq_; // model.vqmodel.*, saved as read
};

// ---- images → codes --------------------------------------------------------------------------------

// The VQ encoder and quantiser of a Janus-layout VQ folder (tessera-cli train-vq's output, or any folder
// with model.vqmodel.* tensors and a vq_config), through the normal Janus VQ loader on the CPU backend.
class JanusVqCodes {
public:
    static Expected<std::unique_ptr<JanusVqCodes>> load(const std::string& vq_dir, int threads = 0);
    ~JanusVqCodes();
    int64_t downsample() const;
    int64_t codebook() const;
    // pixels [batch, 3, height, width] in [-1, 1], sides multiples of downsample() -> codes
    // [batch, (height/f)·(width/f)] in raster order.
    Expected<std::vector<int64_t>> encode(const std::vector<float>& pixels, int64_t batch, int64_t height,
                                          int64_t width);
    // encode() then the loader's decoder: the tokenizer's reconstruction [batch, 3, height, width], as
    // the decoder outputs it (about [-1, 1], not clamped).
    Expected<std::vector<float>> roundTrip(const std::vector<float>& pixels, int64_t batch, int64_t height,
                                           int64_t width);
    // roundTrip() on 8-bit pictures: `rgb` holds `batch` images [height, width, 3] (HWC, as PNGs are read),
    // mapped to [-1, 1]; the result is in the same layout, the decoder's output clamped to [-1, 1] and
    // rounded to 8 bits. When `mse` is given it gets each image's mean squared error of the clamped
    // output against the input, pixels in [0, 1] (train-vq's PSNR is 10·log10(1 / mse)).
    Expected<std::vector<uint8_t>> roundTripRgb8(const std::vector<uint8_t>& rgb, int64_t batch,
                                                 int64_t height, int64_t width,
                                                 std::vector<double>* mse = nullptr);

private:
    JanusVqCodes() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace tessera::train
