// The Shapes world: CLEVR-like scenes made from a seed (docs/WORLD.md), each with a caption and its
// scene program, short clips of the same objects moving in straight lines, and the splits the Shapes
// models are trained and measured on.
//
// Everything here is a pure function of its arguments (no global state, no std:: distributions, whose
// output differs between standard libraries): the same split and index give the same scene, caption
// and program on every machine, and the same pixels from the same renderer. Thread-safe.
// Failure modes: out-of-range arguments come back as `ok = false` with a message; nothing throws.
#pragma once

#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::world {

namespace r = tessera::renderers;

// train, val and test draw from the same distribution; ood puts a held-out colour+shape pair in
// every scene (the pairs never appear in the other three).
enum class Split { Train, Val, Test, Ood };

struct SplitRange {
    uint64_t first_seed = 0;
    uint64_t count = 0; // scenes 0..count-1 of the split have seeds first_seed + index
};
SplitRange splitRange(Split split);
std::string_view splitName(Split split);
std::optional<Split> parseSplit(std::string_view name);

struct ColorShape {
    r::Color color;
    r::Shape shape;
};
inline constexpr std::array<ColorShape, 4> kHeldOutPairs = {{{r::Color::Cyan, r::Shape::Cube},
                                                             {r::Color::Red, r::Shape::Sphere},
                                                             {r::Color::Yellow, r::Shape::Cylinder},
                                                             {r::Color::Green, r::Shape::Sphere}}};
bool isHeldOut(r::Color color, r::Shape shape);

inline constexpr double kSmallSize = 0.5;
inline constexpr double kLargeSize = 1.0;
inline constexpr double kGroundHalfExtent = 3.0; // object centres lie in [-3, 3]² on the ground
inline constexpr int kMinObjects = 1;
inline constexpr int kMaxObjects = 4;
inline constexpr int kMaxClipFrames = 64;

struct WorldScene {
    Split split = Split::Train;
    uint64_t index = 0; // within the split
    uint64_t seed = 0;  // splitRange(split).first_seed + index
    r::Scene scene;
    std::string caption;
};

struct WorldSceneResult {
    bool ok = false;
    WorldScene value;
    std::string error; // index past the split's range
};

// Scene `index` of `split`. Objects stand on the ground without touching, every centre projects at
// least 4 pixels inside a 64×64 view and in front of every other object's silhouette (nothing hides an
// object's centre), and neighbours in left-to-right order are at least kMinSideGapPx apart in that
// view, so the caption's "left of" is never a close call.
WorldSceneResult makeScene(Split split, uint64_t index);
inline constexpr double kMinSideGapPx = 3.0;

// Frames 0..frames-1 of the clip that starts at `start`: the same camera and light; each object moves
// in a straight line at a constant speed drawn from the scene's seed (0.04–0.12 units per frame, or
// still when no direction keeps it on the ground, apart from the others and in view for the whole
// clip). frames in 1..kMaxClipFrames; frame 0 is start.scene.
struct ClipResult {
    bool ok = false;
    std::vector<r::Scene> frames;
    std::string error;
};
ClipResult makeClip(const WorldScene& start, int frames);

// "small red metal cube"
std::string describeObject(const r::SceneObject& object);
// The caption: every object's description with "a", in left-to-right order as the camera sees them
// (by the image x of each centre), joined by " left of ".
// "a small red metal cube left of a large blue rubber sphere".
std::string captionFor(const r::Scene& scene);
// Where `point` lands in a width x height image of `camera` (pixel centres at +0.5); false when the
// point is behind the camera.
bool projectToPixel(const r::Camera& camera, const r::Vec3& point, int width, int height, double& x,
                    double& y);

// Draws a world scene at size x size (1..kMaxImageSide).
r::RenderResult renderScene(r::Renderer& renderer, const r::Scene& scene, int size);

} // namespace tessera::world
