// `tessera-cli train-vq`: trains a Janus-layout VQ image tokenizer (engine/train_vq.h) on a folder of PNGs
// (such as `tessera-cli world` writes), reports reconstruction PSNR on a validation folder, and saves a
// checkpoint the normal Janus VQ loader reads.
#include "cli/cli.h"
#include "cli/train_run.h"
#include "tessera/engine/image.h"
#include "tessera/engine/train_loop.h"
#include "tessera/engine/train_vq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "Usage: tessera-cli train-vq --train DIR --val DIR --out DIR --steps N [options]\n\n"
    "Trains a VQ image tokenizer in the Janus VQ layout (encoder, codebook, decoder; f32 on the CPU) on\n"
    "the PNGs of --train (all the same size, sides multiples of the downsampling factor; e.g. the output\n"
    "of `tessera-cli world`). Step s sees images s*B .. s*B+B-1 (modulo the count, in file-name order).\n"
    "Prints one JSON line per step {\"step\",\"total\",\"loss\",\"step_ms\"}, then a summary line with the\n"
    "mean reconstruction PSNR (dB, pixels in [0, 1]) over --val. Writes config.json, model.safetensors and\n"
    "metrics.json to --out.\n\n"
    "Options:\n"
    "  --train DIR            training images (*.png)\n"
    "  --val DIR              validation images (*.png)\n"
    "  --out DIR              the model folder to write\n"
    "  --steps N              optimizer steps (resumed steps count)\n"
    "  --batch N              images per step (default 8)\n"
    "  --lr X                 AdamW learning rate (default 0.001)\n"
    "  --channels N           width of every level, a multiple of 32 (default 32)\n"
    "  --levels N             levels; downsampling factor 2^(N-1) (default 4)\n"
    "  --blocks N             res blocks per level (default 1)\n"
    "  --codebook N           codes (default 256)\n"
    "  --code-dim N           codebook row width (default 8)\n"
    "  --object-weight X      weigh each pixel's reconstruction error by 1 + X·min(1, d), d the larger\n"
    "                         RGB distance of the pixel and of its reconstruction from the image's\n"
    "                         median colour (pixels in [-1, 1]), scaled to mean 1 per image: the objects\n"
    "                         of a Shapes render, and stray paint on the ground, count more than the\n"
    "                         ground (default 0: plain MSE)\n"
    "  --val-count N          validation images used, 0 = all (default 0)\n"
    "  --samples FILE.png     also write the first 8 validation images (top row) over their\n"
    "                         reconstructions (bottom row)\n"
    "  --restart-every N      every N steps, point codebook rows the step's batch does not use at its\n"
    "                         latents farthest from their codes (dead-code restart; 0 = off, default 50)\n"
    "  --dtype KIND           f32 (default), f16 or bf16 for the saved weights (validation PSNR is\n"
    "                         measured on the f32 weights before saving)\n"
    "  --checkpoint FILE      training checkpoint (weights + optimizer), resumed from when present\n"
    "  --seed S               initial weights (default 0)\n";

// RGB8 PNGs of a folder, in name order, as [3, H, W] planes in [-1, 1].
Expected<std::vector<std::vector<float>>> readImages(const std::string& dir, int64_t& height, int64_t& width,
                                                     size_t limit) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::error(dir + " is not a folder");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".png") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (limit && files.size() > limit) files.resize(limit);
    if (files.empty()) return Status::error(dir + " holds no PNG");
    std::vector<std::vector<float>> out;
    for (const auto& f : files) {
        auto im = readPng(f.string());
        if (!im) return Status::error(f.string() + ": " + im.error());
        if (out.empty()) {
            height = im->height;
            width = im->width;
        } else if (im->height != height || im->width != width) {
            return Status::error(f.string() + " is " + std::to_string(im->width) + "x" +
                                 std::to_string(im->height) + ", the first image " + std::to_string(width) +
                                 "x" + std::to_string(height));
        }
        const size_t n = static_cast<size_t>(height * width);
        std::vector<float> planes(3 * n);
        rgb8ToSignedPlanes(im->rgb.data(), n, planes.data());
        out.push_back(std::move(planes));
    }
    return out;
}

} // namespace

int cmdTrainVq(int argc, char** argv) {
    CLI::App app;
    std::string train_dir, val_dir, out_dir, checkpoint;
    long long steps = 0, batch = 8, val_count = 0;
    double lr = 1e-3;
    uint64_t seed = 0;
    train::VqTrainConfig cfg;
    app.add_option("--train", train_dir);
    app.add_option("--val", val_dir);
    app.add_option("--out", out_dir);
    addInt(app, "--steps", steps, 1, 100000000);
    addInt(app, "--batch", batch, 1, 4096);
    addNumber(app, "--lr", lr, 1e-8, 1.0);
    addInt(app, "--channels", cfg.channels, 32, 1024);
    addInt(app, "--levels", cfg.levels, 1, 6);
    addInt(app, "--blocks", cfg.blocks, 1, 8);
    addInt(app, "--codebook", cfg.codebook, 2, 1 << 20);
    addInt(app, "--code-dim", cfg.code_dim, 1, 1024);
    addNumber(app, "--object-weight", cfg.object_weight, 0.0, 1000.0);
    addInt(app, "--val-count", val_count, 0, 1 << 30);
    app.add_option("--checkpoint", checkpoint);
    std::string samples_path;
    int64_t restart_every = 50;
    addInt(app, "--restart-every", restart_every, 0, 1 << 30);
    app.add_option("--samples", samples_path);
    std::string dtype_name = "f32";
    app.add_option("--dtype", dtype_name)->check(CLI::IsMember({"f32", "f16", "bf16"}));
    addSeed(app, "--seed", seed);
    train::TrainerOptions opt;
    if (auto rc = parseTrainingCommandLine(app, "train-vq", kUsage, opt, argc, argv)) return *rc;
    if (train_dir.empty() || val_dir.empty() || out_dir.empty() || steps == 0) {
        std::fprintf(stderr,
                     "tessera-cli train-vq: --train, --val, --out and --steps are required (see --help)\n");
        return 2;
    }
    if (cfg.channels % 32 != 0) {
        std::fprintf(stderr, "tessera-cli train-vq: --channels must be a multiple of 32\n");
        return 2;
    }
    cfg.z_channels = cfg.channels;
    auto fail = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-vq: %s\n", m.c_str());
        return 1;
    };
    int64_t h = 0, w = 0, vh = 0, vw = 0;
    auto images = readImages(train_dir, h, w, 0);
    if (!images) return fail(images.error());
    auto val = readImages(val_dir, vh, vw, static_cast<size_t>(val_count));
    if (!val) return fail(val.error());
    train::VqTrainModel model(cfg, seed);
    const int64_t f = model.downsample();
    if (h % f || w % f || vh % f || vw % f)
        return fail("image sides must be multiples of " + std::to_string(f) + " (--levels " +
                    std::to_string(cfg.levels) + ")");
    size_t params = 0;
    for (const auto& p : model.parameters()) params += p.value.size();

    const size_t plane = static_cast<size_t>(3 * h * w);
    std::vector<float> px(static_cast<size_t>(batch) * plane);
    opt.adam.lr = lr;
    opt.adam.weight_decay = 0.0;
    opt.checkpoint_path = checkpoint;
    opt.checkpoint_every = checkpoint.empty() ? 0 : 50;
    train::Trainer trainer(model.parameters(), opt, [&](train::Tape<float>& t, int64_t step, int) {
        for (int64_t i = 0; i < batch; ++i) {
            const auto& src =
                (*images)[static_cast<size_t>((step * batch + i) % static_cast<int64_t>(images->size()))];
            std::copy(src.begin(), src.end(), px.begin() + static_cast<long>(static_cast<size_t>(i) * plane));
        }
        if (restart_every > 0 && step > 0 && step % restart_every == 0)
            model.restartUnusedCodes(px, batch, h, w);
        return model.forward(t, px, batch, h, w).loss;
    });
    auto mean_step_ms = runTrainerPrintingSteps(trainer, steps, !checkpoint.empty());
    if (!mean_step_ms) return fail(mean_step_ms.error());

    // Validation PSNR, one image at a time (pixels in [0, 1]), the codes used, and the sample grid.
    double psnr = 0, mse_sum = 0;
    std::vector<bool> code_used(static_cast<size_t>(cfg.codebook), false);
    constexpr int kSamples = 8;
    const int sample_count = static_cast<int>(std::min<size_t>(kSamples, val->size()));
    ImageRgb8 grid;
    grid.width = static_cast<int>(vw) * sample_count;
    grid.height = static_cast<int>(vh) * 2;
    grid.rgb.assign(static_cast<size_t>(grid.width) * static_cast<size_t>(grid.height) * 3, 0);
    auto put = [&](const std::vector<float>& chw, int col, int row) {
        const size_t hw = static_cast<size_t>(vh * vw);
        for (int64_t y = 0; y < vh; ++y)
            for (int64_t x = 0; x < vw; ++x)
                for (int c = 0; c < 3; ++c) {
                    const float v01 =
                        (std::clamp(chw[static_cast<size_t>(c) * hw + static_cast<size_t>(y * vw + x)], -1.0f,
                                    1.0f) +
                         1.0f) *
                        0.5f;
                    const size_t gx = static_cast<size_t>(col * vw + x),
                                 gy = static_cast<size_t>(row * vh + y);
                    grid.rgb[(gy * static_cast<size_t>(grid.width) + gx) * 3 + static_cast<size_t>(c)] =
                        static_cast<uint8_t>(std::lround(v01 * 255.0f));
                }
    };
    for (size_t n = 0; n < val->size(); ++n) {
        const auto& v = (*val)[n];
        train::Tape<float> t;
        auto fwd = model.forward(t, v, 1, vh, vw);
        const auto& rec = t.value(fwd.reconstruction);
        for (int64_t code : fwd.codes) code_used[static_cast<size_t>(code)] = true;
        if (static_cast<int>(n) < sample_count) {
            put(v, static_cast<int>(n), 0);
            put(rec, static_cast<int>(n), 1);
        }
        double mse = 0;
        for (size_t i = 0; i < v.size(); ++i) {
            const double r = std::clamp(static_cast<double>(rec[i]), -1.0, 1.0);
            const double d = (r - v[i]) / 2.0;
            mse += d * d;
        }
        mse /= static_cast<double>(v.size());
        mse_sum += mse;
        psnr += 10.0 * std::log10(1.0 / std::max(mse, 1e-12));
    }
    psnr /= static_cast<double>(val->size());
    const DType dtype = dtype_name == "f16" ? DType::F16 : dtype_name == "bf16" ? DType::BF16 : DType::F32;
    if (Status s = model.save(out_dir, dtype); !s.ok()) return fail(s.message());
    if (!samples_path.empty())
        if (Status s = writePng(samples_path, grid); !s.ok()) return fail(s.message());
    const auto codes_used = std::count(code_used.begin(), code_used.end(), true);
    nlohmann::json summary = {{"event", "done"},
                              {"dtype", dtype_name},
                              {"steps", trainer.step()},
                              {"batch", batch},
                              {"image", std::to_string(w) + "x" + std::to_string(h)},
                              {"train_images", images->size()},
                              {"val_images", val->size()},
                              {"val_psnr_db", psnr},
                              {"val_mse", mse_sum / static_cast<double>(val->size())},
                              {"parameters", params},
                              {"val_codes_used", codes_used},
                              {"codebook", cfg.codebook},
                              {"tokens_per_image", (h / f) * (w / f)},
                              {"mean_step_ms", *mean_step_ms},
                              {"out", out_dir}};
    if (cfg.object_weight > 0) summary["object_weight"] = cfg.object_weight;
    return finishTrainingCommand("train-vq", summary, out_dir);
}

} // namespace tessera::cli
