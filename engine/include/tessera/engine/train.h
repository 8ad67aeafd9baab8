// Training core: reverse-mode gradients on the host (a tape), parameters, Adam/AdamW.
//
// A Tape records every op of one forward pass together with how to push gradients back through it;
// backward() walks the record in reverse. Values are host arrays of `Real` (float for training,
// double for gradient checks), row-major, contiguous. Parameters live outside the tape: a leaf op
// reads a Parameter's value and backward() adds into its grad, so running several forward/backward
// passes before an optimizer step accumulates gradients (gradient accumulation), and a frozen
// Parameter (trainable = false) receives nothing.
//
// Ownership: a Tape owns the values it computed; Parameters passed to leaf() must outlive the tape's
// use (the tape keeps a pointer). Thread affinity: one thread per tape. Failure modes: ops check shapes
// and ids and throw tessera::Error with a message naming the op and the shapes (callers at module
// boundaries turn that into a Status, as the Trainer does).
//
// Sections: Parameter / Var / Tape (ops) / optimizers. The design is described in
// engine/src/train/README.md.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::train {

// A named trainable (or frozen) tensor with its accumulated gradient.
template <class Real> struct Parameter {
    std::string name;
    Shape shape;
    std::vector<Real> value;
    std::vector<Real> grad; // same size as value; zeroGrad() clears it
    bool trainable = true;

    int64_t numel() const { return shapeNumel(shape); }
    void zeroGrad() { grad.assign(value.size(), Real(0)); }
};

// A handle to a value on a tape (an index; only valid on the tape that made it).
struct Var {
    int32_t id = -1;
    bool defined() const { return id >= 0; }
};

enum class Gelu { Erf, Tanh };

// Which keys a query may see in attention(): causal (key s visible to query t when
// s <= t + (S - T), i.e. queries are the last T of S positions), and optionally a per-row key mask
// [B, S] (1 = keep) for padding.
struct AttentionSpec {
    int64_t heads = 1, kv_heads = 1, head_dim = 1;
    bool causal = true;
    std::vector<uint8_t> key_keep; // empty = all keys kept; else B*S entries
};

template <class Real> class Tape {
public:
    Tape() = default;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Drops every recorded op (parameters are untouched).
    void clear();
    size_t size() const { return nodes_.size(); }

    const std::vector<Real>& value(Var v) const;
    const Shape& shape(Var v) const;
    // Gradient of the last backward() with respect to v (zeros when nothing reached it).
    const std::vector<Real>& grad(Var v);
    // The single value of a one-element Var.
    Real scalar(Var v) const;

    // --- leaves ---
    // A parameter: backward() adds into p.grad when p.trainable.
    Var leaf(Parameter<Real>& p);
    // A constant input (no gradient leaves the tape through it; grad(v) is still available).
    Var constant(std::vector<Real> value, Shape shape);
    // Same value as x, but no gradient flows back through it (straight-through, ESD targets).
    Var stopGradient(Var x);

    // --- elementwise and shape ---
    Var add(Var a, Var b); // same shape
    Var sub(Var a, Var b); // same shape
    Var mul(Var a, Var b); // same shape
    Var scale(Var x, Real s);
    Var reshape(Var x, Shape shape); // numel must match (a copy on the tape)
    // Joins `parts` along dimension `axis`; every other dimension must match (prompt embeddings
    // followed by image-token embeddings, one table from two).
    Var concat(const std::vector<Var>& parts, int64_t axis);
    Var silu(Var x);
    Var tanh(Var x);
    Var gelu(Var x, Gelu kind);
    Var swiglu(Var gate, Var up); // silu(gate) * up
    // [B, C, H, W] -> [B*H*W, C] and back: channel vectors as rows (vector quantisation).
    Var channelsLast(Var x);
    Var channelsFirst(Var x, int64_t batch, int64_t height, int64_t width);

    // --- transformer ---
    // ids (N values in [0, V)) -> rows of table [V, D]: [N, D].
    Var embedding(Var table, const std::vector<int64_t>& ids);
    // x [N, in] · w[out, in]ᵀ (+ bias [out]) -> [N, out] (BLAS).
    Var linear(Var x, Var w, Var bias = {});
    // Over the last dimension D; weight [D].
    Var rmsNorm(Var x, Var weight, Real eps);
    // Over the last dimension D; weight and bias [D] optional (undefined Var = none).
    Var layerNorm(Var x, Var weight, Var bias, Real eps);
    // Rotary embedding (rotate-half convention) of x [B, T, H*head_dim] at positions [B*T]
    // with frequencies theta^(-2i/head_dim).
    Var rope(Var x, int64_t heads, int64_t head_dim, const std::vector<int64_t>& positions, double theta);
    // Rotary embedding with given tables cos, sin [rows, head_dim] (MM-RoPE's, or any): per head,
    // y = x·cos + rotate_half(x)·sin.
    Var ropeTables(Var x, int64_t heads, int64_t head_dim, std::vector<Real> cos, std::vector<Real> sin);
    // Chameleon's QK norm: LayerNorm of each head's slice of x [..., heads·hd], affine [heads, hd].
    Var layerNormPerHead(Var x, int64_t heads, Var weight, Var bias, Real eps);
    // q [B, T, Hq*hd], k and v [B, S, Hkv*hd] -> [B, T, Hq*hd]; softmax(q·kᵀ/sqrt(hd)) over the
    // keys the spec allows. Query head h reads kv head h / (Hq/Hkv) (GQA). A query that sees no key
    // gets zeros.
    Var attention(Var q, Var k, Var v, const AttentionSpec& spec);

    // --- losses (scalar results) ---
    // Mean over rows whose target is not `ignore` of -log softmax(logits)[target]; logits [N, V].
    Var crossEntropy(Var logits, const std::vector<int64_t>& targets, int64_t ignore = -100);
    // Mean of (a - b)² over all elements.
    Var mse(Var a, Var b);
    Var sum(Var x);

    // --- image tokenizer family: x [B, C, H, W] ---
    // w [O, C, kh, kw], bias [O] optional; im2col + BLAS.
    Var conv2d(Var x, Var w, Var bias, int stride, int pad);
    // weight and bias [C].
    Var groupNorm(Var x, int groups, Var weight, Var bias, Real eps);
    Var upsampleNearest2x(Var x);

    // Nearest codebook row for each row of z [N, D] (codebook [K, D], squared L2, ties to the lower
    // index). `straight_through` has the codes' values and passes its gradient to z unchanged;
    // `codes` has the same values and passes its gradient to the codebook rows (for the codebook
    // loss mse(codes, stopGradient(z))).
    struct Quantized {
        Var straight_through, codes;
        std::vector<int64_t> indices;
    };
    Quantized vectorQuantize(Var z, Var codebook);

    // Runs the recorded ops in reverse from a one-element `loss` (seed 1) and adds into the grads
    // of the trainable parameters that were leaves.
    void backward(Var loss);

private:
    struct Node {
        Shape shape;
        std::vector<Real> value;
        std::vector<Real> grad;                 // sized at backward()
        std::function<void(Tape&, Node&)> back; // pushes this node's grad into its inputs
    };
    Var push(Shape shape, std::vector<Real> value, std::function<void(Tape&, Node&)> back);
    Node& node(Var v);
    const Node& node(Var v) const;
    std::vector<Real>& gradOf(Var v); // sized lazily during backward

    std::vector<std::unique_ptr<Node>> nodes_;
    bool in_backward_ = false;
};

// --- optimizers ---

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool decoupled = true; // AdamW (decay applied to the weight) or Adam (decay added to the gradient)
};

// Adam/AdamW with PyTorch's update order (torch.optim.Adam/AdamW, no amsgrad), state per parameter
// name. Frozen parameters are skipped and keep no state.
class Adam {
public:
    explicit Adam(AdamOptions options) : options_(options) {}
    const AdamOptions& options() const { return options_; }
    // The learning rate of the next update (a schedule sets it before each step).
    void setLr(double lr) { options_.lr = lr; }
    int64_t step() const { return step_; }
    // One update of every trainable parameter from its grad.
    void update(std::vector<Parameter<float>>& params);

    struct State {
        std::vector<float> exp_avg, exp_avg_sq;
    };
    const std::map<std::string, State>& state() const { return state_; }
    // Restores the state of a checkpoint (step count and moments by parameter name).
    void restore(int64_t step, std::map<std::string, State> state);

private:
    AdamOptions options_;
    int64_t step_ = 0;
    std::map<std::string, State> state_;
};

// Sets trainable = false on every parameter whose name matches one of `patterns` (a glob with `*`
// for any run of characters, e.g. "model.layers.*.mlp.*"); returns how many were frozen.
int freezeMatching(std::vector<Parameter<float>>& params, const std::vector<std::string>& patterns);
bool globMatch(const std::string& pattern, const std::string& text);

} // namespace tessera::train
