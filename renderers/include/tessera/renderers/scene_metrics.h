// Scene metrics: predicted vs true objects matched one-to-one by the Hungarian method on centre
// distance, then scored. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <vector>

#include "tessera/renderers/scene.h"

namespace tessera::renderers {

// Minimum-cost assignment for a rows x cols cost matrix (row-major, finite values). Returns, for each
// row, the matched column or -1 when rows > cols. Every column is used at most once.
std::vector<int> minCostAssignment(const std::vector<double>& cost, std::size_t rows, std::size_t cols);

struct SceneScore {
    bool count_correct = false;
    std::size_t matched = 0;     // pairs formed: min(predicted, true)
    std::size_t true_count = 0;
    // Fraction of true objects whose matched prediction has the same attribute (unmatched = wrong).
    double shape_accuracy = 0, color_accuracy = 0, material_accuracy = 0, size_accuracy = 0;
    double mean_position_error = 0; // mean centre distance over matched pairs (0 when none)
    double mean_rotation_error = 0; // mean rotation_error of ObjectDifference, in degrees
};

SceneScore scoreScene(const Scene& predicted, const Scene& truth);

// Scene scores summed over a set of scenes, weighted as each score is: attribute accuracies per true
// object, position and rotation errors per matched pair. The ratios are 0 over an empty set.
struct SceneScoreTotals {
    std::size_t scenes = 0, count_correct = 0, objects = 0, matched = 0;
    double shape = 0, color = 0, material = 0, size = 0, position = 0, rotation = 0; // weighted sums
    void add(const SceneScore& s);
    double countAccuracy() const;
    double shapeAccuracy() const;
    double colorAccuracy() const;
    double materialAccuracy() const;
    double sizeAccuracy() const;
    double meanPositionError() const;
    double meanRotationError() const;
};

// A predicted size counts as right within this fraction of the true size. Sizes come from a regression
// head, never exactly; the Shapes world's two sizes (0.35, 0.7) are a factor 2 apart, so within 25% is
// "nearer to the true size than to the other one".
inline constexpr double kSizeTolerance = 0.25;

// Per object: the same matching as scoreScene, object by object (the studio's difference column).
struct ObjectDifference {
    int truth = -1; // the true object this predicted one is matched to; -1 = unmatched (an extra object)
    bool shape = false, color = false, material = false, size = false; // attribute equal to the truth's (size: kSizeTolerance)
    double position_error = 0; // centre distance to the matched object
    // |angle difference| in degrees modulo the true shape's symmetry: a cube's wrapped to [0, 45]
    // (it repeats every 90), 0 for a true sphere or cylinder (round: every angle draws the same).
    double rotation_error = 0;
};
struct SceneDifference {
    std::vector<ObjectDifference> objects; // one per predicted object, in its order
    std::vector<int> missing;              // true objects no predicted object is matched to
};
SceneDifference diffScenes(const Scene& predicted, const Scene& truth);

} // namespace tessera::renderers
