// A Llama-family causal LM (RMSNorm, RoPE, GQA attention, SwiGLU) as trainable parameters on a tape.
//
// load() reads the checkpoint folder through the engine's normal path (Checkpoint::open, the Llama
// config reader, Checkpoint::load onto the CPU backend) and keeps every tensor as an f32 Parameter
// under its checkpoint name, so deltas and training checkpoints use the names users see.
// Ownership: the model owns its parameters; Vars it returns live on the caller's tape and point at
// those parameters, so the model must outlive the tape's backward(). Thread affinity: one thread.
// Failure modes: load() returns a Status naming the file or tensor; forward methods throw
// tessera::Error on bad ids or shapes.
#pragma once

#include "tessera/engine/causal_lm.h"
#include "tessera/engine/train.h"

#include <map>
#include <string>
#include <vector>

namespace tessera::train {

class LlamaTrainModel {
public:
    // `layout` says where the LM sits in the checkpoint (Janus-Pro: prefix "model.language_model.").
    // The LM head is optional when untied (Janus-Pro's generation path has its own head); logits()
    // then throws.
    static Expected<LlamaTrainModel> load(const std::string& dir, const LmLayout& layout = {});

    const TransformerConfig& config() const { return cfg_; }
    std::vector<Parameter<float>>& parameters() { return params_; }
    const std::vector<Parameter<float>>& parameters() const { return params_; }
    // nullptr when the model has no tensor of that name.
    Parameter<float>* find(const std::string& name);

    // ids [batch·len] (row-major [batch, len], positions 0..len-1 in each row) -> final-normed hidden
    // states [batch, len, D].
    Var hidden(Tape<float>& tape, const std::vector<int64_t>& ids, int64_t batch, int64_t len);
    // The same from embeddings [batch, len, D] (image-token embeddings from frozen parts, say).
    Var hiddenFromEmbeds(Tape<float>& tape, Var embeds);
    // hidden [..., D] -> logits [..., V] (the embedding when the head is tied).
    Var logits(Tape<float>& tape, Var hidden);
    // The usual causal-LM objective: logits at position t predict labels[t + 1] within each row;
    // labels equal to -100 are not counted; mean over counted targets.
    Var nextTokenLoss(Tape<float>& tape, const std::vector<int64_t>& ids, const std::vector<int64_t>& labels,
                      int64_t batch, int64_t len);

private:
    Var leaf(Tape<float>& tape, const std::string& name);
    TransformerConfig cfg_;
    LmLayout layout_;
    std::vector<Parameter<float>> params_;
    std::map<std::string, size_t> index_;
};

} // namespace tessera::train
