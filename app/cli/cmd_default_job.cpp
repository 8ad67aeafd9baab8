// `tessera-cli default-job`: what `./tessera run --headless` runs. The default model draws the prompt;
// the built-in IG-LLM model reads the picture back as a scene program, which the renderer draws again,
// and a side-by-side sheet shows the two.
#include "cli/cli.h"
#include "cli/janus_runner.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/image.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"
#include "tessera/world/world.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
namespace r = tessera::renderers;

namespace tessera::cli {
namespace {

const char* kUsage =
    "Usage: tessera-cli default-job [--out-dir DIR] [--model DIR] [--igllm DIR] [--prompt TEXT] [--seed "
    "N]\n\n"
    "Runs the studio's default job headless and prints the paths it wrote (default folder: out/):\n"
    "  tessera-default.png          the image the default model (shapes-janus) draws for the prompt\n"
    "  tessera-default.scene        that image read back as a scene program by shapes-igllm\n"
    "  tessera-default-render.png   the program drawn by the renderer (256x256)\n"
    "  tessera-default-compare.png  the image (scaled up) beside the render\n"
    "  previews/                    the live previews of the generation\n"
    "The last three are skipped, with a message, when no IG-LLM model is found. The built-in models live\n"
    "in resources/models; TESSERA_MODELS_DIR points at another folder of them.\n\n"
    "Options:\n"
    "  --out-dir DIR      the folder to write (default out)\n"
    "  --model DIR        the text->image model (default: resources/models/shapes-janus)\n"
    "  --igllm DIR        the image->program model (default: resources/models/shapes-igllm)\n"
    "  --prompt TEXT      (default \"a large red rubber cube left of a small blue metal sphere\")\n"
    "  --seed N           sampling seed (default 0)\n";

constexpr int kRenderSide = 256;

// `image` scaled to side x side by nearest neighbour (a generated Shapes image is 64x64).
ImageRgb8 scaledTo(const ImageRgb8& image, int side) {
    ImageRgb8 out{side, side, std::vector<uint8_t>(size_t(side) * side * 3)};
    for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
            const int sx = x * image.width / side, sy = y * image.height / side;
            std::copy_n(&image.rgb[(size_t(sy) * image.width + sx) * 3], 3,
                        &out.rgb[(size_t(y) * side + x) * 3]);
        }
    return out;
}

ImageRgb8 sideBySide(const ImageRgb8& left, const ImageRgb8& right) {
    const int gap = 8, h = std::max(left.height, right.height);
    ImageRgb8 out{left.width + gap + right.width, h,
                  std::vector<uint8_t>(size_t(left.width + gap + right.width) * h * 3, 255)};
    auto paste = [&](const ImageRgb8& im, int x0) {
        for (int y = 0; y < im.height; ++y)
            std::copy_n(&im.rgb[size_t(y) * im.width * 3], size_t(im.width) * 3,
                        &out.rgb[(size_t(y) * out.width + x0) * 3]);
    };
    paste(left, 0);
    paste(right, left.width + gap);
    return out;
}

// Reads the generated `image` with the IG-LLM model and writes the program, the render and the comparison.
Status reconstructDefault(const std::string& igllm_dir, const ImageRgb8& image, const fs::path& out_dir) {
    auto be = createRunBackend("cpu", 0, "f32");
    if (!be) return Status::error(be.error());
    auto pipeline = IgllmPipeline::load(igllm_dir, **be);
    if (!pipeline) return Status::error(igllm_dir + ": " + pipeline.error());
    IgllmRequest req;
    req.image = image;
    req.sampler.temperature = 0; // greedy: the model's best reading
    JobContext ctx(1, nullptr, nullptr);
    auto result = (*pipeline)->reconstruct(req, ctx);
    if (!result) return Status::error(result.error());
    const fs::path program_path = out_dir / "tessera-default.scene";
    {
        std::ofstream out(program_path, std::ios::binary);
        out << result->program;
        if (!out.flush()) return Status::error("cannot write " + program_path.string());
    }
    std::printf("read back as a scene program (shapes-igllm):\n%s", result->program.c_str());
    std::printf("wrote %s\n", fs::absolute(program_path).c_str());
    auto parsed = r::parseSceneProgram(result->program);
    if (!parsed.ok) return Status::error("the program read back does not parse: " + parsed.error);
    std::string no_vulkan;
    auto created = r::createRendererOrNull("vulkan", no_vulkan);
    if (!no_vulkan.empty()) std::printf("note: no Vulkan renderer (%s); the render is blank\n", no_vulkan.c_str());
    if (!created.renderer) return Status::error(created.error);
    r::RenderResult frame = world::renderScene(*created.renderer, parsed.scene, kRenderSide);
    if (!frame.ok) return Status::error(frame.error);
    ImageRgb8 render{frame.image.width, frame.image.height, std::move(frame.image.rgb)};
    const fs::path render_path = out_dir / "tessera-default-render.png";
    if (Status s =
            writePng(render_path.string(), render, {{"tessera-scene", r::writeSceneJson(parsed.scene)}});
        !s.ok())
        return s;
    std::printf("wrote %s\n", fs::absolute(render_path).c_str());
    const fs::path compare_path = out_dir / "tessera-default-compare.png";
    if (Status s = writePng(compare_path.string(), sideBySide(scaledTo(image, kRenderSide), render)); !s.ok())
        return s;
    std::printf("wrote %s (generated | re-rendered)\n", fs::absolute(compare_path).c_str());
    return {};
}

} // namespace

int cmdDefaultJob(int argc, char** argv) {
    CLI::App app;
    std::string out_dir = "out", igllm_dir = defaultIgllmDir();
    JanusRun run;
    run.model_dir = defaultModelDir();
    run.request.prompt = "a large red rubber cube left of a small blue metal sphere";
    run.request.seed = 0;
    app.add_option("--out-dir", out_dir);
    app.add_option("--model", run.model_dir);
    app.add_option("--igllm", igllm_dir);
    app.add_option("--prompt", run.request.prompt);
    addSeed(app, "--seed", run.request.seed);
    if (auto rc = parseCommandLine(app, "default-job", kUsage, argc, argv)) return *rc;
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    run.out_path = (fs::path(out_dir) / "tessera-default.png").string();
    run.preview_dir = (fs::path(out_dir) / "previews").string();
    if (run.model_dir == dataDir() + "/reference/janus_tiny") // defaultModelDir()'s fallback
        std::printf(
            "Default model: janus_tiny — an untrained smoke-test model with random weights; its images are "
            "noise by design (resources/models/shapes-janus is missing).\n");
    else
        std::printf("model: %s\nprompt: %s\n", run.model_dir.c_str(), run.request.prompt.c_str());
    auto r = runJanus(run);
    if (!r) {
        std::fprintf(stderr, "tessera-cli default-job: %s\n", r.error().c_str());
        return 1;
    }
    std::printf(
        "generated %dx%d tokens in %.1f ms; %d live preview(s) took %.2f ms (%.1f%% of generation time)\n",
        r->result.grid_h, r->result.grid_w, r->result.generate_ms,
        r->result.previews_decoded + r->result.previews_approximate, r->result.preview_ms,
        r->result.generate_ms > 0 ? 100.0 * r->result.preview_ms / r->result.generate_ms : 0.0);
    for (const auto& p : r->written) std::printf("wrote %s\n", fs::absolute(p).c_str());
    std::printf("wrote previews in %s\n", fs::absolute(run.preview_dir).c_str());
    if (igllm_dir.empty()) {
        std::printf("no IG-LLM model (resources/models/shapes-igllm is missing): no reconstruction\n");
        return 0;
    }
    if (Status s = reconstructDefault(igllm_dir, r->result.images.front(), out_dir); !s.ok()) {
        std::fprintf(stderr, "tessera-cli default-job: reconstruction: %s\n", s.message().c_str());
        return 1;
    }
    return 0;
}

} // namespace tessera::cli
