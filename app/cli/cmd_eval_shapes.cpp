// `tessera-cli eval-shapes`: measures Shapes models on the Shapes world (docs/WORLD.md) and prints one
// JSON object. Two tasks:
//   reconstruction — an IG-LLM model reads rendered scenes of each split; its programs are scored
//     against the true scenes with the scene metrics (renderers/scene_metrics.h);
//   text->image   — a Janus-layout model draws each caption; the IG-LLM model reads the picture back
//     and each object the caption asked for (colour + shape) is looked for in the reconstruction.
// Sections: options / scoring / reconstruction / text->image / command.
#include "cli/cli.h"
#include "cli/decode_options.h"
#include "cli/janus_runner.h" // createRunBackend
#include "tessera/engine/igllm.h"
#include "tessera/engine/image.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/token_shuffle.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"
#include "tessera/renderers/scene_metrics.h"
#include "tessera/world/world.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace tessera::cli {
namespace {

namespace r = tessera::renderers;
namespace w = tessera::world;

const char* kUsage =
    "Usage: tessera-cli eval-shapes --igllm DIR [options]\n"
    "       tessera-cli eval-shapes --generator DIR --igllm DIR [options]\n\n"
    "Measures Shapes models on the Shapes world (docs/WORLD.md) and prints one JSON object.\n"
    "With --igllm alone: reconstruction. Scenes of each split are rendered, read by the IG-LLM model, and\n"
    "its programs scored against the true scenes (objects paired by the Hungarian method on centre\n"
    "distance): object-count, colour, shape, material and size accuracy (a size is right within 25% of\n"
    "the true one), and the mean position error as a percentage of the scene extent (6 units: centres lie\n"
    "in [-3, 3]²). A program that does not parse counts as an empty scene.\n"
    "With --generator: text->image. The generator (Janus-Pro or Token-Shuffle layout) draws each scene's\n"
    "caption (Token-Shuffle with its default half-linear guidance schedule); the IG-LLM\n"
    "model reads the picture back; an object asked for is found when the reconstruction has an object of\n"
    "its colour and shape. Reported: the fraction of asked-for objects found, and of images with all "
    "found.\n\n"
    "Options:\n"
    "  --igllm DIR          IG-LLM checkpoint (LLaVA layout with a float head)\n"
    "  --vq DIR             reconstruction only: pass every render through this VQ tokenizer (encode,\n"
    "                       decode) before the IG-LLM reads it, and report its PSNR (vq_psnr_db)\n"
    "  --generator DIR      text->image checkpoint (Janus-Pro or Token-Shuffle layout); switches to the\n"
    "                       text->image task\n"
    "  --splits LIST        comma-separated splits (default test,ood for reconstruction, test for\n"
    "                       text->image)\n"
    "  --count N            scenes per split, 1..1000000 (default 500 for reconstruction, 200 for\n"
    "                       text->image)\n"
    "  --seed S             first scene index in each split (default 0); also the sampling seed\n"
    "  --size N             rendered image side for reconstruction, 8..1024 (default 64)\n"
    "  --max-tokens N       program tokens at most per reconstruction (default 256)\n"
    "  --temperature T      IG-LLM sampling temperature, 0 = greedy (default 0)\n"
    "  --cfg W              generator guidance weight (default 5)\n"
    "  --renderer NAME      vulkan (default) or null\n"
    "  --backend NAME       cpu (default), cuda or auto\n"
    "  --threads N          CPU threads (0 = all)\n";

constexpr double kSceneExtent = 2 * w::kGroundHalfExtent;

// --- scoring ---

struct Totals {
    r::SceneScoreTotals scores;
    size_t parse_failures = 0;
    void add(const r::SceneScore& s) { scores.add(s); }
    nlohmann::json json() const {
        const double pos = scores.meanPositionError();
        return {{"scenes", scores.scenes},
                {"objects", scores.objects},
                {"matched", scores.matched},
                {"parse_failures", parse_failures},
                {"count_accuracy", scores.countAccuracy()},
                {"color_accuracy", scores.colorAccuracy()},
                {"shape_accuracy", scores.shapeAccuracy()},
                {"material_accuracy", scores.materialAccuracy()},
                {"size_accuracy", scores.sizeAccuracy()},
                {"mean_position_error", pos},
                {"position_error_pct_of_extent", 100.0 * pos / kSceneExtent}};
    }
};

struct Options {
    std::string igllm, generator, vq, splits, renderer = "vulkan", backend = "cpu";
    long long count = 0;
    uint64_t seed = 0;
    int size = 64, max_tokens = 256, threads = 0;
    float temperature = 0, cfg = 5;
    DecodeSettings decode; // the generator's decode strategy (text->image)
};

std::vector<w::Split> parseSplits(const std::string& list, std::string& error) {
    std::vector<w::Split> out;
    std::stringstream in(list);
    for (std::string name; std::getline(in, name, ',');) {
        auto s = w::parseSplit(name);
        if (!s) {
            error = "--splits: unknown split '" + name + "' (train, val, test or ood)";
            return {};
        }
        out.push_back(*s);
    }
    if (out.empty()) error = "--splits is empty";
    return out;
}

// Reads an image back into a scene; a program that does not parse is an empty scene.
Expected<r::Scene> readBack(IgllmPipeline& igllm, const ImageRgb8& image, const Options& o, Totals& t) {
    IgllmRequest req;
    req.image = image;
    req.seed = o.seed;
    req.sampler.temperature = o.temperature;
    req.max_new_tokens = o.max_tokens;
    JobContext ctx(1, nullptr, nullptr);
    auto result = igllm.reconstruct(req, ctx);
    if (!result) return result.status();
    auto parsed = r::parseSceneProgram(result->program);
    if (!parsed.ok) {
        ++t.parse_failures;
        return r::Scene{};
    }
    return parsed.scene;
}

// --- reconstruction ---

// The image through the VQ tokenizer (encode, decode), as 8-bit RGB again; adds the round trip's PSNR
// (dB, pixels in [0, 1], the decoder's output clamped to [-1, 1], as train-vq measures it) to `psnr_sum`.
Expected<ImageRgb8> throughVq(train::JanusVqCodes& vq, const ImageRgb8& image, double& psnr_sum) {
    std::vector<double> mse;
    auto rgb = vq.roundTripRgb8(image.rgb, 1, image.height, image.width, &mse);
    if (!rgb) return rgb.status();
    psnr_sum += 10.0 * std::log10(1.0 / std::max(mse[0], 1e-12));
    return ImageRgb8{image.width, image.height, std::move(*rgb)};
}

Expected<nlohmann::json> evalReconstruction(IgllmPipeline& igllm, r::Renderer& renderer,
                                            train::JanusVqCodes* vq, const std::vector<w::Split>& splits,
                                            const Options& o) {
    nlohmann::json per_split = nlohmann::json::object();
    for (w::Split split : splits) {
        Totals t;
        double psnr_sum = 0;
        for (long long k = 0; k < o.count; ++k) {
            auto made = w::makeScene(split, o.seed + static_cast<uint64_t>(k));
            if (!made.ok) return Status::error(made.error);
            r::RenderResult frame = w::renderScene(renderer, made.value.scene, o.size);
            if (!frame.ok) return Status::error(frame.error);
            ImageRgb8 image{frame.image.width, frame.image.height, std::move(frame.image.rgb)};
            if (vq) {
                auto through = throughVq(*vq, image, psnr_sum);
                if (!through) return through.status();
                image = std::move(*through);
            }
            auto predicted = readBack(igllm, image, o, t);
            if (!predicted) return predicted.status();
            t.add(r::scoreScene(*predicted, made.value.scene));
        }
        per_split[std::string(w::splitName(split))] = t.json();
        if (vq)
            per_split[std::string(w::splitName(split))]["vq_psnr_db"] =
                psnr_sum / static_cast<double>(o.count);
    }
    return per_split;
}

// --- text->image ---

// One generated picture for a caption and seed, with the LM steps it took.
struct Drawn {
    ImageRgb8 image;
    int64_t lm_steps = 0;
};
using DrawFn = std::function<Expected<Drawn>(const std::string& caption, uint64_t seed)>;

int64_t lmSteps(const JanusResult& r) {
    return r.decode_steps;
}
int64_t lmSteps(const TokenShuffleResult& r) {
    return r.steps;
}

// One picture per call from a loaded pipeline, with the guidance weight and decoding of the options.
template <class Request, class Pipeline>
DrawFn drawWith(std::shared_ptr<Pipeline> pipeline, const Options& o) {
    return [pipeline, &o](const std::string& caption, uint64_t seed) -> Expected<Drawn> {
        Request req;
        req.prompt = caption;
        req.seed = seed;
        req.sampler.cfg = o.cfg;
        req.previews = false;
        req.decode = o.decode;
        JobContext ctx(1, nullptr, nullptr);
        auto generated = pipeline->generate(req, ctx);
        if (!generated) return generated.status();
        if (generated->images.empty()) return Status::error("the generator returned no image");
        return Drawn{std::move(generated->images[0]), lmSteps(*generated)};
    };
}

// The generator as a DrawFn: a Janus-Pro folder, or a Token-Shuffle one (config.json with a
// "token_shuffle" object; its default half-linear guidance schedule).
Expected<DrawFn> loadGenerator(const std::string& dir, Backend& be, const Options& o, std::string& layout) {
    if (TokenShufflePipeline::isTokenShuffleFolder(dir)) {
        auto p = TokenShufflePipeline::load(dir, be);
        if (!p) return p.status();
        layout = "token-shuffle";
        return drawWith<TokenShuffleRequest>(std::shared_ptr<TokenShufflePipeline>(std::move(*p)), o);
    }
    auto p = JanusPipeline::load(dir, be);
    if (!p) return p.status();
    layout = "janus";
    return drawWith<JanusRequest>(std::shared_ptr<JanusPipeline>(std::move(*p)), o);
}

Expected<nlohmann::json> evalTextToImage(IgllmPipeline& igllm, const DrawFn& generate,
                                         const std::vector<w::Split>& splits, const Options& o) {
    nlohmann::json per_split = nlohmann::json::object();
    for (w::Split split : splits) {
        Totals t;
        size_t images = 0, asked = 0, found = 0, images_all_found = 0;
        int64_t lm_steps = 0;
        for (long long k = 0; k < o.count; ++k) {
            auto made = w::makeScene(split, o.seed + static_cast<uint64_t>(k));
            if (!made.ok) return Status::error(made.error);
            auto generated = generate(made.value.caption, o.seed + static_cast<uint64_t>(k));
            if (!generated) return generated.status();
            lm_steps += generated->lm_steps;
            auto predicted = readBack(igllm, generated->image, o, t);
            if (!predicted) return predicted.status();
            bool all = true;
            for (const auto& want : made.value.scene.objects) {
                bool hit = false;
                for (const auto& got : predicted->objects)
                    hit = hit || (got.color == want.color && got.shape == want.shape);
                ++asked;
                found += hit;
                all = all && hit;
            }
            images_all_found += all;
            ++images;
        }
        auto ratio = [](size_t a, size_t b) {
            return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
        };
        per_split[std::string(w::splitName(split))] = {
            {"images", images},
            {"objects_asked", asked},
            {"objects_found", found},
            {"found_rate", ratio(found, asked)},
            {"all_found_rate", ratio(images_all_found, images)},
            {"lm_steps_per_image", images ? static_cast<double>(lm_steps) / images : 0.0},
            {"parse_failures", t.parse_failures}};
    }
    return per_split;
}

int fail(const std::string& message) {
    std::fprintf(stderr, "tessera-cli eval-shapes: %s\n", message.c_str());
    return 1;
}

} // namespace

// --- command ---

int cmdEvalShapes(int argc, char** argv) {
    CLI::App app;
    Options o;
    app.add_option("--igllm", o.igllm);
    app.add_option("--generator", o.generator);
    app.add_option("--vq", o.vq);
    app.add_option("--splits", o.splits);
    addInt(app, "--count", o.count, 1, 1000000);
    addSeed(app, "--seed", o.seed);
    addInt(app, "--size", o.size, 8, 1024);
    addInt(app, "--max-tokens", o.max_tokens, 1, 1 << 16);
    addNumber(app, "--temperature", o.temperature, 0.0, 100.0);
    addNumber(app, "--cfg", o.cfg, 0.0, 100.0);
    app.add_option("--renderer", o.renderer);
    app.add_option("--backend", o.backend);
    addInt(app, "--threads", o.threads, 0, 4096);
    DecodeOptions decode;
    addDecodeOptions(app, decode, o.decode);
    const std::string usage = std::string(kUsage) +
                              "\nThe generator's decoding (text->image; lm_steps_per_image is reported):\n" +
                              kDecodeUsage;
    if (auto rc = parseCommandLine(app, "eval-shapes", usage, argc, argv)) return *rc;
    if (std::string e = applyDecodeOptions(app, decode, o.decode); !e.empty()) {
        std::fprintf(stderr, "tessera-cli eval-shapes: %s\n", e.c_str());
        return 2;
    }
    if (o.igllm.empty()) {
        std::fprintf(stderr, "tessera-cli eval-shapes: --igllm is required (see --help)\n");
        return 2;
    }
    const bool t2i = !o.generator.empty();
    if (t2i && !o.vq.empty()) {
        std::fprintf(stderr, "tessera-cli eval-shapes: --vq is for reconstruction, not with --generator\n");
        return 2;
    }
    if (o.splits.empty()) o.splits = t2i ? "test" : "test,ood";
    if (o.count == 0) o.count = t2i ? 200 : 500;
    std::string error;
    const auto splits = parseSplits(o.splits, error);
    if (splits.empty()) {
        std::fprintf(stderr, "tessera-cli eval-shapes: %s\n", error.c_str());
        return 2;
    }
    for (w::Split s : splits)
        if (o.seed >= w::splitRange(s).count ||
            static_cast<uint64_t>(o.count) > w::splitRange(s).count - o.seed) {
            std::fprintf(stderr, "tessera-cli eval-shapes: --seed + --count runs past the %s split\n",
                         std::string(w::splitName(s)).c_str());
            return 2;
        }
    if (o.renderer != "vulkan" && o.renderer != "null") {
        std::fprintf(stderr, "tessera-cli eval-shapes: --renderer is vulkan or null, got '%s'\n",
                     o.renderer.c_str());
        return 2;
    }

    const auto start = std::chrono::steady_clock::now();
    auto be = createRunBackend(o.backend, o.threads, "f32");
    if (!be) return fail(be.error());
    auto igllm = IgllmPipeline::load(o.igllm, **be);
    if (!igllm) return fail(o.igllm + ": " + igllm.error());
    nlohmann::json out = {{"task", t2i ? "text_to_image" : "reconstruction"},
                          {"igllm", o.igllm},
                          {"count", o.count},
                          {"first_index", o.seed},
                          {"scene_extent", kSceneExtent}};
    Expected<nlohmann::json> per_split = Status::error("not run");
    if (t2i) {
        std::string layout;
        auto generator = loadGenerator(o.generator, **be, o, layout);
        if (!generator) return fail(o.generator + ": " + generator.error());
        out["generator"] = o.generator;
        out["generator_layout"] = layout;
        out["decode"] = decodeStrategyName(o.decode.strategy);
        if (o.decode.strategy == DecodeStrategy::Sjd) {
            out["sjd_window"] = o.decode.window;
            out["sjd_init"] = sjdInitName(o.decode.init);
            out["lantern_k"] = o.decode.lantern_k;
            out["lantern_delta"] = o.decode.lantern_delta;
        }
        per_split = evalTextToImage(**igllm, *generator, splits, o);
    } else {
        auto created = r::createRenderer(o.renderer, {});
        if (!created.renderer) return fail(created.error);
        out["renderer"] = created.renderer->device();
        out["image_size"] = o.size;
        std::unique_ptr<train::JanusVqCodes> vq;
        if (!o.vq.empty()) {
            auto loaded = train::JanusVqCodes::load(o.vq, o.threads);
            if (!loaded) return fail(o.vq + ": " + loaded.error());
            if (o.size % (*loaded)->downsample() != 0)
                return fail("--size " + std::to_string(o.size) +
                            " is not a multiple of the VQ's downsampling " +
                            std::to_string((*loaded)->downsample()));
            vq = std::move(*loaded);
            out["vq"] = o.vq;
        }
        per_split = evalReconstruction(**igllm, *created.renderer, vq.get(), splits, o);
    }
    if (!per_split) return fail(per_split.error());
    out["splits"] = *per_split;
    out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

} // namespace tessera::cli
