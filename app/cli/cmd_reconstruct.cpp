// `tessera-cli reconstruct`: IG-LLM inverse graphics. An image goes through a LLaVA checkpoint with a
// float head; the scene program streams to stdout token by token, is parsed, drawn by the Vulkan
// renderer (the null renderer, with a message, where no Vulkan device exists) and optionally stored in
// a project (tessera/projects/reconstruction_store.h, shared with the studio): the input image and the
// render as assets, the program as a scene, a "scene" generation for the history, and a `reconstruct`
// job whose result links them.
#include "cli/cli.h"
#include "cli/janus_runner.h" // createRunBackend
#include "tessera/engine/igllm.h"
#include "tessera/engine/image.h"
#include "tessera/projects/reconstruction_store.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
namespace r = tessera::renderers;

const char* kUsage =
    "Usage: tessera-cli reconstruct --model DIR --image FILE.png [options]\n"
    "       tessera-cli reconstruct --write-random-checkpoint DIR [--float-head TYPE] [--seed N]\n\n"
    "IG-LLM inverse graphics: the image goes through a LLaVA checkpoint with a float head; the scene\n"
    "program (docs/scene-programs.md) streams to stdout token by token, numbers as the head emits them.\n"
    "The program is then parsed and drawn. Messages go to stderr.\n\n"
    "Options:\n"
    "  --model DIR                  the checkpoint folder (config.json, safetensors, tokenizer.json)\n"
    "  --image FILE.png             the input image (PNG, any size)\n"
    "  --project DIR                store the image, program and render in this project (created if new)\n"
    "  --out-program FILE           write the program text\n"
    "  --out-render FILE.png        write the render\n"
    "  --size WxH                   render size, each side 1..8192 (default 480x320)\n"
    "  --renderer NAME              vulkan (default; falls back to null without a device) or null\n"
    "  --seed N                     sampling seed (default 0)\n"
    "  --temperature T              0 = greedy (default 1)\n"
    "  --top-k K                    0 = off (default)\n"
    "  --top-p P                    1 = off (default)\n"
    "  --max-tokens N               generated tokens at most (default 1024)\n"
    "  --prompt TEXT                text after the image (default \"Describe the scene as a program.\")\n"
    "  --no-constrain               sample freely instead of within the object-statement grammar\n"
    "  --backend NAME               cpu (default), cuda or auto\n"
    "  --threads N                  CPU threads (0 = all)\n"
    "  --write-random-checkpoint DIR  write a tiny random IG-LLM checkpoint there and exit\n"
    "  --float-head TYPE            its head: linear or tanh_mlp_gelu (default)\n";

std::vector<uint8_t> readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

int fail(projects::ReconstructionWriter& pw, const std::string& message) {
    std::fprintf(stderr, "tessera-cli reconstruct: %s\n", message.c_str());
    pw.fail(message);
    return 1;
}

} // namespace

int cmdReconstruct(int argc, char** argv) {
    CLI::App app;
    std::string model, image_path, project_dir, out_program, out_render, size = "480x320",
                                                                         renderer_name = "vulkan";
    std::string backend_name = "cpu", write_random, float_head = "tanh_mlp_gelu";
    int threads = 0;
    bool no_constrain = false;
    IgllmRequest req;
    app.add_option("--model", model);
    app.add_option("--image", image_path);
    app.add_option("--project", project_dir);
    app.add_option("--out-program", out_program);
    app.add_option("--out-render", out_render);
    app.add_option("--size", size);
    app.add_option("--renderer", renderer_name);
    addSeed(app, "--seed", req.seed);
    addNumber(app, "--temperature", req.sampler.temperature, 0.0, 100.0);
    addInt(app, "--top-k", req.sampler.top_k, 0, 1 << 30);
    addNumber(app, "--top-p", req.sampler.top_p, 0.0, 1.0);
    addInt(app, "--max-tokens", req.max_new_tokens, 1, 1 << 20);
    app.add_option("--prompt", req.prompt);
    app.add_flag("--no-constrain", no_constrain);
    app.add_option("--backend", backend_name);
    addInt(app, "--threads", threads, 0, 4096);
    app.add_option("--write-random-checkpoint", write_random);
    app.add_option("--float-head", float_head);
    if (auto rc = parseCommandLine(app, "reconstruct", kUsage, argc, argv)) return *rc;

    if (!write_random.empty()) {
        if (Status s = writeRandomIgllmCheckpoint(write_random, float_head, req.seed); !s.ok()) {
            std::fprintf(stderr, "tessera-cli reconstruct: %s\n", s.message().c_str());
            return 1;
        }
        std::printf("wrote %s (tiny random IG-LLM checkpoint, %s float head)\n", write_random.c_str(),
                    float_head.c_str());
        return 0;
    }
    if (model.empty() || image_path.empty()) {
        std::fprintf(stderr, "tessera-cli reconstruct: --model and --image are required (see --help)\n");
        return 2;
    }
    int width = 0, height = 0;
    if (!parseSize(size, 1, r::kMaxImageSide, width, height)) {
        std::fprintf(stderr, "tessera-cli reconstruct: --size '%s' is not WxH with each side in 1..%d\n",
                     size.c_str(), r::kMaxImageSide);
        return 2;
    }
    if (renderer_name != "vulkan" && renderer_name != "null") {
        std::fprintf(stderr, "tessera-cli reconstruct: --renderer is vulkan or null, got '%s'\n",
                     renderer_name.c_str());
        return 2;
    }
    if (!validUtf8(req.prompt)) {
        std::fprintf(stderr, "tessera-cli reconstruct: --prompt is not valid UTF-8\n");
        return 2;
    }
    req.constrain_to_grammar = !no_constrain;

    projects::ReconstructionWriter pw; // the project side, shared with the studio
    auto image = readPng(image_path);
    if (!image) return fail(pw, image_path + ": " + image.error());
    const std::vector<uint8_t> image_bytes = readBytes(image_path);
    auto be = createRunBackend(backend_name, threads, "f32");
    if (!be) return fail(pw, be.error());
    auto pipeline = IgllmPipeline::load(model, **be);
    if (!pipeline) return fail(pw, pipeline.error());
    const IgllmInfo& info = (*pipeline)->info();
    nlohmann::json params = {{"model", fs::absolute(model).string()},
                             {"image", fs::absolute(image_path).string()},
                             {"seed", req.seed},
                             {"temperature", req.sampler.temperature},
                             {"top_k", req.sampler.top_k},
                             {"top_p", req.sampler.top_p},
                             {"max_tokens", req.max_new_tokens},
                             {"prompt", req.prompt},
                             {"constrain", req.constrain_to_grammar},
                             {"float_head", info.float_head}};
    if (!project_dir.empty())
        if (auto s = pw.open(project_dir, params); !s.ok()) return fail(pw, s.message());
    if (req.constrain_to_grammar && !info.grammar_constraint)
        std::fprintf(stderr,
                     "note: the grammar constraint needs every grammar word as one token and a float head; "
                     "sampling freely\n");

    req.image = std::move(*image);
    req.on_piece = [](const ProgramPiece& p) {
        std::fwrite(p.text.data(), 1, p.text.size(), stdout);
        std::fflush(stdout);
    };
    JobContext ctx(1, nullptr, nullptr);
    auto result = (*pipeline)->reconstruct(req, ctx);
    if (!result) return fail(pw, result.error());
    if (!result->program.empty() && result->program.back() != '\n') std::fputc('\n', stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "%zu tokens (%zu numbers) in %.1f ms after a %.1f ms prefill%s\n",
                 result->tokens.size(), result->numbers.size(), result->generate_ms, result->prefill_ms,
                 result->finished ? "" : " (stopped at --max-tokens)");
    if (!out_program.empty()) {
        std::ofstream out(out_program, std::ios::binary);
        out << result->program;
        if (!out.flush()) return fail(pw, "cannot write " + out_program);
    }

    auto parsed = r::parseSceneProgram(result->program);
    if (!parsed.ok) return fail(pw, "the generated program does not parse: " + parsed.error);
    std::string no_vulkan;
    auto created = r::createRendererOrNull(renderer_name, no_vulkan);
    if (!no_vulkan.empty())
        std::fprintf(stderr, "note: no Vulkan renderer (%s); drawing with the null renderer, a blank image\n",
                     no_vulkan.c_str());
    if (!created.renderer) return fail(pw, created.error);
    r::RenderResult frame = created.renderer->render(parsed.scene, width, height);
    if (!frame.ok) return fail(pw, frame.error);
    const std::string scene_json = r::writeSceneJson(parsed.scene);
    ImageRgb8 render{frame.image.width, frame.image.height, std::move(frame.image.rgb)};
    // The render goes to --out-render, or to a temporary file when only the project wants it.
    const std::string render_path =
        !out_render.empty()
            ? out_render
            : (fs::temp_directory_path() / ("tessera_reconstruct_" + std::to_string(::getpid()) + ".png"))
                  .string();
    if (!out_render.empty() || pw.active()) {
        if (Status s = writePng(render_path, render, {{"tessera-scene", scene_json}}); !s.ok())
            return fail(pw, s.message());
    }
    std::fprintf(stderr, "parsed %zu object(s); rendered %dx%d with the %s renderer on %s\n",
                 parsed.scene.objects.size(), width, height, std::string(created.renderer->name()).c_str(),
                 created.renderer->device().c_str());
    if (pw.active()) {
        const std::vector<uint8_t> render_bytes = readBytes(render_path);
        if (out_render.empty()) fs::remove(render_path);
        nlohmann::json res = {{"tokens", result->tokens},
                              {"numbers", result->numbers},
                              {"finished", result->finished},
                              {"renderer", std::string(created.renderer->name())},
                              {"device", created.renderer->device()}};
        auto stored = pw.finish(image_bytes, render_bytes, fs::path(image_path).stem().string(),
                                result->program, scene_json, res);
        if (!stored) return fail(pw, stored.error());
        std::fprintf(stderr, "stored in %s: job %lld, scene %lld, image asset %lld, render asset %lld, history entry %lld\n",
                     project_dir.c_str(), static_cast<long long>(stored->job),
                     static_cast<long long>(stored->scene), static_cast<long long>(stored->image_asset),
                     static_cast<long long>(stored->render_asset), static_cast<long long>(stored->generation));
    }
    if (!out_render.empty()) std::fprintf(stderr, "wrote %s\n", out_render.c_str());
    return 0;
}

} // namespace tessera::cli
