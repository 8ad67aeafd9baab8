// `tessera-cli world`: writes scenes of the Shapes world (docs/WORLD.md) as PNGs with their captions,
// scene programs and an index, and prints a JSON summary.
#include "cli/cli.h"
#include "tessera/engine/image.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"
#include "tessera/world/world.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
namespace r = tessera::renderers;
namespace w = tessera::world;

const char* kUsage =
    "Usage: tessera-cli world --out DIR --count N --split train|val|test|ood [options]\n\n"
    "Writes N scenes of the Shapes world (docs/WORLD.md): scene k of the split is the one with seed\n"
    "first_seed(split) + S + k. Each scene gives <split>-<seed>.png, .txt (the caption) and .scene (the\n"
    "scene program); index.jsonl gets one line per scene. A JSON summary goes to stdout.\n\n"
    "Options:\n"
    "  --out DIR            the folder to write (created if missing)\n"
    "  --count N            scenes to write, 1..1000000\n"
    "  --split NAME         train, val, test or ood (held-out colour+shape pairs)\n"
    "  --seed S             the first scene's index within the split (default 0)\n"
    "  --size N             image side in pixels, 8..1024 (default 64)\n"
    "  --clips              also write a clip per scene: <split>-<seed>/frame-NNN.png and .scene\n"
    "  --frames N           frames per clip, 1..64 (default 8)\n"
    "  --renderer NAME      vulkan (default) or null (blank images, no device)\n"
    "  --samples N          MSAA samples per pixel: 1, 2, 4 or 8 (default 4)\n";

bool writeText(const fs::path& path, const std::string& text, std::string& error) {
    std::ofstream out(path, std::ios::binary);
    if (!(out << text) || !out.flush()) {
        error = "cannot write " + path.string();
        return false;
    }
    return true;
}

bool writeFrame(r::Renderer& renderer, const r::Scene& scene, int size, const fs::path& png,
                const std::string& caption, std::string& error) {
    r::RenderResult frame = w::renderScene(renderer, scene, size);
    if (!frame.ok) {
        error = frame.error;
        return false;
    }
    ImageRgb8 image{frame.image.width, frame.image.height, std::move(frame.image.rgb)};
    Status s = writePng(png.string(), image,
                        {{"tessera-scene", r::writeSceneJson(scene)}, {"tessera-caption", caption}});
    if (!s.ok()) {
        error = s.message();
        return false;
    }
    return true;
}

} // namespace

int cmdWorld(int argc, char** argv) {
    CLI::App app;
    std::string out_dir, split_name, renderer_name = "vulkan";
    long long count = 0;
    uint64_t first = 0;
    int size = 64, frames = 8;
    bool clips = false;
    r::RendererOptions options;
    app.add_option("--out", out_dir);
    addInt(app, "--count", count, 1, 1000000);
    app.add_option("--split", split_name);
    addSeed(app, "--seed", first);
    addInt(app, "--size", size, 8, 1024);
    app.add_flag("--clips", clips);
    addInt(app, "--frames", frames, 1, w::kMaxClipFrames);
    app.add_option("--renderer", renderer_name);
    addInt(app, "--samples", options.samples, 1, 64);
    if (auto rc = parseCommandLine(app, "world", kUsage, argc, argv)) return *rc;
    if (out_dir.empty() || count == 0 || split_name.empty()) {
        std::fprintf(stderr, "tessera-cli world: --out, --count and --split are required (see --help)\n");
        return 2;
    }
    const auto split = w::parseSplit(split_name);
    if (!split) {
        std::fprintf(stderr, "tessera-cli world: --split is train, val, test or ood, got '%s'\n",
                     split_name.c_str());
        return 2;
    }
    const w::SplitRange range = w::splitRange(*split);
    if (first >= range.count || static_cast<uint64_t>(count) > range.count - first) {
        std::fprintf(stderr,
                     "tessera-cli world: --seed %llu + --count %lld runs past the %s split's %llu scenes\n",
                     static_cast<unsigned long long>(first), count, split_name.c_str(),
                     static_cast<unsigned long long>(range.count));
        return 2;
    }
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (!fs::is_directory(out_dir, ec)) {
        std::fprintf(stderr, "tessera-cli world: cannot create the folder %s\n", out_dir.c_str());
        return 1;
    }
    auto created = r::createRenderer(renderer_name, options);
    if (!created.renderer) {
        std::fprintf(stderr, "tessera-cli world: %s\n", created.error.c_str());
        return 1;
    }
    std::ofstream index(fs::path(out_dir) / "index.jsonl", std::ios::binary | std::ios::trunc);
    if (!index) {
        std::fprintf(stderr, "tessera-cli world: cannot write %s/index.jsonl\n", out_dir.c_str());
        return 1;
    }
    const auto start = std::chrono::steady_clock::now();
    size_t objects = 0, held_out_objects = 0;
    for (long long k = 0; k < count; ++k) {
        auto made = w::makeScene(*split, first + static_cast<uint64_t>(k));
        if (!made.ok) {
            std::fprintf(stderr, "tessera-cli world: %s\n", made.error.c_str());
            return 1;
        }
        const w::WorldScene& ws = made.value;
        const std::string stem = split_name + "-" + std::to_string(ws.seed);
        const fs::path base = fs::path(out_dir) / stem;
        std::string error;
        const std::string program = r::writeSceneProgram(ws.scene);
        if (!writeFrame(*created.renderer, ws.scene, size, base.string() + ".png", ws.caption, error) ||
            !writeText(base.string() + ".txt", ws.caption + "\n", error) ||
            !writeText(base.string() + ".scene", program, error)) {
            std::fprintf(stderr, "tessera-cli world: %s\n", error.c_str());
            return 1;
        }
        nlohmann::json line = {{"id", stem},
                               {"split", split_name},
                               {"index", ws.index},
                               {"seed", ws.seed},
                               {"image", stem + ".png"},
                               {"caption", ws.caption},
                               {"program", stem + ".scene"},
                               {"objects", ws.scene.objects.size()}};
        bool held = false;
        for (const auto& o : ws.scene.objects) {
            const bool h = w::isHeldOut(o.color, o.shape);
            held_out_objects += h;
            held = held || h;
        }
        objects += ws.scene.objects.size();
        line["held_out_pair"] = held;
        if (clips) {
            auto clip = w::makeClip(ws, frames);
            if (!clip.ok) {
                std::fprintf(stderr, "tessera-cli world: %s\n", clip.error.c_str());
                return 1;
            }
            fs::create_directories(base, ec);
            nlohmann::json frame_files = nlohmann::json::array();
            for (int f = 0; f < frames; ++f) {
                char name[32];
                std::snprintf(name, sizeof name, "frame-%03d", f);
                const fs::path fb = base / name;
                if (!writeFrame(*created.renderer, clip.frames[static_cast<size_t>(f)], size,
                                fb.string() + ".png", ws.caption, error) ||
                    !writeText(fb.string() + ".scene",
                               r::writeSceneProgram(clip.frames[static_cast<size_t>(f)]), error)) {
                    std::fprintf(stderr, "tessera-cli world: %s\n", error.c_str());
                    return 1;
                }
                frame_files.push_back(stem + "/" + name + ".png");
            }
            line["frames"] = frame_files;
        }
        if (!(index << line.dump() << '\n')) {
            std::fprintf(stderr, "tessera-cli world: cannot write %s/index.jsonl\n", out_dir.c_str());
            return 1;
        }
    }
    if (!index.flush()) {
        std::fprintf(stderr, "tessera-cli world: cannot write %s/index.jsonl\n", out_dir.c_str());
        return 1;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json held = nlohmann::json::array();
    for (const auto& p : w::kHeldOutPairs)
        held.push_back(std::string(r::colorName(p.color)) + " " + std::string(r::shapeName(p.shape)));
    nlohmann::json summary = {{"out", out_dir},
                              {"split", split_name},
                              {"count", count},
                              {"first_seed", range.first_seed + first},
                              {"size", size},
                              {"clips", clips},
                              {"frames", clips ? frames : 0},
                              {"objects", objects},
                              {"held_out_objects", held_out_objects},
                              {"held_out_pairs", held},
                              {"renderer", std::string(created.renderer->name())},
                              {"device", created.renderer->device()},
                              {"ms", ms}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
}

} // namespace tessera::cli
