// Decode orders: which grid positions a step predicts and which of its samples become final.
//
// Every method is the same loop (generation.h) with a different answer to "what does this step
// predict, and what is kept". A decode order owns one token grid per sequence of the batch (-1 =
// unknown); the loop asks it for the next step's positions, samples them, and hands the samples back.
//   RasterOrder      one cell per step, row-major (Janus, LlamaGen).
//   WindowOrder      one s×s window per step, windows row-major, cells row-major inside (Token-Shuffle;
//                    s = 1 is raster).
//   FrameMaskOrder   per frame, S MaskGIT steps over every cell of the frame; a cosine schedule decides
//                    how many stay masked and the least confident (plus Gumbel noise) are re-masked
//                    (Lumos-1's AR-DF).
// Thread affinity: one job's worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

class DecodeOrder {
public:
    virtual ~DecodeOrder() = default;
    virtual std::string name() const = 0;
    int64_t sequences() const { return static_cast<int64_t>(grids_.size()); }
    int64_t cells() const { return cells_; }
    // Positions (row-major cell indices; frames stacked) the next step predicts, the same for every
    // sequence; empty once every grid is complete.
    virtual std::vector<int64_t> next() = 0;
    // The step's samples for sequence `seq`: tokens[i] drawn for positions[i] with log-probability
    // log_probs[i]. Writes the cells that are now final into the grid; returns how many.
    virtual int64_t commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens,
                           const float* log_probs) = 0;
    // Whether every sample a step draws becomes final, in a fixed cell order (raster, windows): then
    // forced tokens can be given in decode order, and a cell's random draw is keyed by the cell alone.
    virtual bool commitsEverySample() const { return true; }
    // Called by the loop once every sequence has committed the step.
    virtual void advance() { ++step_; }
    // Steps taken so far and the number a full run takes.
    int64_t step() const { return step_; }
    virtual int64_t totalSteps() const = 0;
    bool done() const { return step_ >= totalSteps(); }
    // Causality: whether the prediction of `position` may see the token at `other`. A step's forward
    // must hide every cell for which this is false (tests check each order against it).
    virtual bool mayDependOn(int64_t position, int64_t other) const = 0;

    const std::vector<int32_t>& grid(int64_t seq) const { return grids_[static_cast<size_t>(seq)]; }
    // Cells known in a sequence's grid.
    int64_t known(int64_t seq) const;

protected:
    DecodeOrder(int64_t sequences, int64_t cells);
    std::vector<std::vector<int32_t>> grids_;
    int64_t cells_ = 0;
    int64_t step_ = 0;
};

class RasterOrder final : public DecodeOrder {
public:
    RasterOrder(int64_t sequences, int64_t height, int64_t width);
    std::string name() const override { return "raster"; }
    std::vector<int64_t> next() override;
    int64_t commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens,
                   const float* log_probs) override;
    int64_t totalSteps() const override { return cells_; }
    bool mayDependOn(int64_t position, int64_t other) const override { return other < position; }
    int64_t width() const { return width_; }

private:
    int64_t width_;
};

class WindowOrder final : public DecodeOrder {
public:
    // height and width must be multiples of window.
    WindowOrder(int64_t sequences, int64_t height, int64_t width, int64_t window);
    std::string name() const override { return "window"; }
    std::vector<int64_t> next() override;
    int64_t commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens,
                   const float* log_probs) override;
    int64_t totalSteps() const override { return cells_ / (window_ * window_); }
    // Cells of a window are predicted together from the windows before it.
    bool mayDependOn(int64_t position, int64_t other) const override { return windowOf(other) < windowOf(position); }
    // Window index of a cell, and the cells of window w in slot order.
    int64_t windowOf(int64_t position) const;
    std::vector<int64_t> windowCells(int64_t w) const;
    int64_t width() const { return width_; }
    int64_t window() const { return window_; }

private:
    int64_t width_, window_;
};

struct FrameMaskSettings {
    int64_t steps = 50;          // MaskGIT steps per frame
    double gumbel_temperature = 1.0;
    // The reference multiplies the Gumbel temperature by (1 − (s+1)/S) every step and never resets it,
    // so from the second frame on it is 0. true: reset to gumbel_temperature at each frame.
    bool reset_temperature_per_frame = false;
    uint64_t seed = 0; // Philox key for the Gumbel noise
};

class FrameMaskOrder final : public DecodeOrder {
public:
    FrameMaskOrder(int64_t sequences, int64_t frames, int64_t height, int64_t width, FrameMaskSettings settings);
    std::string name() const override { return "frame-maskgit"; }
    bool commitsEverySample() const override { return false; }
    // Every cell of the current frame (known cells are re-predicted and kept, as the reference does).
    std::vector<int64_t> next() override;
    int64_t commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens,
                   const float* log_probs) override;
    int64_t totalSteps() const override { return frames_ * settings_.steps; }
    // Bidirectional inside a frame (known cells of it), causal between frames.
    bool mayDependOn(int64_t position, int64_t other) const override {
        return other / frame_cells_ <= position / frame_cells_ && other != position;
    }
    int64_t frame() const { return step_ / settings_.steps; }
    // Cells left masked after step s (0-based) of a frame with n cells of which `unknown` are unknown:
    // floor(n·cos(π/2·(s+1)/S)) clamped to [1, unknown − 1]; 0 on the last step.
    static int64_t maskedAfter(int64_t n, int64_t unknown, int64_t s, int64_t steps);
    double gumbelTemperature() const { return temperature_; }
    void advance() override;

private:
    int64_t frames_, frame_cells_;
    FrameMaskSettings settings_;
    double temperature_;
};

} // namespace tessera
