// Scene programs: the scene description drawn by Tessera's renderers (docs/scene-programs.md).
// Plain data plus a parser and a writer for the program form. Thread-safe: no shared state.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::renderers {

enum class Shape { Cube, Sphere, Cylinder };
enum class Color { Gray, Red, Blue, Green, Brown, Purple, Cyan, Yellow };
enum class Material { Rubber, Metal };

using Vec3 = std::array<double, 3>;

struct SceneObject {
    Shape shape = Shape::Cube;
    Color color = Color::Gray;
    Material material = Material::Rubber;
    double size = 0.35;      // half-extent, world units
    Vec3 position{0, 0, 0};  // centre; z up
    double rotation = 0;     // degrees about +z
    bool operator==(const SceneObject&) const = default;
};

struct Camera {
    Vec3 position{7.5, -7.5, 5.5};
    Vec3 look_at{0, 0, 0};
    double fov = 40; // vertical, degrees
    bool operator==(const Camera&) const = default;
};

struct Light {
    Vec3 direction{-1, 1, -2}; // direction the light travels
    double intensity = 1;
    double ambient = 0.25;
    bool operator==(const Light&) const = default;
};

struct Scene {
    Camera camera;
    Light light;
    std::vector<SceneObject> objects;
    bool operator==(const Scene&) const = default;
};

inline constexpr std::size_t kMaxProgramBytes = 65536;
inline constexpr std::size_t kMaxObjects = 64;
inline constexpr std::size_t kMaxNumberChars = 32;

// Result of parsing. On failure `error` names line, column, the offending token and what was expected;
// `scene` is then unspecified. Never throws for any input.
struct SceneParseResult {
    bool ok = false;
    Scene scene;
    std::string error;
};

SceneParseResult parseSceneProgram(std::string_view program);

// The program form of `scene`, with camera and light written out. Numbers use the shortest form that
// reads back to the same double, so parseSceneProgram(writeSceneProgram(s)).scene == s for a valid s.
std::string writeSceneProgram(const Scene& scene);

// Scene JSON (the second form in docs/scene-programs.md). Omitted camera/light fields take defaults;
// unknown keys, wrong types and out-of-range values are errors naming the JSON path. Never throws.
SceneParseResult parseSceneJson(std::string_view json);

// Scene JSON with every field written out; numbers read back to the same doubles.
std::string writeSceneJson(const Scene& scene);

// The rotation, in [0, 90) degrees, that draws `o` the same as its own: a cube repeats every 90 degrees
// about z, and a sphere or a cylinder is round about z, so theirs is 0 (its 64-sided mesh moves by under a
// pixel's fraction). A picture cannot tell the other rotations apart, so inverse-graphics targets use this.
double canonicalRotation(const SceneObject& o);

std::string_view shapeName(Shape shape);
std::string_view colorName(Color color);
std::string_view materialName(Material material);

} // namespace tessera::renderers
