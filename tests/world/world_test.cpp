// The Shapes world: determinism, splits, captions against programs (read by a parser written here, not
// the generator's), clips, and rendered pixels where the camera puts the objects.
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"
#include "tessera/world/world.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace tessera::renderers;
namespace w = tessera::world;

constexpr double kPi = 3.14159265358979323846;

w::WorldScene sceneOk(w::Split split, uint64_t index) {
    auto made = w::makeScene(split, index);
    EXPECT_TRUE(made.ok) << made.error;
    return made.value;
}

// Pinhole camera written out again here: forward, right = forward x z, up = right x forward.
struct View {
    double x = 0, y = 0, depth = 0, side = 0;
};
View view(const Camera& c, const Vec3& p, int size) {
    double f[3] = {c.look_at[0] - c.position[0], c.look_at[1] - c.position[1], c.look_at[2] - c.position[2]};
    const double fl = std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (double& v : f) v /= fl;
    double rt[3] = {f[1], -f[0], 0};
    const double rl = std::hypot(rt[0], rt[1]);
    rt[0] /= rl;
    rt[1] /= rl;
    const double up[3] = {rt[1] * f[2] - rt[2] * f[1], rt[2] * f[0] - rt[0] * f[2],
                          rt[0] * f[1] - rt[1] * f[0]};
    const double d[3] = {p[0] - c.position[0], p[1] - c.position[1], p[2] - c.position[2]};
    View v;
    v.side = d[0] * rt[0] + d[1] * rt[1] + d[2] * rt[2];
    const double y = d[0] * up[0] + d[1] * up[1] + d[2] * up[2];
    v.depth = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
    const double t = std::tan(c.fov * kPi / 360.0);
    v.x = size / 2.0 + v.side / v.depth / t * (size / 2.0);
    v.y = size / 2.0 - y / v.depth / t * (size / 2.0);
    return v;
}

// The caption read independently of the generator: "a SIZE COLOUR MATERIAL SHAPE" phrases joined by
// "left of", every word checked against the vocabulary of docs/WORLD.md.
struct Phrase {
    std::string size, color, material, shape;
};
bool parseCaption(const std::string& caption, std::vector<Phrase>& out, std::string& why) {
    std::istringstream in(caption);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    const std::set<std::string> sizes{"small", "large"}, materials{"rubber", "metal"},
        shapes{"cube", "sphere", "cylinder"},
        colors{"gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"};
    size_t i = 0;
    while (true) {
        if (i + 5 > words.size() || words[i] != "a") {
            why = "expected 'a SIZE COLOUR MATERIAL SHAPE' at word " + std::to_string(i);
            return false;
        }
        Phrase p{words[i + 1], words[i + 2], words[i + 3], words[i + 4]};
        if (!sizes.count(p.size) || !colors.count(p.color) || !materials.count(p.material) ||
            !shapes.count(p.shape)) {
            why = "unknown word in phrase at word " + std::to_string(i);
            return false;
        }
        out.push_back(p);
        i += 5;
        if (i == words.size()) return true;
        if (i + 2 > words.size() || words[i] != "left" || words[i + 1] != "of") {
            why = "expected 'left of' at word " + std::to_string(i);
            return false;
        }
        i += 2;
    }
}

std::string sizeWord(double size) {
    if (size == w::kSmallSize) return "small";
    if (size == w::kLargeSize) return "large";
    return "?";
}

TEST(World, SameSplitAndIndexGiveTheSameSceneAndProgram) {
    for (uint64_t k : {0ull, 1ull, 77ull, 123456ull}) {
        for (w::Split s : {w::Split::Train, w::Split::Val, w::Split::Test, w::Split::Ood}) {
            const auto a = sceneOk(s, k), b = sceneOk(s, k);
            EXPECT_EQ(a.scene, b.scene);
            EXPECT_EQ(a.caption, b.caption);
            EXPECT_EQ(writeSceneProgram(a.scene), writeSceneProgram(b.scene));
        }
    }
    // Different seeds give different scenes.
    EXPECT_NE(sceneOk(w::Split::Train, 0).scene, sceneOk(w::Split::Train, 1).scene);
}

TEST(World, SplitsUseDisjointSeedRanges) {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (w::Split s : {w::Split::Train, w::Split::Val, w::Split::Test, w::Split::Ood}) {
        const auto r = w::splitRange(s);
        ASSERT_GT(r.count, 0u);
        ranges.push_back({r.first_seed, r.first_seed + r.count});
        EXPECT_EQ(sceneOk(s, 5).seed, r.first_seed + 5);
    }
    for (size_t i = 0; i < ranges.size(); ++i)
        for (size_t j = i + 1; j < ranges.size(); ++j)
            EXPECT_TRUE(ranges[i].second <= ranges[j].first || ranges[j].second <= ranges[i].first)
                << i << " " << j;
    EXPECT_EQ(*w::parseSplit("ood"), w::Split::Ood);
    EXPECT_FALSE(w::parseSplit("training").has_value());
}

TEST(World, HeldOutPairsOnlyInTheOodSplit) {
    // The held-out pairs as docs/WORLD.md lists them.
    const std::set<std::pair<Color, Shape>> held{{Color::Cyan, Shape::Cube},
                                                 {Color::Red, Shape::Sphere},
                                                 {Color::Yellow, Shape::Cylinder},
                                                 {Color::Green, Shape::Sphere}};
    std::set<std::pair<Color, Shape>> seen_train, seen_ood;
    for (w::Split s : {w::Split::Train, w::Split::Val, w::Split::Test})
        for (uint64_t k = 0; k < (s == w::Split::Train ? 400u : 100u); ++k)
            for (const auto& o : sceneOk(s, k).scene.objects) {
                EXPECT_FALSE(held.count({o.color, o.shape})) << w::splitName(s) << " " << k;
                if (s == w::Split::Train) seen_train.insert({o.color, o.shape});
            }
    EXPECT_EQ(seen_train.size(), 24u - held.size()); // every other pair does appear in train
    for (uint64_t k = 0; k < 100; ++k) {
        const auto ws = sceneOk(w::Split::Ood, k);
        bool any = false;
        for (const auto& o : ws.scene.objects)
            if (held.count({o.color, o.shape})) {
                any = true;
                seen_ood.insert({o.color, o.shape});
            }
        EXPECT_TRUE(any) << "ood scene " << k << " has no held-out pair";
    }
    EXPECT_EQ(seen_ood, held);
}

TEST(World, ScenesFollowTheRules) {
    std::map<size_t, int> counts;
    for (uint64_t k = 0; k < 300; ++k) {
        const auto ws = sceneOk(w::Split::Train, k);
        const Scene& s = ws.scene;
        ASSERT_GE(s.objects.size(), 1u);
        ASSERT_LE(s.objects.size(), 4u);
        ++counts[s.objects.size()];
        // Camera jitter: within 0.5 of the default eye on each axis, looking at the origin.
        const Camera base;
        for (int i = 0; i < 3; ++i) EXPECT_LE(std::abs(s.camera.position[i] - base.position[i]), 0.5 + 1e-9);
        for (size_t i = 0; i < s.objects.size(); ++i) {
            const auto& o = s.objects[i];
            EXPECT_TRUE(o.size == w::kSmallSize || o.size == w::kLargeSize);
            EXPECT_DOUBLE_EQ(o.position[2], o.size); // on the ground
            EXPECT_LE(std::abs(o.position[0]), 3.0);
            EXPECT_LE(std::abs(o.position[1]), 3.0);
            const View v = view(s.camera, o.position, 64);
            EXPECT_TRUE(v.x > 0 && v.x < 64 && v.y > 0 && v.y < 64) << k;
            for (size_t j = i + 1; j < s.objects.size(); ++j) {
                const auto& b = s.objects[j];
                // Footprints (a cube's reaches its corners) do not touch.
                auto reach = [](const SceneObject& x) {
                    return x.shape == Shape::Cube ? x.size * std::sqrt(2.0) : x.size;
                };
                EXPECT_GT(std::hypot(o.position[0] - b.position[0], o.position[1] - b.position[1]),
                          reach(o) + reach(b))
                    << k;
            }
        }
        const auto back = parseSceneProgram(writeSceneProgram(s));
        ASSERT_TRUE(back.ok) << back.error;
        EXPECT_EQ(back.scene, s);
    }
    for (size_t n = 1; n <= 4; ++n) EXPECT_GT(counts[n], 50) << n << " objects";
}

TEST(World, CaptionsDescribeTheProgramLeftToRight) {
    for (w::Split split : {w::Split::Train, w::Split::Ood})
        for (uint64_t k = 0; k < 200; ++k) {
            const auto ws = sceneOk(split, k);
            std::vector<Phrase> phrases;
            std::string why;
            ASSERT_TRUE(parseCaption(ws.caption, phrases, why)) << why << ": " << ws.caption;
            ASSERT_EQ(phrases.size(), ws.scene.objects.size()) << ws.caption;
            std::vector<SceneObject> order = ws.scene.objects;
            std::sort(order.begin(), order.end(), [&](const SceneObject& a, const SceneObject& b) {
                return view(ws.scene.camera, a.position, 64).x < view(ws.scene.camera, b.position, 64).x;
            });
            for (size_t i = 0; i < order.size(); ++i) {
                EXPECT_EQ(phrases[i].size, sizeWord(order[i].size)) << ws.caption;
                EXPECT_EQ(phrases[i].color, colorName(order[i].color)) << ws.caption;
                EXPECT_EQ(phrases[i].material, materialName(order[i].material)) << ws.caption;
                EXPECT_EQ(phrases[i].shape, shapeName(order[i].shape)) << ws.caption;
                if (i > 0) { // never a close call: neighbours at least 3 pixels apart in a 64-pixel view
                    EXPECT_GE(view(ws.scene.camera, order[i].position, 64).x -
                                  view(ws.scene.camera, order[i - 1].position, 64).x,
                              3.0 - 1e-9);
                }
            }
        }
    // A hand-checked case: from the default camera at (7.5, -7.5, 5.5), facing (-1, 1) on the ground, the
    // right hand points along (1, 1, 0)/√2 and both objects are at the same depth, so the object at
    // (-2, -2) is left of the one at (2, 2).
    Scene s;
    SceneObject a, b;
    a.shape = Shape::Sphere;
    a.color = Color::Blue;
    a.size = w::kLargeSize;
    a.position = {-2, -2, w::kLargeSize};
    b.material = Material::Metal;
    b.color = Color::Red;
    b.position = {2, 2, 0.35};
    s.objects = {a, b};
    EXPECT_EQ(w::captionFor(s), "a large blue rubber sphere left of a small red metal cube");
}

TEST(World, ClipsMoveObjectsInStraightLines) {
    for (uint64_t k = 0; k < 40; ++k) {
        const auto ws = sceneOk(w::Split::Train, k);
        const auto clip = w::makeClip(ws, 12);
        ASSERT_TRUE(clip.ok) << clip.error;
        ASSERT_EQ(clip.frames.size(), 12u);
        EXPECT_EQ(clip.frames[0], ws.scene);
        const auto again = w::makeClip(ws, 12);
        EXPECT_EQ(again.frames, clip.frames);
        for (size_t i = 0; i < ws.scene.objects.size(); ++i) {
            const auto& p0 = clip.frames[0].objects[i].position;
            const auto& p1 = clip.frames[11].objects[i].position;
            const double vx = (p1[0] - p0[0]) / 11, vy = (p1[1] - p0[1]) / 11;
            const double speed = std::hypot(vx, vy);
            EXPECT_TRUE(speed < 1e-9 || (speed > 0.04 - 2e-4 && speed < 0.12 + 2e-4)) << speed;
            for (size_t f = 0; f < 12; ++f) {
                const auto& o = clip.frames[f].objects[i];
                EXPECT_NEAR(o.position[0], p0[0] + vx * f, 1.1e-3);
                EXPECT_NEAR(o.position[1], p0[1] + vy * f, 1.1e-3);
                EXPECT_EQ(o.position[2], o.size);
                EXPECT_EQ(o.color, ws.scene.objects[i].color);
                for (size_t j = i + 1; j < ws.scene.objects.size(); ++j) {
                    const auto& b = clip.frames[f].objects[j];
                    EXPECT_GT(std::hypot(o.position[0] - b.position[0], o.position[1] - b.position[1]),
                              std::max(o.size, b.size));
                }
            }
        }
    }
}

TEST(World, BadArgumentsAreErrors) {
    auto past = w::makeScene(w::Split::Val, w::splitRange(w::Split::Val).count);
    EXPECT_FALSE(past.ok);
    EXPECT_NE(past.error.find("past"), std::string::npos);
    const auto ws = sceneOk(w::Split::Train, 3);
    EXPECT_FALSE(w::makeClip(ws, 0).ok);
    EXPECT_FALSE(w::makeClip(ws, w::kMaxClipFrames + 1).ok);
}

// --- pixels (Vulkan; skipped without a device) ---

std::unique_ptr<Renderer> vulkanOrSkip(std::string& why) {
    auto created = createRenderer("vulkan", {});
    why = created.error;
    return std::move(created.renderer);
}

double patchDifference(const Image& a, const Image& b, double cx, double cy) {
    double sum = 0;
    int n = 0;
    for (int y = static_cast<int>(cy) - 1; y <= static_cast<int>(cy) + 1; ++y)
        for (int x = static_cast<int>(cx) - 1; x <= static_cast<int>(cx) + 1; ++x) {
            if (x < 0 || y < 0 || x >= a.width || y >= a.height) continue;
            for (int c = 0; c < 3; ++c) {
                const size_t i = (static_cast<size_t>(y) * a.width + x) * 3 + c;
                sum += std::abs(static_cast<int>(a.rgb[i]) - static_cast<int>(b.rgb[i]));
                ++n;
            }
        }
    return n ? sum / n : 0;
}

TEST(WorldPixels, SameSceneGivesTheSameBytes) {
    std::string why;
    auto renderer = vulkanOrSkip(why);
    if (!renderer) GTEST_SKIP() << "no Vulkan device: " << why;
    for (uint64_t k : {0ull, 9ull}) {
        const auto a = w::renderScene(*renderer, sceneOk(w::Split::Test, k).scene, 64);
        const auto b = w::renderScene(*renderer, sceneOk(w::Split::Test, k).scene, 64);
        ASSERT_TRUE(a.ok && b.ok) << a.error << b.error;
        EXPECT_EQ(a.image.width, 64);
        EXPECT_EQ(a.image.rgb, b.image.rgb);
    }
}

TEST(WorldPixels, EveryObjectIsSeenWhereTheCameraProjectsIt) {
    std::string why;
    auto renderer = vulkanOrSkip(why);
    if (!renderer) GTEST_SKIP() << "no Vulkan device: " << why;
    int checked = 0;
    for (uint64_t k = 0; k < 25; ++k) {
        const auto ws = sceneOk(w::Split::Val, k);
        const auto full = w::renderScene(*renderer, ws.scene, 64);
        ASSERT_TRUE(full.ok) << full.error;
        for (size_t i = 0; i < ws.scene.objects.size(); ++i) {
            Scene without = ws.scene;
            without.objects.erase(without.objects.begin() + static_cast<long>(i));
            const auto rest = w::renderScene(*renderer, without, 64);
            ASSERT_TRUE(rest.ok) << rest.error;
            const View v = view(ws.scene.camera, ws.scene.objects[i].position, 64);
            // Taking the object away changes what its centre pixel shows (it is not hidden).
            EXPECT_GT(patchDifference(full.image, rest.image, v.x, v.y), 8.0)
                << "scene " << k << " object " << i << " (" << w::describeObject(ws.scene.objects[i]) << ")";
            ++checked;
        }
    }
    EXPECT_GT(checked, 40);
}

} // namespace
