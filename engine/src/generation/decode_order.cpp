// Decode orders: raster, s×s windows, MaskGIT in frames.
#include "tessera/engine/decode_order.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tessera/engine/sampler.h"
#include "tessera/engine/status.h"

namespace tessera {

DecodeOrder::DecodeOrder(int64_t sequences, int64_t cells) : cells_(cells) {
    TS_CHECK(sequences >= 1 && sequences <= 4096, "decode order: sequences must be in [1, 4096]");
    TS_CHECK(cells >= 1 && cells <= (int64_t(1) << 26), "decode order: grid size out of range");
    grids_.assign(static_cast<size_t>(sequences), std::vector<int32_t>(static_cast<size_t>(cells), -1));
}

int64_t DecodeOrder::known(int64_t seq) const {
    const auto& g = grids_[static_cast<size_t>(seq)];
    return std::count_if(g.begin(), g.end(), [](int32_t t) { return t >= 0; });
}

namespace {

int64_t writeAll(std::vector<int32_t>& grid, const std::vector<int64_t>& positions, const int32_t* tokens) {
    for (size_t i = 0; i < positions.size(); ++i) grid[static_cast<size_t>(positions[i])] = tokens[i];
    return static_cast<int64_t>(positions.size());
}

} // namespace

// ---- raster ------------------------------------------------------------------------------------------

RasterOrder::RasterOrder(int64_t sequences, int64_t height, int64_t width)
    : DecodeOrder(sequences, height * width), width_(width) {}

std::vector<int64_t> RasterOrder::next() {
    if (done()) return {};
    return {step_};
}

int64_t RasterOrder::commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens, const float*) {
    return writeAll(grids_[static_cast<size_t>(seq)], positions, tokens);
}

// ---- windows -----------------------------------------------------------------------------------------

WindowOrder::WindowOrder(int64_t sequences, int64_t height, int64_t width, int64_t window)
    : DecodeOrder(sequences, height * width), width_(width), window_(window) {
    TS_CHECK(window >= 1 && height % window == 0 && width % window == 0,
             "window order: the grid (" + std::to_string(height) + "x" + std::to_string(width) +
                 ") must be a multiple of the window size " + std::to_string(window));
}

int64_t WindowOrder::windowOf(int64_t position) const {
    const int64_t y = position / width_, x = position % width_;
    return (y / window_) * (width_ / window_) + x / window_;
}

std::vector<int64_t> WindowOrder::windowCells(int64_t w) const {
    const int64_t per_row = width_ / window_, wy = w / per_row, wx = w % per_row;
    std::vector<int64_t> cells;
    cells.reserve(static_cast<size_t>(window_ * window_));
    for (int64_t dy = 0; dy < window_; ++dy)
        for (int64_t dx = 0; dx < window_; ++dx) cells.push_back((wy * window_ + dy) * width_ + wx * window_ + dx);
    return cells;
}

std::vector<int64_t> WindowOrder::next() {
    if (done()) return {};
    return windowCells(step_);
}

int64_t WindowOrder::commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens, const float*) {
    return writeAll(grids_[static_cast<size_t>(seq)], positions, tokens);
}

// ---- MaskGIT in frames -------------------------------------------------------------------------------

FrameMaskOrder::FrameMaskOrder(int64_t sequences, int64_t frames, int64_t height, int64_t width,
                               FrameMaskSettings settings)
    : DecodeOrder(sequences, frames * height * width), frames_(frames), frame_cells_(height * width),
      settings_(settings), temperature_(settings.gumbel_temperature) {
    TS_CHECK(frames >= 1 && settings.steps >= 1, "frame order: frames and steps must be at least 1");
}

int64_t FrameMaskOrder::maskedAfter(int64_t n, int64_t unknown, int64_t s, int64_t steps) {
    if (s + 1 >= steps) return 0;
    constexpr double kHalfPi = 1.5707963267948966;
    auto masked = static_cast<int64_t>(std::floor(static_cast<double>(n) *
                                                  std::cos(kHalfPi * static_cast<double>(s + 1) / static_cast<double>(steps))));
    return std::clamp<int64_t>(masked, 1, std::max<int64_t>(1, unknown - 1));
}

std::vector<int64_t> FrameMaskOrder::next() {
    if (done()) return {};
    std::vector<int64_t> cells(static_cast<size_t>(frame_cells_));
    std::iota(cells.begin(), cells.end(), frame() * frame_cells_);
    return cells;
}

int64_t FrameMaskOrder::commit(int64_t seq, const std::vector<int64_t>& positions, const int32_t* tokens,
                               const float* log_probs) {
    auto& grid = grids_[static_cast<size_t>(seq)];
    const int64_t s = step_ % settings_.steps;
    int64_t unknown = 0;
    for (int64_t p : positions) unknown += grid[static_cast<size_t>(p)] < 0;
    if (unknown == 0) return 0;
    const int64_t keep_masked = std::min(unknown, maskedAfter(frame_cells_, unknown, s, settings_.steps));
    // Confidence: log p of the new sample plus temperature·Gumbel noise; known cells are +inf.
    const double temp = temperature_ * (1.0 - static_cast<double>(s + 1) / static_cast<double>(settings_.steps));
    std::vector<std::pair<double, int64_t>> conf;
    conf.reserve(static_cast<size_t>(unknown));
    for (size_t i = 0; i < positions.size(); ++i) {
        const int64_t p = positions[i];
        if (grid[static_cast<size_t>(p)] >= 0) continue;
        double c = log_probs[i];
        if (temp > 0) {
            const double u = std::max(Philox::uniform(settings_.seed, static_cast<uint64_t>(seq),
                                                      static_cast<uint64_t>(step_ * cells_ + p)),
                                      1e-20);
            c += temp * -std::log(-std::log(u));
        }
        conf.emplace_back(c, static_cast<int64_t>(i));
    }
    // The keep_masked least confident stay masked (ties: lower cell first stays masked).
    std::sort(conf.begin(), conf.end(), [&](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : positions[static_cast<size_t>(a.second)] < positions[static_cast<size_t>(b.second)];
    });
    int64_t committed = 0;
    for (size_t j = static_cast<size_t>(keep_masked); j < conf.size(); ++j) {
        const size_t i = static_cast<size_t>(conf[j].second);
        grid[static_cast<size_t>(positions[i])] = tokens[i];
        ++committed;
    }
    return committed;
}

void FrameMaskOrder::advance() {
    const int64_t s = step_ % settings_.steps;
    temperature_ *= 1.0 - static_cast<double>(s + 1) / static_cast<double>(settings_.steps);
    ++step_;
    if (settings_.reset_temperature_per_frame && step_ % settings_.steps == 0) temperature_ = settings_.gumbel_temperature;
}

} // namespace tessera
