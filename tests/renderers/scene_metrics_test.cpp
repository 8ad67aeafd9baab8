// Assignment checked against exhaustive search over permutations; scores against hand-computed values.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "tessera/renderers/scene_metrics.h"

using namespace tessera::renderers;

namespace {

// Exhaustive minimum over all injective maps of the smaller side into the larger.
double bruteForceMin(const std::vector<double>& cost, std::size_t rows, std::size_t cols) {
    std::vector<std::size_t> perm(std::max(rows, cols));
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {
        double total = 0;
        for (std::size_t k = 0; k < std::min(rows, cols); ++k) {
            total += rows <= cols ? cost[k * cols + perm[k]] : cost[perm[k] * cols + k];
        }
        best = std::min(best, total);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

} // namespace

TEST(Assignment, MatchesExhaustiveSearch) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> dist(0, 10);
    for (int trial = 0; trial < 300; ++trial) {
        std::size_t rows = 1 + rng() % 6, cols = 1 + rng() % 6;
        std::vector<double> cost(rows * cols);
        for (double& c : cost) c = dist(rng);
        auto match = minCostAssignment(cost, rows, cols);
        ASSERT_EQ(match.size(), rows);
        double total = 0;
        std::vector<bool> used(cols, false);
        std::size_t assigned = 0;
        for (std::size_t i = 0; i < rows; ++i) {
            if (match[i] < 0) continue;
            ASSERT_LT(static_cast<std::size_t>(match[i]), cols);
            ASSERT_FALSE(used[match[i]]);
            used[match[i]] = true;
            total += cost[i * cols + match[i]];
            ++assigned;
        }
        EXPECT_EQ(assigned, std::min(rows, cols));
        EXPECT_NEAR(total, bruteForceMin(cost, rows, cols), 1e-9);
    }
}

TEST(SceneScore, HandCheckedCase) {
    Scene truth, pred;
    SceneObject a;  // red rubber cube at (0,0,0.35), rotation 10
    a.color = Color::Red;
    a.position = {0, 0, 0.35};
    a.rotation = 10;
    SceneObject b;  // blue metal sphere at (3,0,0.35), rotation 10
    b.shape = Shape::Sphere;
    b.color = Color::Blue;
    b.material = Material::Metal;
    b.position = {3, 0, 0.35};
    b.rotation = 10;
    truth.objects = {a, b};
    SceneObject pb = b;  // listed first; 0.3 off in x, wrong colour, rotation 350
    pb.position = {3.3, 0, 0.35};
    pb.color = Color::Green;
    pb.rotation = 350;
    SceneObject pa = a;  // off by (0, 0.4, 0), rotation 350
    pa.position = {0, 0.4, 0.35};
    pa.rotation = 350;
    pred.objects = {pb, pa};
    SceneScore s = scoreScene(pred, truth);
    EXPECT_TRUE(s.count_correct);
    EXPECT_EQ(s.matched, 2u);
    EXPECT_DOUBLE_EQ(s.shape_accuracy, 1.0);
    EXPECT_DOUBLE_EQ(s.color_accuracy, 0.5);
    EXPECT_DOUBLE_EQ(s.material_accuracy, 1.0);
    EXPECT_NEAR(s.mean_position_error, (0.3 + 0.4) / 2, 1e-12);
    // The cube's 10 vs 350 is 20 degrees apart; every rotation draws the sphere the same.
    EXPECT_NEAR(s.mean_rotation_error, (20 + 0) / 2.0, 1e-12);
}

TEST(SceneScore, MissingObjectsCountAsWrong) {
    Scene truth, pred;
    truth.objects.resize(4);
    pred.objects.resize(1);
    SceneScore s = scoreScene(pred, truth);
    EXPECT_FALSE(s.count_correct);
    EXPECT_EQ(s.matched, 1u);
    EXPECT_DOUBLE_EQ(s.shape_accuracy, 0.25);
    SceneScore empty = scoreScene(Scene{}, Scene{});
    EXPECT_TRUE(empty.count_correct);
    EXPECT_EQ(empty.matched, 0u);
}

TEST(SceneDifference, PerObjectHandCheckedCase) {
    Scene truth, pred;
    SceneObject a; // red rubber cube at (0, 0, 0.35)
    a.color = Color::Red;
    a.position = {0, 0, 0.35};
    SceneObject b; // blue metal sphere at (3, 0, 0.35), rotation 10
    b.shape = Shape::Sphere;
    b.color = Color::Blue;
    b.material = Material::Metal;
    b.position = {3, 0, 0.35};
    b.rotation = 10;
    truth.objects = {a, b};
    SceneObject pb = b; // 0.3 off in x, green, rotation 350, larger
    pb.position = {3.3, 0, 0.35};
    pb.color = Color::Green;
    pb.rotation = 350;
    pb.size = 0.7;
    SceneObject pa = a; // 0.4 off in y; a regressed size 20% under the truth's
    pa.position = {0, 0.4, 0.35};
    pa.size = a.size * 0.8;
    SceneObject extra; // far from both, so it is the one left out
    extra.position = {20, 20, 0.35};
    pred.objects = {pb, extra, pa};
    const SceneDifference d = diffScenes(pred, truth);
    ASSERT_EQ(d.objects.size(), 3u);
    EXPECT_EQ(d.objects[0].truth, 1);
    EXPECT_TRUE(d.objects[0].shape);
    EXPECT_FALSE(d.objects[0].color);
    EXPECT_TRUE(d.objects[0].material);
    EXPECT_FALSE(d.objects[0].size);
    EXPECT_NEAR(d.objects[0].position_error, 0.3, 1e-12);
    EXPECT_EQ(d.objects[0].rotation_error, 0); // a sphere: round, so 10 and 350 draw the same
    EXPECT_EQ(d.objects[1].truth, -1); // unmatched
    EXPECT_EQ(d.objects[2].truth, 0);
    EXPECT_TRUE(d.objects[2].shape && d.objects[2].color && d.objects[2].material && d.objects[2].size);
    EXPECT_NEAR(d.objects[2].position_error, 0.4, 1e-12);
    {
        Scene off = pred; // 30% under the truth's size is nearer the other size: wrong
        off.objects[2].size = a.size * 0.7;
        EXPECT_FALSE(diffScenes(off, truth).objects[2].size);
    }
    EXPECT_EQ(d.objects[2].rotation_error, 0);
    EXPECT_TRUE(d.missing.empty());
    // A cube's rotation error is modulo its 90-degree symmetry, whatever shape was predicted; a round
    // truth has none.
    const std::vector<std::tuple<Shape, double, double, double>> turns = {
        {Shape::Cube, 10, 350, 20},  {Shape::Cube, 10, 100, 0},  {Shape::Cube, 5, 80, 15},
        {Shape::Cube, 0, 45, 45},    {Shape::Cube, 30, -30, 30}, {Shape::Cylinder, 10, 100, 0},
        {Shape::Sphere, 0, 123.4, 0}};
    for (const auto& [shape, truth_angle, predicted_angle, error] : turns) {
        Scene t1, p1;
        t1.objects.resize(1);
        t1.objects[0].shape = shape;
        t1.objects[0].rotation = truth_angle;
        p1.objects = t1.objects;
        p1.objects[0].shape = Shape::Sphere;
        p1.objects[0].rotation = predicted_angle;
        EXPECT_NEAR(diffScenes(p1, t1).objects[0].rotation_error, error, 1e-9)
            << shapeName(shape) << " " << truth_angle << " vs " << predicted_angle;
    }
    // Fewer predictions than true objects: the true ones left over are listed as missing.
    pred.objects = {pa};
    const SceneDifference m = diffScenes(pred, truth);
    ASSERT_EQ(m.objects.size(), 1u);
    EXPECT_EQ(m.objects[0].truth, 0);
    EXPECT_EQ(m.missing, std::vector<int>{1});
}

// Two scenes summed by hand: scene A has 2 true objects (both matched, shape 1.0, colour 0.5, material
// 1.0, size 0.5, position error 0.2, rotation 10°, count right); scene B has 4 true objects, 1 matched
// (shape 0.25, colour 0.25, material 0, size 0.25, position 1.0, rotation 40°, count wrong).
// Per object: shape (2·1 + 4·0.25)/6 = 0.5, colour (1 + 1)/6, material 2/6, size (1 + 1)/6; per matched
// pair: position (2·0.2 + 1)/3, rotation (20 + 40)/3 = 20; count 1 of 2.
TEST(SceneScoreTotals, WeightsByObjectsAndMatchedPairs) {
    SceneScore a;
    a.count_correct = true;
    a.true_count = 2;
    a.matched = 2;
    a.shape_accuracy = 1.0;
    a.color_accuracy = 0.5;
    a.material_accuracy = 1.0;
    a.size_accuracy = 0.5;
    a.mean_position_error = 0.2;
    a.mean_rotation_error = 10;
    SceneScore b;
    b.count_correct = false;
    b.true_count = 4;
    b.matched = 1;
    b.shape_accuracy = 0.25;
    b.color_accuracy = 0.25;
    b.material_accuracy = 0;
    b.size_accuracy = 0.25;
    b.mean_position_error = 1.0;
    b.mean_rotation_error = 40;
    SceneScoreTotals t;
    EXPECT_EQ(t.countAccuracy(), 0.0);
    EXPECT_EQ(t.meanPositionError(), 0.0);
    t.add(a);
    t.add(b);
    EXPECT_EQ(t.scenes, 2u);
    EXPECT_EQ(t.objects, 6u);
    EXPECT_EQ(t.matched, 3u);
    EXPECT_DOUBLE_EQ(t.countAccuracy(), 0.5);
    EXPECT_DOUBLE_EQ(t.shapeAccuracy(), 0.5);
    EXPECT_DOUBLE_EQ(t.colorAccuracy(), 2.0 / 6.0);
    EXPECT_DOUBLE_EQ(t.materialAccuracy(), 2.0 / 6.0);
    EXPECT_DOUBLE_EQ(t.sizeAccuracy(), 2.0 / 6.0);
    EXPECT_DOUBLE_EQ(t.meanPositionError(), 1.4 / 3.0);
    EXPECT_DOUBLE_EQ(t.meanRotationError(), 20.0);
}
