// Scene program parser and writer: hand-checked values, error positions, and round trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "tessera/renderers/scene.h"

using namespace tessera::renderers;

namespace {

std::string readFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::filesystem::path examplesDir() {
    return std::filesystem::path(TESSERA_TEST_DATA_DIR) / ".." / ".." / "docs" / "examples" / "scenes";
}

} // namespace

TEST(SceneProgram, ParsesRedCubeWithDefaults) {
    auto r = parseSceneProgram("# comment\nobject cube red rubber size 0.35 position 0 0 0.35 rotation 0\n");
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.scene.objects.size(), 1u);
    const SceneObject& o = r.scene.objects[0];
    EXPECT_EQ(o.shape, Shape::Cube);
    EXPECT_EQ(o.color, Color::Red);
    EXPECT_EQ(o.material, Material::Rubber);
    EXPECT_EQ(o.size, 0.35);
    EXPECT_EQ(o.position, (Vec3{0, 0, 0.35}));
    EXPECT_EQ(o.rotation, 0.0);
    // Defaults as documented in docs/scene-programs.md.
    EXPECT_EQ(r.scene.camera.position, (Vec3{7.5, -7.5, 5.5}));
    EXPECT_EQ(r.scene.camera.look_at, (Vec3{0, 0, 0}));
    EXPECT_EQ(r.scene.camera.fov, 40.0);
    EXPECT_EQ(r.scene.light.direction, (Vec3{-1, 1, -2}));
    EXPECT_EQ(r.scene.light.intensity, 1.0);
    EXPECT_EQ(r.scene.light.ambient, 0.25);
}

TEST(SceneProgram, ParsesCameraLightAndExponents) {
    auto r = parseSceneProgram(
        "camera position 1 2 3 look_at -1 -2 -3.5 fov 55\n"
        "light direction 0 0 -1 intensity 2.5 ambient 0\n"
        "object cylinder cyan metal size 7e-1 position 1.5E1 -2 0.7 rotation -45\n");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.scene.camera.position, (Vec3{1, 2, 3}));
    EXPECT_EQ(r.scene.camera.look_at, (Vec3{-1, -2, -3.5}));
    EXPECT_EQ(r.scene.camera.fov, 55.0);
    EXPECT_EQ(r.scene.light.direction, (Vec3{0, 0, -1}));
    EXPECT_EQ(r.scene.light.intensity, 2.5);
    EXPECT_EQ(r.scene.light.ambient, 0.0);
    ASSERT_EQ(r.scene.objects.size(), 1u);
    EXPECT_EQ(r.scene.objects[0].shape, Shape::Cylinder);
    EXPECT_EQ(r.scene.objects[0].color, Color::Cyan);
    EXPECT_EQ(r.scene.objects[0].material, Material::Metal);
    EXPECT_EQ(r.scene.objects[0].size, 0.7);
    EXPECT_EQ(r.scene.objects[0].position, (Vec3{15, -2, 0.7}));
    EXPECT_EQ(r.scene.objects[0].rotation, -45.0);
}

struct ErrorCase {
    const char* program;
    const char* expected; // must appear in the message
};

class SceneProgramError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SceneProgramError, NamesTokenAndColumn) {
    auto r = parseSceneProgram(GetParam().program);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find(GetParam().expected), std::string::npos) << r.error;
}

// Columns counted by hand from the programs below (1-based bytes).
INSTANTIATE_TEST_SUITE_P(
    Cases, SceneProgramError,
    ::testing::Values(
        ErrorCase{"object cone red rubber size 1 position 0 0 1 rotation 0", "line 1, column 8: unknown shape 'cone'"},
        ErrorCase{"\n\ncamra position 1 2 3", "line 3, column 1: unknown statement 'camra'"},
        ErrorCase{"object cube red rubber size 1 position 0 0 1e999 rotation 0", "column 44: number '1e999' is out of range"},
        ErrorCase{"object cube pink rubber size 1 position 0 0 1 rotation 0", "column 13: unknown colour 'pink'"},
        ErrorCase{"object cube red wood size 1 position 0 0 1 rotation 0", "column 17: unknown material 'wood'"},
        ErrorCase{"object cube red rubber size nan position 0 0 1 rotation 0", "column 29: expected a number for size, got 'nan'"},
        ErrorCase{"object cube red rubber size 0x1 position 0 0 1 rotation 0", "column 29: expected a number"},
        ErrorCase{"object cube red rubber size 1 position 0 0 1 rotation 0 extra", "column 57: unexpected 'extra'"},
        ErrorCase{"object cube red rubber size 1 position 0 0", "line 1, end of line: expected a number"},
        ErrorCase{"object cube red rubber size 0 position 0 0 1 rotation 0", "size must be greater than 0"},
        ErrorCase{"object cube red rubber size 1 position 0 0 1 rotation 400", "column 55: number '400' is out of range"},
        ErrorCase{"light direction 0 0 0 intensity 1 ambient 0", "zero vector"},
        ErrorCase{"camera position 1 1 1 look_at 1 1 1 fov 40", "equals look_at"},
        ErrorCase{"camera position 1 1 1 look_at 0 0 0 fov 40\ncamera position 1 1 1 look_at 0 0 0 fov 40",
                  "line 2, column 1: a second 'camera'"},
        ErrorCase{"object cube red rubber size 1 position 0 0 1 rotation 000000000000000000000000000000001",
                  "longer than 32 characters"}));

TEST(SceneProgram, RejectsTooManyObjectsAndTooLongPrograms) {
    std::string program;
    for (int i = 0; i < 65; ++i) program += "object sphere blue metal size 0.35 position 0 0 0.35 rotation 0\n";
    auto r = parseSceneProgram(program);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("line 65, column 1: more than 64 objects"), std::string::npos) << r.error;

    std::string huge(kMaxProgramBytes + 1, '#');
    auto h = parseSceneProgram(huge);
    ASSERT_FALSE(h.ok);
    EXPECT_NE(h.error.find("longer than the limit"), std::string::npos) << h.error;
}

TEST(SceneProgram, EveryExampleProgramRoundTrips) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(examplesDir())) {
        if (entry.path().extension() != ".scene") continue;
        ++count;
        auto first = parseSceneProgram(readFile(entry.path()));
        ASSERT_TRUE(first.ok) << entry.path() << ": " << first.error;
        std::string written = writeSceneProgram(first.scene);
        auto second = parseSceneProgram(written);
        ASSERT_TRUE(second.ok) << second.error << "\n" << written;
        EXPECT_EQ(first.scene, second.scene) << entry.path();
        EXPECT_EQ(writeSceneProgram(second.scene), written);
    }
    EXPECT_GE(count, 3);
}

TEST(SceneProgram, RoundTripKeepsAwkwardDoublesExactly) {
    Scene s;
    s.camera.fov = 0.1 + 0.2 + 39.7;          // not exactly 40
    s.light.ambient = 1.0 / 3.0;
    SceneObject o;
    o.shape = Shape::Sphere;
    o.color = Color::Purple;
    o.material = Material::Metal;
    o.size = 0.1 + 0.2;                      // 0.30000000000000004
    o.position = {-123.456789012345678, 1e-300, 999.999999999999};
    o.rotation = -359.99999999999994;
    s.objects.push_back(o);
    auto r = parseSceneProgram(writeSceneProgram(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.scene, s);
}

TEST(SceneJson, RedCubeJsonMatchesRedCubeProgram) {
    auto from_json = parseSceneJson(readFile(examplesDir() / "red_cube.json"));
    ASSERT_TRUE(from_json.ok) << from_json.error;
    auto from_program = parseSceneProgram(readFile(examplesDir() / "red_cube.scene"));
    ASSERT_TRUE(from_program.ok) << from_program.error;
    EXPECT_EQ(from_json.scene, from_program.scene);
    ASSERT_EQ(from_json.scene.objects.size(), 1u);
    EXPECT_EQ(from_json.scene.objects[0].color, Color::Red);
    EXPECT_EQ(from_json.scene.objects[0].position, (Vec3{0, 0, 0.35}));
    EXPECT_EQ(from_json.scene.camera, Camera{});
    EXPECT_EQ(from_json.scene.light, Light{});
}

TEST(SceneJson, EveryExampleRoundTripsThroughJson) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(examplesDir())) {
        if (entry.path().extension() != ".scene") continue;
        ++count;
        auto program = parseSceneProgram(readFile(entry.path()));
        ASSERT_TRUE(program.ok) << program.error;
        std::string json = writeSceneJson(program.scene);
        auto back = parseSceneJson(json);
        ASSERT_TRUE(back.ok) << back.error << "\n" << json;
        EXPECT_EQ(back.scene, program.scene) << entry.path();
        auto again = parseSceneProgram(writeSceneProgram(back.scene));
        ASSERT_TRUE(again.ok) << again.error;
        EXPECT_EQ(again.scene, program.scene);
    }
    EXPECT_GE(count, 3);
}

TEST(SceneJson, AwkwardDoublesSurviveJson) {
    Scene s;
    SceneObject o;
    o.size = 0.1 + 0.2;
    o.position = {-123.456789012345678, 1e-300, 999.999999999999};
    o.rotation = 1.0 / 3.0;
    s.objects.push_back(o);
    s.light.ambient = 2.0 / 3.0;
    auto r = parseSceneJson(writeSceneJson(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.scene, s);
}

TEST(SceneJson, ErrorsNameThePath) {
    struct Case {
        const char* json;
        const char* expected;
    };
    const Case cases[] = {
        {"{", "not valid JSON"},
        {"[]", "scene: expected an object"},
        {"{}", "missing key 'objects'"},
        {R"({"objects": [], "colour": 1})", "unknown key 'colour'"},
        {R"({"objects": [{"shape": "cone", "color": "red", "material": "rubber", "size": 1,
             "position": [0,0,1], "rotation": 0}]})", "objects[0].shape: unknown value 'cone'"},
        {R"({"objects": [{"shape": "cube", "color": "red", "material": "rubber", "size": 1,
             "position": [0,0], "rotation": 0}]})", "objects[0].position: expected an array of 3"},
        {R"({"objects": [{"shape": "cube", "color": "red", "material": "rubber", "size": "1",
             "position": [0,0,1], "rotation": 0}]})", "objects[0].size: expected a number"},
        {R"({"objects": [{"shape": "cube", "color": "red", "material": "rubber", "size": 1,
             "position": [0,0,1]}]})", "objects[0]: missing key 'rotation'"},
        {R"({"objects": [], "camera": {"fov": 500}})", "camera.fov: value out of range"},
        {R"({"objects": [], "light": {"direction": [0,0,0]}})", "zero vector"},
    };
    for (const Case& c : cases) {
        auto r = parseSceneJson(c.json);
        ASSERT_FALSE(r.ok) << c.json;
        EXPECT_NE(r.error.find(c.expected), std::string::npos) << r.error;
    }
}

TEST(SceneProgram, CanonicalRotationFoldsCubesByQuarterTurnsAndRoundShapesToZero) {
    SceneObject o;
    o.shape = Shape::Cube;
    const std::vector<std::pair<double, double>> cases = {{0, 0},    {25, 25},      {90, 0},
                                                          {205, 25}, {359.5, 89.5}, {-10, 80},
                                                          {-90, 0},  {-1e-17, 0},   {720.25, 0.25}};
    for (auto [given, expected] : cases) {
        o.rotation = given;
        const double r = canonicalRotation(o);
        EXPECT_NEAR(r, expected, 1e-9) << given;
        EXPECT_GE(r, 0.0) << given;
        EXPECT_LT(r, 90.0) << given;
    }
    for (Shape round : {Shape::Sphere, Shape::Cylinder}) {
        o.shape = round;
        o.rotation = 137;
        EXPECT_EQ(canonicalRotation(o), 0.0);
    }
}
