// `tessera-cli train-igllm`: trains an IG-LLM (LLaVA layout with a float head, engine/train_llava.h) on
// world folders (PNG + scene program per scene), reports teacher-forced validation figures, and saves a
// LLaVA checkpoint folder that `reconstruct` and `eval-shapes --igllm` load.
#include "cli/cli.h"
#include "cli/train_run.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/image.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_llava.h"
#include "tessera/engine/train_loop.h"
#include "tessera/renderers/scene.h"
#include "tessera/world/world.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
namespace r = tessera::renderers;

const char* kUsage =
    "Usage: tessera-cli train-igllm --train DIR --val DIR --out DIR --steps N [options]\n\n"
    "Trains an IG-LLM inverse-graphics model (LLaVA layout: CLIP vision tower, projector, Llama LM, float\n"
    "head; f32 on the CPU) on world folders written by `tessera-cli world`: every NAME.png with its\n"
    "NAME.scene program, all square and the same size. The target program is the scene's object\n"
    "statements, ordered left to right as the camera sees them, one grammar word per token with [NUM]\n"
    "for each number (the float head regresses it). Loss = cross-entropy on the program tokens +\n"
    "λ·MSE of the numbers, each field in units of its spread (size and z 0.35, x and y 3, rotation 180).\n"
    "A rotation is learnt in its canonical form (a cube's modulo 90 degrees, 0 for round shapes): the\n"
    "picture cannot tell the others apart.\n"
    "Step s sees scenes s*B .. s*B+B-1 (modulo the count, in file-name order), so a run resumed from\n"
    "its checkpoint continues the same curve. Prints one JSON line per step {\"step\",\"total\",\"loss\",\n"
    "\"cross_entropy\",\"float_mse\",\"step_ms\"}, then a summary with teacher-forced validation figures.\n"
    "Writes config.json, tokenizer.json, tokenizer_config.json, model.safetensors (f16 or bf16; the float\n"
    "head f32) and metrics.json to --out.\n\n"
    "Options:\n"
    "  --train DIR            training scenes (*.png + *.scene)\n"
    "  --val DIR              validation scenes (*.png + *.scene)\n"
    "  --out DIR              the model folder to write\n"
    "  --steps N              optimizer steps (resumed steps count)\n"
    "  --batch N              scenes per step (default 16)\n"
    "  --lr X                 AdamW learning rate (default 0.001)\n"
    "  --layers N             LM layers (default 4)\n"
    "  --hidden N             LM width (default 256; 4 heads of hidden/4)\n"
    "  --vision-layers N      vision encoder layers (default 2)\n"
    "  --vision-hidden N      vision width (default 128; 4 heads)\n"
    "  --patch N              patch side in pixels; image tokens = (side/patch)^2 (default 8)\n"
    "  --float-head KIND      tanh_mlp_gelu or linear (default tanh_mlp_gelu)\n"
    "  --float-weight X       λ, the weight of the numbers' loss (default 1)\n"
    "  --position-cells       the vocabulary gets the position cells x0..x11 and y0..y11: the model names\n"
    "                         the half-unit cell of each ground coordinate before its [NUM] (a word,\n"
    "                         learnt by cross-entropy and read back) and the head places the object\n"
    "                         within it; teacher-forced x and y figures then see the true cell\n"
    "  --cells-first          with --position-cells: both cells go right after `object`, so the model\n"
    "                         names where an object is before its shape and colour (config.json\n"
    "                         \"position_cells\": \"first\"; the pipeline decodes in that order)\n"
    "  --dtype KIND           f16 or bf16 for the saved weights (default f16)\n"
    "  --val-count N          validation scenes used, 0 = all (default 0)\n"
    "  --checkpoint FILE      training checkpoint (weights + optimizer), resumed from when present\n"
    "  --checkpoint-every N   steps between checkpoints (default 25)\n"
    "  --seed S               initial weights (default 0)\n"
    "  --vq DIR               a VQ tokenizer folder (train-vq's): a share of the training pictures is\n"
    "                         replaced by its round trip through the tokenizer (encode, decode, 8 bits),\n"
    "                         the kind of picture a generator over that tokenizer draws, so the model\n"
    "                         learns to read those too; which ones is drawn from the scene's place in\n"
    "                         the data stream and --seed, the same on a resumed run\n"
    "  --vq-share X           the share of pictures round-tripped, 0..1 (default 0.5)\n"
    "  --vq-from N            round trips from optimizer step N on (0-based; default 0); the tokenizer\n"
    "                         is read when that step begins, so its folder may be written meanwhile\n";

struct Scene {
    std::vector<uint8_t> rgb;
    std::vector<train::ProgramObject> objects;
};

// The scenes of a world folder, in file-name order.
Expected<std::vector<Scene>> readScenes(const std::string& dir, int64_t& side, size_t limit) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::error(dir + " is not a folder");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".png") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (limit && files.size() > limit) files.resize(limit);
    if (files.empty()) return Status::error(dir + " holds no PNG");
    std::vector<Scene> out;
    for (const auto& f : files) {
        auto im = readPng(f.string());
        if (!im) return Status::error(f.string() + ": " + im.error());
        if (im->width != im->height)
            return Status::error(f.string() + " is not square (" + std::to_string(im->width) + "x" +
                                 std::to_string(im->height) + ")");
        if (out.empty()) side = im->width;
        if (im->width != side)
            return Status::error(f.string() + " is " + std::to_string(im->width) +
                                 " pixels wide, the first image " + std::to_string(side));
        fs::path program = f;
        program.replace_extension(".scene");
        std::ifstream in(program, std::ios::binary);
        if (!in)
            return Status::error("cannot read " + program.string() + " (every PNG needs its .scene program)");
        std::stringstream text;
        text << in.rdbuf();
        auto parsed = r::parseSceneProgram(text.str());
        if (!parsed.ok) return Status::error(program.string() + ": " + parsed.error);
        // Left to right as the camera sees the centres (the caption's order): one order the model can learn.
        std::vector<std::pair<double, r::SceneObject>> placed;
        for (const auto& o : parsed.scene.objects) {
            double x = 0, y = 0;
            world::projectToPixel(parsed.scene.camera, o.position, 64, 64, x, y);
            placed.emplace_back(x, o);
        }
        std::stable_sort(placed.begin(), placed.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        Scene s;
        s.rgb = std::move(im->rgb);
        for (const auto& [x, o] : placed)
            s.objects.push_back({std::string(r::shapeName(o.shape)), std::string(r::colorName(o.color)),
                                 std::string(r::materialName(o.material)), static_cast<float>(o.size),
                                 static_cast<float>(o.position[0]), static_cast<float>(o.position[1]),
                                 static_cast<float>(o.position[2]),
                                 static_cast<float>(r::canonicalRotation(o))});
        out.push_back(std::move(s));
    }
    return out;
}

// Round trips through a VQ tokenizer for a share of the training pictures (--vq).
struct RoundTrips {
    std::string dir;
    double share = 0.5;
    int64_t from = 0;
    uint64_t seed = 0;
    std::unique_ptr<train::JanusVqCodes> vq; // read when step `from` begins

    // Whether the picture at place `k` of the data stream is round-tripped at optimizer step `step`.
    bool wanted(int64_t step, int64_t k) const {
        if (dir.empty() || step < from || share <= 0) return false;
        return static_cast<double>(trainingDraw(seed ^ 0x7109, static_cast<uint64_t>(k), 0) >> 11) * 0x1p-53 <
               share;
    }
};

// Scenes first .. first+count-1 of the stream (modulo the count). With `trips` (training batches of step
// `step`), the drawn share of the pictures goes through the tokenizer first, in one batch.
Expected<train::LlavaBatch> makeBatch(const train::LlavaTrainModel& m, const std::vector<Scene>& scenes,
                                      int64_t first, int64_t count, RoundTrips* trips = nullptr,
                                      int64_t step = 0) {
    auto scene = [&](int64_t i) -> const Scene& {
        return scenes[static_cast<size_t>((first + i) % static_cast<int64_t>(scenes.size()))];
    };
    std::vector<int64_t> tripped;
    std::vector<uint8_t> rgb;
    for (int64_t i = 0; trips && i < count; ++i)
        if (trips->wanted(step, first + i)) {
            tripped.push_back(i);
            rgb.insert(rgb.end(), scene(i).rgb.begin(), scene(i).rgb.end());
        }
    std::vector<std::vector<uint8_t>> round_trip(static_cast<size_t>(count)); // empty: the picture as read
    if (!tripped.empty()) {
        if (!trips->vq) {
            auto vq = train::JanusVqCodes::load(trips->dir, 1);
            if (!vq) return Status::error("--vq " + trips->dir + ": " + vq.error());
            trips->vq = std::move(*vq);
        }
        const int64_t side = m.imageSize();
        auto out = trips->vq->roundTripRgb8(rgb, static_cast<int64_t>(tripped.size()), side, side);
        if (!out) return Status::error("--vq " + trips->dir + ": " + out.error());
        const size_t bytes = static_cast<size_t>(side * side * 3);
        for (size_t j = 0; j < tripped.size(); ++j)
            round_trip[static_cast<size_t>(tripped[j])].assign(
                out->begin() + static_cast<ptrdiff_t>(j * bytes),
                out->begin() + static_cast<ptrdiff_t>((j + 1) * bytes));
    }
    train::LlavaBatch b;
    const std::string prompt = IgllmRequest{}.prompt;
    for (int64_t i = 0; i < count; ++i) {
        const Scene& s = scene(i);
        const std::vector<uint8_t>& picture = round_trip[static_cast<size_t>(i)];
        const std::vector<float> px = train::imagePixels(picture.empty() ? s.rgb : picture, m.imageSize());
        b.pixels.insert(b.pixels.end(), px.begin(), px.end());
        auto seq = train::buildLlavaSequence(m.tokenizer(), prompt, m.imageTokens(), m.imageToken(),
                                             s.objects, m.cellsFirst());
        if (!seq) return seq.status();
        b.sequences.push_back(std::move(*seq));
    }
    return b;
}

} // namespace

int cmdTrainIgllm(int argc, char** argv) {
    CLI::App app;
    std::string train_dir, val_dir, out_dir, checkpoint, dtype_name = "f16";
    long long steps = 0, batch = 16, val_count = 0, every = 25;
    double lr = 1e-3, float_weight = 1.0;
    uint64_t seed = 0;
    train::LlavaTrainConfig cfg;
    app.add_option("--train", train_dir);
    app.add_option("--val", val_dir);
    app.add_option("--out", out_dir);
    addInt(app, "--steps", steps, 1, 100000000);
    addInt(app, "--batch", batch, 1, 4096);
    addNumber(app, "--lr", lr, 1e-8, 1.0);
    addInt(app, "--layers", cfg.layers, 1, 64);
    addInt(app, "--hidden", cfg.hidden, 8, 8192);
    addInt(app, "--vision-layers", cfg.vision_layers, 1, 64);
    addInt(app, "--vision-hidden", cfg.vision_hidden, 8, 8192);
    addInt(app, "--patch", cfg.patch, 1, 1024);
    app.add_option("--float-head", cfg.float_head);
    addNumber(app, "--float-weight", float_weight, 0.0, 1e6);
    app.add_flag("--position-cells", cfg.position_cells);
    app.add_flag("--cells-first", cfg.cells_first);
    app.add_option("--dtype", dtype_name);
    addInt(app, "--val-count", val_count, 0, 1 << 30);
    app.add_option("--checkpoint", checkpoint);
    addInt(app, "--checkpoint-every", every, 0, 100000000);
    addSeed(app, "--seed", seed);
    RoundTrips trips;
    app.add_option("--vq", trips.dir);
    addNumber(app, "--vq-share", trips.share, 0.0, 1.0);
    addInt(app, "--vq-from", trips.from, 0, 100000000);
    train::TrainerOptions opt;
    if (auto rc = parseTrainingCommandLine(app, "train-igllm", kUsage, opt, argc, argv)) return *rc;
    auto usage = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-igllm: %s\n", m.c_str());
        return 2;
    };
    if (train_dir.empty() || val_dir.empty() || out_dir.empty() || steps == 0)
        return usage("--train, --val, --out and --steps are required (see --help)");
    if (cfg.hidden % 4 != 0 || (cfg.hidden / 4) % 2 != 0) return usage("--hidden must be a multiple of 8");
    if (cfg.vision_hidden % 4 != 0) return usage("--vision-hidden must be a multiple of 4");
    if (cfg.float_head != "tanh_mlp_gelu" && cfg.float_head != "linear")
        return usage("--float-head must be tanh_mlp_gelu or linear");
    if (dtype_name != "f16" && dtype_name != "bf16") return usage("--dtype must be f16 or bf16");
    if (cfg.cells_first && !cfg.position_cells) return usage("--cells-first needs --position-cells");
    cfg.heads = cfg.kv_heads = cfg.vision_heads = 4;
    cfg.intermediate = cfg.hidden * 11 / 4 / 8 * 8; // Llama's ≈ 8/3 · hidden, rounded to 8
    cfg.vision_intermediate = 4 * cfg.vision_hidden;
    auto fail = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-igllm: %s\n", m.c_str());
        return 1;
    };
    int64_t side = 0, vside = 0;
    auto scenes = readScenes(train_dir, side, 0);
    if (!scenes) return fail(scenes.error());
    auto val = readScenes(val_dir, vside, static_cast<size_t>(val_count));
    if (!val) return fail(val.error());
    if (vside != side)
        return fail("validation images are " + std::to_string(vside) + " pixels, training images " +
                    std::to_string(side));
    if (side % cfg.patch != 0)
        return fail("the image side " + std::to_string(side) + " is not a multiple of --patch " +
                    std::to_string(cfg.patch));
    cfg.image_size = side;
    trips.seed = seed;
    if (std::error_code vq_ec; !trips.dir.empty() && trips.from == 0 &&
                               !fs::is_regular_file(fs::path(trips.dir) / "config.json", vq_ec))
        return fail("--vq " + trips.dir + " holds no config.json (a folder written by train-vq)");

    // Initial weights from the seed, through an ordinary folder and the normal reader.
    const fs::path init = fs::temp_directory_path() / ("tessera-igllm-init-" + std::to_string(::getpid()));
    if (Status s = train::LlavaTrainModel::initialize(init.string(), cfg, seed); !s.ok())
        return fail(s.message());
    auto model = train::LlavaTrainModel::load(init.string());
    std::error_code ec;
    fs::remove_all(init, ec);
    if (!model) return fail(model.error());
    size_t params = 0;
    for (const auto& p : model->parameters()) params += p.value.size();

    opt.adam.lr = lr;
    opt.adam.weight_decay = 0.0;
    opt.checkpoint_path = checkpoint;
    opt.checkpoint_every = checkpoint.empty() ? 0 : static_cast<int>(every);
    float last_ce = 0, last_mse = 0;
    train::Trainer trainer(model->parameters(), opt, [&](train::Tape<float>& t, int64_t step, int) {
        auto b = makeBatch(*model, *scenes, step * batch, batch, &trips, step);
        if (!b) throw Error(b.error());
        auto f = model->forward(t, *b, static_cast<float>(float_weight));
        last_ce = t.scalar(f.cross_entropy);
        last_mse = t.scalar(f.float_mse);
        return f.loss;
    });
    auto mean_step_ms =
        runTrainerPrintingSteps(trainer, steps, !checkpoint.empty(), [&](nlohmann::json& line) {
            line["cross_entropy"] = last_ce;
            line["float_mse"] = last_mse;
        });
    if (!mean_step_ms) return fail(mean_step_ms.error());

    // Teacher-forced validation: cross-entropy, the share of program tokens the model ranks first, and the
    // float head's mean absolute error per field (world units, degrees).
    double ce = 0, mse = 0, token_hits = 0, tokens = 0;
    double abs_err[5] = {0, 0, 0, 0, 0}, field_n[5] = {0, 0, 0, 0, 0};
    int64_t val_batches = 0;
    const int64_t vb = std::min<int64_t>(batch, static_cast<int64_t>(val->size()));
    for (int64_t first = 0; first < static_cast<int64_t>(val->size()); first += vb) {
        const int64_t n = std::min<int64_t>(vb, static_cast<int64_t>(val->size()) - first);
        auto b = makeBatch(*model, *val, first, n);
        if (!b) return fail(b.error());
        train::Tape<float> t;
        auto f = model->forward(t, *b, static_cast<float>(float_weight));
        ce += t.scalar(f.cross_entropy);
        mse += t.scalar(f.float_mse);
        ++val_batches;
        const auto& logits = t.value(f.logits);
        const auto& numbers = t.value(f.float_values);
        const int64_t v = model->vocab();
        size_t k = 0;
        for (int64_t bi = 0; bi < n; ++bi) {
            const auto& seq = b->sequences[static_cast<size_t>(bi)];
            for (int64_t i = seq.prompt_len - 1; i + 1 < static_cast<int64_t>(seq.ids.size()); ++i) {
                const float* row = logits.data() + (bi * f.length + i) * v;
                tokens += 1;
                token_hits += (std::max_element(row, row + v) - row) == seq.ids[static_cast<size_t>(i + 1)];
            }
            for (size_t j = 0; j < seq.number_at.size(); ++j, ++k) {
                const int field = static_cast<int>(seq.number_field[j]);
                abs_err[field] += std::fabs(numbers[k] - seq.number_value[j]);
                field_n[field] += 1;
            }
        }
    }
    auto mean = [](double s, double n) { return n > 0 ? s / n : 0.0; };
    if (Status s = model->save(out_dir, dtype_name == "bf16" ? DType::BF16 : DType::F16); !s.ok())
        return fail(s.message());
    nlohmann::json summary = {{"event", "done"},
                              {"steps", trainer.step()},
                              {"batch", batch},
                              {"image", std::to_string(side) + "x" + std::to_string(side)},
                              {"image_tokens", model->imageTokens()},
                              {"train_scenes", scenes->size()},
                              {"val_scenes", val->size()},
                              {"parameters", params},
                              {"float_head", model->floatHead()},
                              {"val_cross_entropy", mean(ce, static_cast<double>(val_batches))},
                              {"val_float_mse", mean(mse, static_cast<double>(val_batches))},
                              {"val_token_accuracy", mean(token_hits, tokens)},
                              {"val_size_mae", mean(abs_err[0], field_n[0])},
                              {"val_x_mae", mean(abs_err[1], field_n[1])},
                              {"val_y_mae", mean(abs_err[2], field_n[2])},
                              {"val_z_mae", mean(abs_err[3], field_n[3])},
                              {"val_rotation_mae", mean(abs_err[4], field_n[4])},
                              {"mean_step_ms", *mean_step_ms},
                              {"out", out_dir}};
    summary["vq_round_trips"] = nullptr;
    if (!trips.dir.empty()) summary["vq_round_trips"] = {{"share", trips.share}, {"from_step", trips.from}};
    return finishTrainingCommand("train-igllm", summary, out_dir);
}

} // namespace tessera::cli
