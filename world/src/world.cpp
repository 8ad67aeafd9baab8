// The Shapes world (docs/WORLD.md). Sections: random numbers / splits / geometry / scenes / clips /
// captions.
#include "tessera/world/world.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tessera::world {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kCheckSize = 64;     // the view size the visibility rules are checked at
constexpr double kMarginPx = 4.0;  // centres at least this far inside that view
constexpr double kTouchGap = 0.15; // clear ground between two objects' footprints
constexpr double kHideMargin = 1.25;

// --- random numbers: SplitMix64, fully specified, so every standard library gives the same scenes ---

class Random {
public:
    explicit Random(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); } // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

private:
    uint64_t state_;
};

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

// --- geometry ---

struct CameraFrame {
    r::Vec3 forward, right, up;
};

CameraFrame frameOf(const r::Camera& c) {
    r::Vec3 f{c.look_at[0] - c.position[0], c.look_at[1] - c.position[1], c.look_at[2] - c.position[2]};
    const double fl = std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (double& v : f) v /= fl;
    r::Vec3 right{f[1], -f[0], 0}; // forward x +z
    const double rl = std::sqrt(right[0] * right[0] + right[1] * right[1]);
    right = {right[0] / rl, right[1] / rl, 0};
    const r::Vec3 up{right[1] * f[2] - right[2] * f[1], right[2] * f[0] - right[0] * f[2],
                     right[0] * f[1] - right[1] * f[0]};
    return {f, right, up};
}

double dot(const r::Vec3& a, const r::Vec3& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
r::Vec3 minus(const r::Vec3& a, const r::Vec3& b) {
    return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}

// Radius of the object's footprint on the ground (a turned cube reaches its corners).
double footprint(const r::SceneObject& o) {
    return o.shape == r::Shape::Cube ? o.size * std::sqrt(2.0) : o.size;
}
// Radius of a sphere around the centre that holds the whole object.
double bound(const r::SceneObject& o) {
    switch (o.shape) {
    case r::Shape::Cube:
        return o.size * std::sqrt(3.0);
    case r::Shape::Cylinder:
        return o.size * std::sqrt(2.0);
    case r::Shape::Sphere:
        break;
    }
    return o.size;
}

bool apart(const r::SceneObject& a, const r::SceneObject& b) {
    const double dx = a.position[0] - b.position[0], dy = a.position[1] - b.position[1];
    return std::sqrt(dx * dx + dy * dy) >= footprint(a) + footprint(b) + kTouchGap;
}

bool onGround(const r::SceneObject& o) {
    return std::abs(o.position[0]) <= kGroundHalfExtent + 0.5 &&
           std::abs(o.position[1]) <= kGroundHalfExtent + 0.5;
}

bool inView(const r::Camera& c, const r::SceneObject& o) {
    double x = 0, y = 0;
    if (!projectToPixel(c, o.position, kCheckSize, kCheckSize, x, y)) return false;
    return x >= kMarginPx && x <= kCheckSize - kMarginPx && y >= kMarginPx && y <= kCheckSize - kMarginPx;
}

// Whether object b's bounding sphere, seen from the camera, covers the pixel of a's centre while b is
// nearer: then b might hide a's centre.
bool mayHide(const r::Camera& c, const r::SceneObject& b, const r::SceneObject& a) {
    const CameraFrame f = frameOf(c);
    const double da = dot(minus(a.position, c.position), f.forward);
    const double db = dot(minus(b.position, c.position), f.forward);
    if (db >= da) return false;
    double ax = 0, ay = 0, bx = 0, by = 0;
    if (!projectToPixel(c, a.position, kCheckSize, kCheckSize, ax, ay) ||
        !projectToPixel(c, b.position, kCheckSize, kCheckSize, bx, by))
        return true;
    const double focal_px = (kCheckSize / 2.0) / std::tan(c.fov * kPi / 360.0);
    const double radius_px = kHideMargin * bound(b) / std::max(db - bound(b), 1e-6) * focal_px;
    return std::hypot(ax - bx, ay - by) < radius_px + 1.0;
}

double imageX(const r::Camera& c, const r::Vec3& p) {
    double x = 0, y = 0;
    return projectToPixel(c, p, kCheckSize, kCheckSize, x, y) ? x : -1e9;
}

bool sidesClear(const r::Scene& s) {
    std::vector<double> xs;
    for (const auto& o : s.objects) xs.push_back(imageX(s.camera, o.position));
    std::sort(xs.begin(), xs.end());
    for (size_t i = 1; i < xs.size(); ++i)
        if (xs[i] - xs[i - 1] < kMinSideGapPx) return false;
    return true;
}

bool visibleAll(const r::Scene& s) {
    for (size_t i = 0; i < s.objects.size(); ++i) {
        if (!inView(s.camera, s.objects[i])) return false;
        for (size_t j = 0; j < s.objects.size(); ++j)
            if (i != j && mayHide(s.camera, s.objects[j], s.objects[i])) return false;
    }
    return true;
}

// --- scenes ---

constexpr uint64_t kSplitBase[4] = {0, 1000000000ull, 1001000000ull, 1002000000ull};
constexpr uint64_t kSplitCount[4] = {1000000000ull, 1000000ull, 1000000ull, 1000000ull};

r::SceneObject drawObject(Random& rng, bool held_out) {
    r::SceneObject o;
    if (held_out) {
        const ColorShape& p =
            kHeldOutPairs[static_cast<size_t>(rng.below(static_cast<int>(kHeldOutPairs.size())))];
        o.color = p.color;
        o.shape = p.shape;
    } else {
        do {
            o.shape = static_cast<r::Shape>(rng.below(3));
            o.color = static_cast<r::Color>(rng.below(8));
        } while (isHeldOut(o.color, o.shape));
    }
    o.material = rng.below(2) ? r::Material::Metal : r::Material::Rubber;
    o.size = rng.below(2) ? kLargeSize : kSmallSize;
    o.rotation = std::round(rng.uniform(0.0, 360.0) * 10.0) / 10.0;
    if (o.rotation >= 360.0) o.rotation = 0;
    return o;
}

} // namespace

SplitRange splitRange(Split split) {
    const auto i = static_cast<size_t>(split);
    return {kSplitBase[i], kSplitCount[i]};
}

std::string_view splitName(Split split) {
    switch (split) {
    case Split::Train:
        return "train";
    case Split::Val:
        return "val";
    case Split::Test:
        return "test";
    case Split::Ood:
        return "ood";
    }
    return "?";
}

std::optional<Split> parseSplit(std::string_view name) {
    for (Split s : {Split::Train, Split::Val, Split::Test, Split::Ood})
        if (splitName(s) == name) return s;
    return std::nullopt;
}

bool isHeldOut(r::Color color, r::Shape shape) {
    return std::any_of(kHeldOutPairs.begin(), kHeldOutPairs.end(),
                       [&](const ColorShape& p) { return p.color == color && p.shape == shape; });
}

bool projectToPixel(const r::Camera& camera, const r::Vec3& point, int width, int height, double& x,
                    double& y) {
    const CameraFrame f = frameOf(camera);
    const r::Vec3 d = minus(point, camera.position);
    const double depth = dot(d, f.forward);
    if (depth <= 1e-9) return false;
    const double t = std::tan(camera.fov * kPi / 360.0);
    x = width / 2.0 + dot(d, f.right) / depth / t * (height / 2.0);
    y = height / 2.0 - dot(d, f.up) / depth / t * (height / 2.0);
    return true;
}

WorldSceneResult makeScene(Split split, uint64_t index) {
    WorldSceneResult out;
    const SplitRange range = splitRange(split);
    if (index >= range.count) {
        out.error = "scene " + std::to_string(index) + " is past the " + std::string(splitName(split)) +
                    " split's " + std::to_string(range.count) + " scenes";
        return out;
    }
    WorldScene& w = out.value;
    w.split = split;
    w.index = index;
    w.seed = range.first_seed + index;
    Random rng(w.seed);
    // The count is drawn once, so that rejected arrangements do not make crowded scenes rarer.
    const int count = kMinObjects + rng.below(kMaxObjects - kMinObjects + 1);
    for (int attempt = 0; attempt < 10000; ++attempt) {
        r::Scene s;
        // Camera jitter: the default eye moved by up to ±0.5 on each axis, looking at the origin.
        const r::Camera base;
        for (int k = 0; k < 3; ++k) s.camera.position[k] = round3(base.position[k] + rng.uniform(-0.5, 0.5));
        bool placed_all = true;
        for (int i = 0; i < count && placed_all; ++i) {
            r::SceneObject o = drawObject(rng, split == Split::Ood && i == 0);
            bool placed = false;
            for (int tries = 0; tries < 100 && !placed; ++tries) {
                o.position = {round3(rng.uniform(-kGroundHalfExtent, kGroundHalfExtent)),
                              round3(rng.uniform(-kGroundHalfExtent, kGroundHalfExtent)), o.size};
                placed = inView(s.camera, o) &&
                         std::all_of(s.objects.begin(), s.objects.end(),
                                     [&](const r::SceneObject& other) { return apart(o, other); });
            }
            if (placed) s.objects.push_back(o);
            placed_all = placed;
        }
        if (!placed_all || !sidesClear(s) || !visibleAll(s)) continue;
        w.scene = std::move(s);
        w.caption = captionFor(w.scene);
        out.ok = true;
        return out;
    }
    out.error = "no valid arrangement found for seed " + std::to_string(w.seed);
    return out;
}

// --- clips ---

ClipResult makeClip(const WorldScene& start, int frames) {
    ClipResult out;
    if (frames < 1 || frames > kMaxClipFrames) {
        out.error =
            "a clip has 1.." + std::to_string(kMaxClipFrames) + " frames, not " + std::to_string(frames);
        return out;
    }
    // A stream of its own, so that a scene is the same whether or not its clip is drawn.
    Random rng(start.seed ^ 0x5EEDC11B5EEDC11Bull);
    const r::Scene& s0 = start.scene;
    const size_t n = s0.objects.size();
    std::vector<std::array<double, 2>> velocity(n, {0.0, 0.0});
    auto at = [&](size_t i, int f) {
        r::SceneObject o = s0.objects[i];
        o.position[0] = round3(o.position[0] + velocity[i][0] * f);
        o.position[1] = round3(o.position[1] + velocity[i][1] * f);
        return o;
    };
    for (size_t i = 0; i < n; ++i) {
        bool found = false;
        for (int tries = 0; tries < 50 && !found; ++tries) {
            const double angle = rng.uniform(0.0, 2.0 * kPi), speed = rng.uniform(0.04, 0.12);
            velocity[i] = {speed * std::cos(angle), speed * std::sin(angle)};
            found = true;
            for (int f = 1; f < frames && found; ++f) {
                const r::SceneObject o = at(i, f);
                found = onGround(o) && inView(s0.camera, o);
                for (size_t j = 0; j < i && found; ++j) found = apart(o, at(j, f));
            }
        }
        if (!found) velocity[i] = {0.0, 0.0};
    }
    // An object that found no path stands still, and a moving one may run into it: stop moving objects
    // until no pair touches in any frame (all still is always valid, so this ends).
    for (bool clash = true; clash;) {
        clash = false;
        for (int f = 1; f < frames && !clash; ++f)
            for (size_t i = 0; i < n && !clash; ++i)
                for (size_t j = i + 1; j < n && !clash; ++j) {
                    if (apart(at(i, f), at(j, f))) continue;
                    clash = true;
                    const bool j_moves = velocity[j][0] != 0.0 || velocity[j][1] != 0.0;
                    velocity[j_moves ? j : i] = {0.0, 0.0};
                }
    }
    for (int f = 0; f < frames; ++f) {
        r::Scene s = s0;
        for (size_t i = 0; i < n; ++i) s.objects[i] = at(i, f);
        out.frames.push_back(std::move(s));
    }
    out.ok = true;
    return out;
}

// --- captions ---

std::string describeObject(const r::SceneObject& object) {
    std::string text = object.size >= (kSmallSize + kLargeSize) / 2 ? "large" : "small";
    text += ' ';
    text += r::colorName(object.color);
    text += ' ';
    text += r::materialName(object.material);
    text += ' ';
    text += r::shapeName(object.shape);
    return text;
}

std::string captionFor(const r::Scene& scene) {
    std::vector<size_t> order(scene.objects.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return imageX(scene.camera, scene.objects[a].position) <
               imageX(scene.camera, scene.objects[b].position);
    });
    std::string caption;
    for (size_t k = 0; k < order.size(); ++k) {
        if (k) caption += " left of ";
        caption += "a " + describeObject(scene.objects[order[k]]);
    }
    return caption;
}

r::RenderResult renderScene(r::Renderer& renderer, const r::Scene& scene, int size) {
    return renderer.render(scene, size, size);
}

} // namespace tessera::world
