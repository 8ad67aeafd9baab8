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
                    "mean position/rotation error.\n");
        return argc >= 1 && !std::strcmp(argv[0], "--help") ? 0 : 2;
    }
    const fs::path pred_dir = argv[0], truth_dir = argv[1];
    std::error_code ec;
    if (!fs::is_directory(truth_dir, ec) || !fs::is_directory(pred_dir, ec)) {
        std::fprintf(stderr, "tessera-cli eval-scenes: error: both arguments must be directories\n");
        return 2;
    }
    std::size_t scenes = 0, count_ok = 0, objects = 0, matched = 0;
    double shape = 0, color = 0, material = 0, size = 0, pos = 0, rot = 0;
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
        r::SceneScore s = r::scoreScene(pred, truth);
        const double n = static_cast<double>(s.true_count);
        ++scenes;
        count_ok += s.count_correct;
        objects += s.true_count;
        matched += s.matched;
        shape += s.shape_accuracy * n;
        color += s.color_accuracy * n;
        material += s.material_accuracy * n;
        size += s.size_accuracy * n;
        pos += s.mean_position_error * static_cast<double>(s.matched);
        rot += s.mean_rotation_error * static_cast<double>(s.matched);
    }
    auto ratio = [](double a, std::size_t b) { return b ? a / static_cast<double>(b) : 0.0; };
    nlohmann::json out = {{"scenes", scenes},
                          {"objects", objects},
                          {"matched", matched},
                          {"count_accuracy", ratio(static_cast<double>(count_ok), scenes)},
                          {"shape_accuracy", ratio(shape, objects)},
                          {"color_accuracy", ratio(color, objects)},
                          {"material_accuracy", ratio(material, objects)},
                          {"size_accuracy", ratio(size, objects)},
                          {"mean_position_error", ratio(pos, matched)},
                          {"mean_rotation_error", ratio(rot, matched)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

} // namespace tessera::cli
