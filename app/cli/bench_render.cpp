// `tessera-cli bench render`: frames per second of the scene renderer on generated CLEVR-like scenes,
// against the floor measured in the same run (an empty scene: clear, ground, resolve and readback).
#include "cli/cli.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace tessera::cli {
namespace {

namespace r = tessera::renderers;

const char* kUsage =
    "Usage: tessera-cli bench render [--scenes N] [--size S[,S...]] [--samples N] [--renderer NAME]\n"
    "                                [--seed N]\n\n"
    "Renders N generated scenes (1..10 random objects each, CLEVR-like: three shapes, eight colours, two\n"
    "materials, two sizes, positions in [-3, 3]^2, any rotation) at each size SxS, read back to the host\n"
    "like `render` does, and prints one JSON line: per size, frames per second over the N scenes, the\n"
    "frames per second of an empty scene at the same size measured in the same run (the floor: clear,\n"
    "ground, MSAA resolve and readback) and their ratio, plus the device.\n\n"
    "  --scenes N         scenes per size (default 100)\n"
    "  --size S[,S...]    square image sides (default 256,512)\n"
    "  --samples N        MSAA samples per pixel (default 4)\n"
    "  --renderer NAME    vulkan (default) or null\n"
    "  --seed N           scene generator seed (default 1)\n";

std::vector<r::Scene> makeScenes(int count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> objects(1, 10), shape(0, 2), colour(0, 7), material(0, 1), large(0, 1);
    std::uniform_real_distribution<double> xy(-3, 3), turn(0, 360);
    std::vector<r::Scene> scenes(static_cast<std::size_t>(count));
    for (r::Scene& s : scenes) {
        const int n = objects(rng);
        for (int i = 0; i < n; ++i) {
            r::SceneObject o;
            o.shape = static_cast<r::Shape>(shape(rng));
            o.color = static_cast<r::Color>(colour(rng));
            o.material = static_cast<r::Material>(material(rng));
            o.size = large(rng) ? 0.7 : 0.35;
            o.position = {xy(rng), xy(rng), o.size};
            o.rotation = turn(rng);
            s.objects.push_back(o);
        }
    }
    return scenes;
}

} // namespace

int cmdBenchRender(int argc, char** argv) {
    CLI::App app;
    int count = 100;
    std::string sizes_text = "256,512", renderer_name = "vulkan";
    r::RendererOptions options;
    std::uint64_t seed = 1;
    app.add_option("--size", sizes_text);
    app.add_option("--renderer", renderer_name);
    addInt(app, "--scenes", count, 1, 100000);
    addInt(app, "--samples", options.samples, 1, 64);
    addSeed(app, "--seed", seed);
    if (auto rc = parseCommandLine(app, "bench render", kUsage, argc, argv)) return *rc;
    std::vector<int> sizes;
    std::stringstream list(sizes_text);
    for (std::string item; std::getline(list, item, ',');) {
        auto side = parseInt(item, 1, r::kMaxImageSide);
        if (!side) {
            std::fprintf(stderr, "tessera-cli bench render: --size '%s' is not a list of sides in 1..%d\n",
                         sizes_text.c_str(), r::kMaxImageSide);
            return 2;
        }
        sizes.push_back(static_cast<int>(*side));
    }
    if (sizes.empty()) {
        std::fprintf(stderr, "tessera-cli bench render: --size lists no size\n");
        return 2;
    }
    auto created = r::createRenderer(renderer_name, options);
    if (!created.renderer) {
        std::fprintf(stderr, "tessera-cli bench render: %s\n", created.error.c_str());
        return 1;
    }
    r::Renderer& renderer = *created.renderer;
    const std::vector<r::Scene> scenes = makeScenes(count, seed);
    const r::Scene empty;
    using Clock = std::chrono::steady_clock;
    nlohmann::json results = nlohmann::json::array();
    std::size_t objects = 0;
    for (const r::Scene& s : scenes) objects += s.objects.size();
    for (int side : sizes) {
        // One untimed frame builds the size's targets.
        if (auto warm = renderer.render(empty, side, side); !warm.ok) {
            std::fprintf(stderr, "tessera-cli bench render: %s\n", warm.error.c_str());
            return 1;
        }
        auto timeFrames = [&](auto&& sceneAt) -> double {
            const auto start = Clock::now();
            for (int i = 0; i < count; ++i) {
                auto frame = renderer.render(sceneAt(i), side, side);
                if (!frame.ok) {
                    std::fprintf(stderr, "tessera-cli bench render: %s\n", frame.error.c_str());
                    return -1;
                }
            }
            return std::chrono::duration<double>(Clock::now() - start).count();
        };
        const double floor_s = timeFrames([&](int) -> const r::Scene& { return empty; });
        const double scenes_s = floor_s < 0 ? -1 : timeFrames([&](int i) -> const r::Scene& {
            return scenes[static_cast<std::size_t>(i)];
        });
        if (floor_s < 0 || scenes_s < 0) return 1;
        const double fps = count / scenes_s, floor_fps = count / floor_s;
        results.push_back({{"size", side},
                           {"fps", fps},
                           {"ms_per_frame", 1000.0 * scenes_s / count},
                           {"floor_fps", floor_fps},
                           {"fraction_of_floor", fps / floor_fps}});
    }
    nlohmann::json out = {{"benchmark", "render"},
                          {"renderer", std::string(renderer.name())},
                          {"device", renderer.device()},
                          {"samples", options.samples},
                          {"scenes", count},
                          {"objects", objects},
                          {"seed", seed},
                          {"results", results}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

} // namespace tessera::cli
