// tessera-cli eval-scenes PRED_DIR TRUTH_DIR: scores predicted scenes against true ones (one JSON line).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "tessera/renderers/scene.h"
#include "tessera/renderers/scene_metrics.h"

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
namespace r = tessera::renderers;

// A scene file: program (.scene) or scene JSON (.json). Returns false with `error` set on failure.
bool loadScene(const fs::path& path, r::Scene& scene, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path.string();
        return false;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = path.extension() == ".scene" ? r::parseSceneProgram(text.str()) : r::parseSceneJson(text.str());
    if (!parsed.ok) {
        error = path.string() + ": " + parsed.error;
        return false;
    }
    scene = std::move(parsed.scene);
    return true;
}

} // namespace

int cmdEvalScenes(int argc, char** argv) {
    if (argc != 2 || !std::strcmp(argv[0], "--help")) {
        std::printf("Usage: tessera-cli eval-scenes PRED_DIR TRUTH_DIR\n"
                    "Matches each scene in TRUTH_DIR (*.json or *.scene) with the file of the same name in\n"
                    "PRED_DIR (a missing one counts as an empty prediction), pairs objects by the Hungarian\n"
                    "method on centre distance, and prints one JSON line of count/attribute accuracy and\n"
                    "mean position/rotation error (the rotation modulo the true shape's symmetry: a\n"
                    "cube's within 45 degrees, none for spheres and cylinders, which draw the same at every\n"
                    "angle).\n");
        return argc >= 1 && !std::strcmp(argv[0], "--help") ? 0 : 2;
    }
    const fs::path pred_dir = argv[0], truth_dir = argv[1];
    std::error_code ec;
    if (!fs::is_directory(truth_dir, ec) || !fs::is_directory(pred_dir, ec)) {
        std::fprintf(stderr, "tessera-cli eval-scenes: error: both arguments must be directories\n");
        return 2;
    }
    r::SceneScoreTotals t;
    for (const auto& entry : fs::directory_iterator(truth_dir)) {
        const auto ext = entry.path().extension();
        if (ext != ".json" && ext != ".scene") continue;
        r::Scene truth, pred;
        std::string error;
        if (!loadScene(entry.path(), truth, error)) {
            std::fprintf(stderr, "tessera-cli eval-scenes: error: %s\n", error.c_str());
            return 1;
        }
        const fs::path pred_path = pred_dir / entry.path().filename();
        if (fs::exists(pred_path, ec) && !loadScene(pred_path, pred, error)) {
            std::fprintf(stderr, "tessera-cli eval-scenes: error: %s\n", error.c_str());
            return 1;
        }
        t.add(r::scoreScene(pred, truth));
    }
    nlohmann::json out = {{"scenes", t.scenes},
                          {"objects", t.objects},
                          {"matched", t.matched},
                          {"count_accuracy", t.countAccuracy()},
                          {"shape_accuracy", t.shapeAccuracy()},
                          {"color_accuracy", t.colorAccuracy()},
                          {"material_accuracy", t.materialAccuracy()},
                          {"size_accuracy", t.sizeAccuracy()},
                          {"mean_position_error", t.meanPositionError()},
                          {"mean_rotation_error", t.meanRotationError()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

} // namespace tessera::cli
