// Training text→image generation in the Token-Shuffle layout (docs/TOKEN_SHUFFLE.md) over a VQ image
// tokenizer, on the tape.
//
// A TokenShuffleTrainModel is a Token-Shuffle folder as trainable parameters: the Llama LM (its
// embedding table holds the text words and then the VQ codes, and is the tied classifier), the input
// shuffle (mlp_in, input residual MLPs) and the output unshuffle (output residual MLPs, mlp_out). A
// training sequence is what TokenShufflePipeline::generate feeds: the caption encoded by the folder's
// tokenizer, then <begin_of_image>, then windows 0 … n−2 of the image (s×s codes each, through the input
// shuffle, one LM position per window); the position of <begin_of_image> predicts window 0 and window j's
// position predicts window j + 1, s² codes at once through the unshuffle. The unconditional row is the
// pipeline's CFG row (every prompt token but the first and the last replaced by the pad). The loss is
// the mean cross-entropy of the image tokens. The VQ tokenizer rides along unchanged (frozen) and is
// saved into the folder's vq/ subfolder, so save() writes a folder TokenShufflePipeline loads.
//
// Ownership: the model owns its parameters; Vars it returns point at them, so it must outlive the tape's
// backward(). Thread affinity: one thread at a time. Failure modes: load/create/save return a Status
// naming the file or tensor; forward methods throw tessera::Error on bad ids or shapes.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tokenizer.h"
#include "tessera/engine/train.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_llama.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::train {

struct TokenShuffleGenInit {
    JanusGenConfig model;           // the LM (hidden must be a multiple of window²)
    std::string vq_dir;             // a Janus-layout VQ folder (tessera-cli train-vq writes one)
    int64_t grid = 8;               // image tokens per side, a multiple of window
    int64_t window = 2;             // s
    int64_t blocks = 2;             // residual MLPs on each side (in_blocks = out_blocks)
    std::vector<std::string> words; // the tokenizer's words (janusWordTokenizer)
    uint64_t seed = 0;              // initial weights
};

class TokenShuffleTrainModel {
public:
    // A Token-Shuffle folder with a Llama LM, tied embeddings (classifier "lm_head"), no residual norm,
    // gelu, and its VQ in vq/.
    static Expected<TokenShuffleTrainModel> load(const std::string& dir);
    // A fresh model: writes its folder (config.json, tokenizer files, model.safetensors,
    // token_shuffle.safetensors, vq/) with initial weights from `seed` — N(0, 0.02) matrices, output
    // projections scaled by 1/sqrt(2·layers), unit norms, zero biases — then loads it.
    static Expected<TokenShuffleTrainModel> create(const TokenShuffleGenInit& init, const std::string& dir);

    // The LM's tensors, then the token_shuffle.* tensors (all trainable). The Trainer's list.
    std::vector<Parameter<float>>& parameters() { return lm_.parameters(); }
    const TransformerConfig& lmConfig() const { return lm_.config(); }
    int64_t grid() const { return grid_; }
    int64_t window() const { return window_; }
    int64_t codebook() const { return codebook_; }

    // The caption's ids as the pipeline builds them (the tokenizer's encoding, then <begin_of_image>),
    // and its CFG row.
    std::vector<int64_t> conditional(const std::string& caption) const;
    std::vector<int64_t> unconditional(const std::vector<int64_t>& conditional) const;

    // Logits [rows, (prompt_len + n − 1) · s², codebook] for rows that share one prompt length, n =
    // (grid/s)² windows: every position's unshuffle, position t's s² rows predicting the window after
    // it. `codes` are in window order (window after window, slots row-major), n · s² per row.
    Var logits(Tape<float>& tape, const std::vector<int64_t>& prompts, const std::vector<int64_t>& codes,
               int64_t rows, int64_t prompt_len);
    // Mean cross-entropy over every image token of `batch` (codes in raster order, grid² per example;
    // rows grouped by prompt length).
    Var loss(Tape<float>& tape, const std::vector<JanusGenExample>& batch);

    // The whole folder, tensors in `dtype` (the VQ's too), each file written to a temporary file and
    // renamed.
    Status save(const std::string& dir, SaveDType dtype = SaveDType::BF16) const;

private:
    TokenShuffleTrainModel() = default;
    Var leaf(Tape<float>& tape, size_t index);
    Var residualBlocks(Tape<float>& tape, Var x, size_t first, int64_t count);

    LlamaTrainModel lm_;
    Tokenizer tokenizer_;
    int32_t pad_id_ = 0, image_start_ = -1;
    size_t ts_first_ = 0; // index of token_shuffle.mlp_in.weight in parameters()
    int64_t grid_ = 0, window_ = 0, codebook_ = 0, image_vocab_start_ = 0, blocks_ = 0;
    std::string config_json_, tokenizer_json_, tokenizer_config_json_, vq_config_json_;
    struct Frozen {
        std::string name;
        Shape shape;
        std::vector<float> value;
    };
    std::vector<Frozen> vq_; // the VQ's tensors, saved as read (in the save dtype)
};

// Raster-order codes of a grid × grid image → window order (window after window, slots row-major).
std::vector<int64_t> codesInWindowOrder(const std::vector<int64_t>& raster, int64_t grid, int64_t window);

} // namespace tessera::train
