// The preview colour map shared by the VQ pipelines (Janus, Token-Shuffle): a pixel colour fitted as
// a linear function of a code's vector on a few calibration cells decoded by the real decoder, then
// evaluated for every code of the book. Header-only; the fit is a handful of unknowns.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace tessera::pipelines {

// Solves (XᵀX + λI) a = Xᵀy by Gauss-Jordan with partial pivoting.
inline std::vector<double> ridgeSolve(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                      double lambda) {
    const size_t n = x.empty() ? 0 : x[0].size();
    std::vector<std::vector<double>> m(n, std::vector<double>(n + 1, 0.0));
    for (size_t r = 0; r < x.size(); ++r)
        for (size_t i = 0; i < n; ++i) {
            for (size_t j = 0; j < n; ++j) m[i][j] += x[r][i] * x[r][j];
            m[i][n] += x[r][i] * y[r];
        }
    for (size_t i = 0; i < n; ++i) m[i][i] += lambda;
    for (size_t c = 0; c < n; ++c) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; ++r)
            if (std::fabs(m[r][c]) > std::fabs(m[piv][c])) piv = r;
        std::swap(m[c], m[piv]);
        if (std::fabs(m[c][c]) < 1e-12) continue;
        for (size_t r = 0; r < n; ++r) {
            if (r == c) continue;
            const double f = m[r][c] / m[c][c];
            for (size_t k = c; k <= n; ++k) m[r][k] -= f * m[c][k];
        }
    }
    std::vector<double> a(n, 0.0);
    for (size_t i = 0; i < n; ++i) a[i] = std::fabs(m[i][i]) < 1e-12 ? 0.0 : m[i][n] / m[i][i];
    return a;
}

// Calibration samples for the fit. `book` holds the code vectors dim-major ([dim, codebook], as
// VqModel::codesFor returns them for all ids).
class CodeColourFit {
public:
    CodeColourFit(const std::vector<float>& book, int64_t codebook)
        : book_(book), codebook_(codebook), dim_(static_cast<int64_t>(book.size()) / codebook) {}

    double code(int64_t id, int64_t d) const { return static_cast<double>(book_[static_cast<size_t>(d * codebook_ + id)]); }

    // One calibration cell: the code drawn there and the mean colour measured over it.
    void add(int64_t id, const double rgb[3]) {
        std::vector<double> row;
        for (int64_t d = 0; d < dim_; ++d) row.push_back(code(id, d));
        row.push_back(1.0);
        x_.push_back(std::move(row));
        for (int c = 0; c < 3; ++c) y_[c].push_back(rgb[c]);
    }

    // Every code's colour, RGB bytes [codebook · 3]: the fitted linear value passed through `to_byte`
    // (the measured colours' scale to 0..255), clamped.
    std::vector<uint8_t> colours(const std::function<double(double)>& to_byte) const {
        std::vector<std::vector<double>> coef;
        for (int c = 0; c < 3; ++c) coef.push_back(ridgeSolve(x_, y_[c], 1e-3));
        std::vector<uint8_t> out(static_cast<size_t>(codebook_ * 3));
        for (int64_t id = 0; id < codebook_; ++id)
            for (int c = 0; c < 3; ++c) {
                double v = coef[static_cast<size_t>(c)][static_cast<size_t>(dim_)];
                for (int64_t d = 0; d < dim_; ++d) v += coef[static_cast<size_t>(c)][static_cast<size_t>(d)] * code(id, d);
                out[static_cast<size_t>(id * 3 + c)] = static_cast<uint8_t>(std::clamp(to_byte(v), 0.0, 255.0));
            }
        return out;
    }

private:
    const std::vector<float>& book_;
    int64_t codebook_, dim_;
    std::vector<std::vector<double>> x_;
    std::vector<double> y_[3];
};

} // namespace tessera::pipelines
