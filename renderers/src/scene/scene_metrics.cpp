// Hungarian method (shortest augmenting paths with potentials, O(n^2 m)). Hand-written: Debian has no
// small, maintained C++ assignment-problem library, and the method is a few dozen lines.
#include "tessera/renderers/scene_metrics.h"

#include <cmath>
#include <limits>

namespace tessera::renderers {

std::vector<int> minCostAssignment(const std::vector<double>& cost, std::size_t rows, std::size_t cols) {
    if (rows == 0) return {};
    if (cols == 0) return std::vector<int>(rows, -1);
    const bool transpose = rows > cols; // the method needs n <= m
    const std::size_t n = transpose ? cols : rows;
    const std::size_t m = transpose ? rows : cols;
    auto a = [&](std::size_t i, std::size_t j) { // 1-based
        return transpose ? cost[(j - 1) * cols + (i - 1)] : cost[(i - 1) * cols + (j - 1)];
    };
    const double kInf = std::numeric_limits<double>::infinity();
    std::vector<double> u(n + 1, 0), v(m + 1, 0);
    std::vector<std::size_t> p(m + 1, 0), way(m + 1, 0);
    for (std::size_t i = 1; i <= n; ++i) {
        p[0] = i;
        std::size_t j0 = 0;
        std::vector<double> minv(m + 1, kInf);
        std::vector<bool> used(m + 1, false);
        do {
            used[j0] = true;
            std::size_t i0 = p[j0], j1 = 0;
            double delta = kInf;
            for (std::size_t j = 1; j <= m; ++j) {
                if (used[j]) continue;
                double cur = a(i0, j) - u[i0] - v[j];
                if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
                if (minv[j] < delta) { delta = minv[j]; j1 = j; }
            }
            for (std::size_t j = 0; j <= m; ++j) {
                if (used[j]) { u[p[j]] += delta; v[j] -= delta; }
                else minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            std::size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int> match(rows, -1);
    for (std::size_t j = 1; j <= m; ++j) {
        if (p[j] == 0) continue;
        if (transpose) match[j - 1] = static_cast<int>(p[j] - 1);
        else match[p[j] - 1] = static_cast<int>(j - 1);
    }
    return match;
}

SceneDifference diffScenes(const Scene& predicted, const Scene& truth) {
    const auto& pred = predicted.objects;
    const auto& real = truth.objects;
    SceneDifference d;
    d.objects.resize(pred.size());
    std::vector<double> cost(real.size() * pred.size());
    for (std::size_t i = 0; i < real.size(); ++i) {
        for (std::size_t j = 0; j < pred.size(); ++j) {
            double d2 = 0;
            for (int k = 0; k < 3; ++k) d2 += std::pow(real[i].position[k] - pred[j].position[k], 2);
            cost[i * pred.size() + j] = std::sqrt(d2);
        }
    }
    std::vector<int> match = minCostAssignment(cost, real.size(), pred.size());
    for (std::size_t i = 0; i < real.size(); ++i) {
        if (match[i] < 0) {
            d.missing.push_back(static_cast<int>(i));
            continue;
        }
        const SceneObject& t = real[i];
        const SceneObject& p = pred[static_cast<std::size_t>(match[i])];
        ObjectDifference& o = d.objects[static_cast<std::size_t>(match[i])];
        o.truth = static_cast<int>(i);
        o.shape = t.shape == p.shape;
        o.color = t.color == p.color;
        o.material = t.material == p.material;
        o.size = std::fabs(t.size - p.size) <= kSizeTolerance * std::fabs(t.size);
        o.position_error = cost[i * pred.size() + static_cast<std::size_t>(match[i])];
        // Modulo the true shape's symmetry about z (canonicalRotation): a cube repeats every 90 degrees,
        // and any rotation draws a sphere or a cylinder the same.
        if (t.shape == Shape::Cube) {
            const double a = std::fmod(std::fabs(t.rotation - p.rotation), 90.0);
            o.rotation_error = a > 45 ? 90 - a : a;
        }
    }
    return d;
}

SceneScore scoreScene(const Scene& predicted, const Scene& truth) {
    SceneScore s;
    s.true_count = truth.objects.size();
    s.count_correct = predicted.objects.size() == truth.objects.size();
    const SceneDifference d = diffScenes(predicted, truth);
    std::size_t shape = 0, color = 0, material = 0, size = 0;
    double pos = 0, rot = 0;
    for (const ObjectDifference& o : d.objects) {
        if (o.truth < 0) continue;
        ++s.matched;
        shape += o.shape;
        color += o.color;
        material += o.material;
        size += o.size;
        pos += o.position_error;
        rot += o.rotation_error;
    }
    if (s.true_count > 0) {
        const double n = static_cast<double>(s.true_count);
        s.shape_accuracy = shape / n;
        s.color_accuracy = color / n;
        s.material_accuracy = material / n;
        s.size_accuracy = size / n;
    }
    if (s.matched) {
        s.mean_position_error = pos / static_cast<double>(s.matched);
        s.mean_rotation_error = rot / static_cast<double>(s.matched);
    }
    return s;
}

void SceneScoreTotals::add(const SceneScore& s) {
    const double n = static_cast<double>(s.true_count), m = static_cast<double>(s.matched);
    ++scenes;
    count_correct += s.count_correct;
    objects += s.true_count;
    matched += s.matched;
    shape += s.shape_accuracy * n;
    color += s.color_accuracy * n;
    material += s.material_accuracy * n;
    size += s.size_accuracy * n;
    position += s.mean_position_error * m;
    rotation += s.mean_rotation_error * m;
}

namespace {
double ratio(double sum, std::size_t count) { return count ? sum / static_cast<double>(count) : 0.0; }
} // namespace

double SceneScoreTotals::countAccuracy() const { return ratio(static_cast<double>(count_correct), scenes); }
double SceneScoreTotals::shapeAccuracy() const { return ratio(shape, objects); }
double SceneScoreTotals::colorAccuracy() const { return ratio(color, objects); }
double SceneScoreTotals::materialAccuracy() const { return ratio(material, objects); }
double SceneScoreTotals::sizeAccuracy() const { return ratio(size, objects); }
double SceneScoreTotals::meanPositionError() const { return ratio(position, matched); }
double SceneScoreTotals::meanRotationError() const { return ratio(rotation, matched); }

} // namespace tessera::renderers
