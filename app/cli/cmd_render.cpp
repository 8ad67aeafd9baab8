// `tessera-cli render`: draws a scene (program or scene JSON) to a PNG with one of the renderers.
#include "cli/cli.h"
#include "tessera/engine/image.h"
#include "tessera/renderers/gltf.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
namespace r = tessera::renderers;

const char* kUsage =
    "Usage: tessera-cli render SCENE --out FILE.png [options]\n"
    "       tessera-cli render SCENE --gltf FILE.gltf\n\n"
    "Draws a scene to a PNG, or exports it as glTF 2.0, or both. SCENE is scene JSON (*.json) or a scene\n"
    "program (any other name); both forms are defined in docs/scene-programs.md.\n\n"
    "Options:\n"
    "  --out FILE.png       the image to write\n"
    "  --gltf FILE.gltf     also (or only) write the scene as one self-contained glTF 2.0 file: meshes,\n"
    "                       PBR materials (metal, rubber), the camera and the light\n"
    "  --size WxH           image size in pixels, each side 1..8192 (default 480x320)\n"
    "  --renderer NAME      vulkan (default) or null (a blank image, no device)\n"
    "  --samples N          MSAA samples per pixel: 1 (off), 2, 4 or 8 (default 4)\n"
    "  --json               print a JSON summary (device, size, milliseconds, output) on stdout\n";

// Larger than any valid program (65 536 bytes) or its JSON form with 64 objects.
constexpr std::uintmax_t kMaxSceneFileBytes = 1 << 20;

bool loadScene(const fs::path& path, r::Scene& scene, std::string& error) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        error = "cannot read " + path.string() + " (not a regular file)";
        return false;
    }
    if (fs::file_size(path, ec) > kMaxSceneFileBytes) {
        error = path.string() + " is larger than " + std::to_string(kMaxSceneFileBytes) + " bytes";
        return false;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) {
        error = "cannot read " + path.string();
        return false;
    }
    auto parsed =
        path.extension() == ".json" ? r::parseSceneJson(text.str()) : r::parseSceneProgram(text.str());
    if (!parsed.ok) {
        error = path.string() + ": " + parsed.error;
        return false;
    }
    scene = std::move(parsed.scene);
    return true;
}

} // namespace

int cmdRender(int argc, char** argv) {
    CLI::App app;
    std::string scene_path, out, gltf_path, size = "480x320", renderer_name = "vulkan";
    r::RendererOptions options;
    bool json = false;
    app.add_option("scene", scene_path);
    app.add_option("--out", out);
    app.add_option("--gltf", gltf_path);
    app.add_option("--size", size);
    app.add_option("--renderer", renderer_name);
    addInt(app, "--samples", options.samples, 1, 64);
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "render", kUsage, argc, argv)) return *rc;
    if (scene_path.empty() || (out.empty() && gltf_path.empty())) {
        std::fprintf(stderr,
                     "tessera-cli render: a scene file and --out or --gltf are required (see --help)\n");
        return 2;
    }
    int width = 0, height = 0;
    if (!parseSize(size, 1, r::kMaxImageSide, width, height)) {
        std::fprintf(stderr, "tessera-cli render: --size '%s' is not WxH with each side in 1..%d\n",
                     size.c_str(), r::kMaxImageSide);
        return 2;
    }
    r::Scene scene;
    std::string error;
    if (!loadScene(scene_path, scene, error)) {
        std::fprintf(stderr, "tessera-cli render: %s\n", error.c_str());
        return 1;
    }
    if (!gltf_path.empty()) {
        r::GltfResult g = r::writeSceneGltf(scene);
        if (!g.ok) {
            std::fprintf(stderr, "tessera-cli render: %s\n", g.error.c_str());
            return 1;
        }
        std::ofstream file(gltf_path, std::ios::binary);
        if (!(file << g.json) || !file.flush()) {
            std::fprintf(stderr, "tessera-cli render: cannot write %s\n", gltf_path.c_str());
            return 1;
        }
        if (!json)
            std::printf("wrote %s (glTF 2.0, %zu object(s))\n", gltf_path.c_str(), scene.objects.size());
        if (out.empty()) {
            if (json)
                std::printf(
                    "%s\n",
                    nlohmann::json{{"gltf", gltf_path}, {"objects", scene.objects.size()}}.dump().c_str());
            return 0;
        }
    }
    auto created = r::createRenderer(renderer_name, options);
    if (!created.renderer) {
        std::fprintf(stderr, "tessera-cli render: %s\n", created.error.c_str());
        return 1;
    }
    const auto start = std::chrono::steady_clock::now();
    r::RenderResult frame = created.renderer->render(scene, width, height);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!frame.ok) {
        std::fprintf(stderr, "tessera-cli render: %s\n", frame.error.c_str());
        return 1;
    }
    ImageRgb8 image{frame.image.width, frame.image.height, std::move(frame.image.rgb)};
    if (Status s = writePng(out, image, {{"tessera-scene", r::writeSceneJson(scene)}}); !s.ok()) {
        std::fprintf(stderr, "tessera-cli render: %s\n", s.message().c_str());
        return 1;
    }
    if (json) {
        nlohmann::json j = {{"output", out},
                            {"gltf", gltf_path},
                            {"renderer", std::string(created.renderer->name())},
                            {"device", created.renderer->device()},
                            {"width", width},
                            {"height", height},
                            {"objects", scene.objects.size()},
                            {"render_ms", ms}};
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("rendered %zu object(s) at %dx%d on %s in %.1f ms\nwrote %s\n", scene.objects.size(),
                    width, height, created.renderer->device().c_str(), ms, out.c_str());
    }
    return 0;
}

} // namespace tessera::cli
