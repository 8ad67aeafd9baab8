// `tessera-cli inspect FILE.png|VIDEO` and `tessera-cli replay FILE.png [--out OTHER.png]`.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/janus_runner.h"
#include "cli/tshuffle_runner.h"
#include "tessera/engine/image.h"
#include "tessera/engine/recipe.h"
#include "tessera/media/video.h"

namespace tessera::cli {

namespace {

Expected<Recipe> readRecipe(const std::string& path, ImageRgb8* pixels = nullptr,
                            std::map<std::string, std::string>* chunks = nullptr) {
    std::map<std::string, std::string> text;
    auto img = readPng(path, &text);
    if (!img) return img.status();
    if (pixels) *pixels = std::move(*img);
    auto recipe = Recipe::fromPngText(text);
    if (chunks) *chunks = std::move(text);
    return recipe;
}

bool isPngFile(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    unsigned char sig[8] = {};
    const bool png = std::fread(sig, 1, 8, f) == 8 && sig[0] == 0x89 && sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G';
    std::fclose(f);
    return png;
}

// A video file or PNG-sequence folder (tessera::media): its stream and the recipe in its metadata.
int inspectVideo(const std::string& path, bool json) {
    auto info = media::probeVideo(path);
    if (!info) {
        std::fprintf(stderr, "tessera-cli inspect: %s\n", info.error().c_str());
        return 1;
    }
    auto it = info->metadata.find(media::kRecipeKey);
    nlohmann::json recipe;
    if (it != info->metadata.end()) {
        recipe = nlohmann::json::parse(it->second, nullptr, false);
        if (recipe.is_discarded()) {
            std::fprintf(stderr, "tessera-cli inspect: the recipe in %s is not valid JSON\n", path.c_str());
            return 1;
        }
    }
    if (json) {
        if (it == info->metadata.end()) {
            std::fprintf(stderr, "tessera-cli inspect: %s carries no Tessera recipe\n", path.c_str());
            return 1;
        }
        std::printf("%s\n", recipe.dump(2).c_str());
        return 0;
    }
    std::printf("video       %s (%s), %dx%d pixels\n", media::formatName(info->format), info->codec.c_str(), info->width,
                info->height);
    std::printf("frames      %lld at %d/%d fps, %.3f s\n", static_cast<long long>(info->frames), info->fps.num,
                info->fps.den, info->duration_s);
    for (const auto& [k, v] : info->metadata)
        if (k != media::kRecipeKey) std::printf("meta        %s = %s\n", k.c_str(), v.c_str());
    if (it == info->metadata.end()) std::printf("recipe      none\n");
    else std::printf("recipe\n%s\n", recipe.dump(2).c_str());
    return 0;
}

} // namespace

int cmdInspect(int argc, char** argv) {
    const char* usage = "Usage: tessera-cli inspect FILE.png|VIDEO [--json]\n\nPrints the recipe a Tessera PNG carries: model "
                        "identity and hash, prompt, seed,\nsampler settings, backend, precision and the token stream.\n"
                        "For a video (MP4, WebM, GIF, WebP, or a PNG-sequence folder): format, size, frame count,\n"
                        "frame rate, metadata and the stored recipe. --json prints the recipe alone.\n";
    CLI::App app;
    std::string file;
    bool json = false;
    app.add_option("FILE", file)->required();
    app.add_flag("--json", json);
    if (auto rc = parseCommandLine(app, "inspect", usage, argc, argv)) return *rc;
    std::error_code ec;
    // Videos by extension (a regular file only: a FIFO must not block) or a PNG-sequence folder; all
    // else is read as a PNG, which reports what is wrong with it.
    const auto video_format = media::formatFromPath(file);
    if (std::filesystem::is_directory(file, ec) ||
        (video_format && *video_format != media::VideoFormat::PngSequence &&
         std::filesystem::is_regular_file(file, ec) && !isPngFile(file)))
        return inspectVideo(file, json);
    std::map<std::string, std::string> text;
    auto img = readPng(file, &text);
    if (!img) {
        std::fprintf(stderr, "tessera-cli inspect: %s\n", img.error().c_str());
        return 1;
    }
    auto r = Recipe::fromPngText(text);
    if (!r) {
        std::fprintf(stderr, "tessera-cli inspect: %s\n", r.error().c_str());
        return 1;
    }
    if (json) {
        std::printf("%s\n", nlohmann::json::parse(text["tessera"]).dump(2).c_str());
        return 0;
    }
    std::printf("image       %dx%d pixels\n", img->width, img->height);
    std::printf("parameters  %s\n\n", text["parameters"].c_str());
    std::printf("model       %s (%s layout)\n  dir       %s\n  hash      %s\n", r->model_name.c_str(), r->model_layout.c_str(),
                r->model_dir.c_str(), r->model_hash.c_str());
    std::printf("prompt      %s\nseed        %llu\n", r->prompt.c_str(), static_cast<unsigned long long>(r->seed));
    std::printf("sampler     cfg %g, temperature %g, top-k %d, top-p %g, min-p %g\n", r->sampler.cfg, r->sampler.temperature,
                r->sampler.top_k, r->sampler.top_p, r->sampler.min_p);
    if (r->decode.strategy != DecodeStrategy::Plain)
        std::printf("decode      %s, window %d, %s init\n", decodeStrategyName(r->decode.strategy), r->decode.window,
                    sjdInitName(r->decode.init));
    if (r->decode.lantern_k > 0)
        std::printf("            LANTERN relaxed acceptance (lossy): k %d, delta %g\n", r->decode.lantern_k,
                    static_cast<double>(r->decode.lantern_delta));
    std::printf("batch       image %d of %d\ngrid        %dx%d tokens\n", r->image_index, r->images, r->grid_h, r->grid_w);
    std::printf("backend     %s, %s, %d threads\n", r->backend.c_str(), r->precision.c_str(), r->threads);
    std::printf("tokens      %zu%s:", r->tokens.size(), r->cancelled ? " (cancelled)" : "");
    for (size_t i = 0; i < r->tokens.size(); ++i) std::printf(" %d", r->tokens[i]);
    std::printf("\n");
    return 0;
}

int cmdReplay(int argc, char** argv) {
    const char* usage = "Usage: tessera-cli replay FILE.png [--out OTHER.png] [--model DIR] [--threads N] [--force]\n\n"
                        "Regenerates an image from the recipe in FILE.png (Janus-Pro or Token-Shuffle) with the same\n"
                        "model, settings and seed, and checks that tokens and pixels are identical. --model points\n"
                        "at the checkpoint when it moved; --force replays even when the model's identity hash\n"
                        "differs.\n"
                        "Exit status 0 only when tokens and pixels match.\n";
    CLI::App app;
    std::string src, out, model;
    int threads = 0;
    bool force = false;
    app.add_option("FILE", src)->required();
    app.add_option("--out", out);
    app.add_option("--model", model);
    addInt(app, "--threads", threads, 0, 4096);
    app.add_flag("--force", force);
    if (auto rc = parseCommandLine(app, "replay", usage, argc, argv)) return *rc;
    ImageRgb8 original;
    std::map<std::string, std::string> text;
    auto recipe = readRecipe(src, &original, &text);
    if (!recipe) {
        std::fprintf(stderr, "tessera-cli replay: %s\n", recipe.error().c_str());
        return 1;
    }
    JanusRun run;
    run.model_dir = app.count("--model") ? model : recipe->model_dir;
    auto hash = modelIdentityHash(run.model_dir);
    if (!hash) {
        std::fprintf(stderr, "tessera-cli replay: %s (use --model DIR if the checkpoint moved)\n", hash.error().c_str());
        return 1;
    }
    if (*hash != recipe->model_hash && !force) {
        std::fprintf(stderr, "tessera-cli replay: %s is not the model that made this image (hash %s, recipe says %s); "
                             "use --force to replay anyway\n", run.model_dir.c_str(), hash->substr(0, 12).c_str(),
                     recipe->model_hash.substr(0, 12).c_str());
        return 1;
    }
    run.overlay = recipe->overlay_path;
    if (!run.overlay.empty()) {
        auto oh = fileHash(run.overlay);
        if (!oh) {
            std::fprintf(stderr, "tessera-cli replay: the recipe's overlay: %s\n", oh.error().c_str());
            return 1;
        }
        if (*oh != recipe->overlay_hash && !force) {
            std::fprintf(stderr, "tessera-cli replay: %s is not the overlay that made this image (sha256 %s, recipe says %s); "
                                 "use --force to replay anyway\n", run.overlay.c_str(), oh->substr(0, 12).c_str(),
                         recipe->overlay_hash.substr(0, 12).c_str());
            return 1;
        }
    }
    run.threads = threads;
    run.precision = recipe->precision.empty() ? "f32" : recipe->precision;
    run.request.prompt = recipe->prompt;
    run.request.seed = recipe->seed;
    run.request.sampler = recipe->sampler;
    run.request.decode = recipe->decode;
    run.request.images = recipe->images;
    run.out_path = app.count("--out") ? out : (std::filesystem::path(src).parent_path() / "replay.png").string();
    // The replay must never overwrite what it is checking: a mismatch would destroy the original.
    for (int i = 0; i < recipe->images; ++i) {
        std::error_code ec;
        if (std::filesystem::equivalent(outputPathFor(run.out_path, i), src, ec)) {
            std::fprintf(stderr, "tessera-cli replay: %s would overwrite %s, the file being replayed; give another --out\n",
                         outputPathFor(run.out_path, i).c_str(), src.c_str());
            return 2;
        }
    }
    run.progress = true;
    // A cancelled original stops where it stopped: replay the same prefix.
    std::vector<std::vector<int32_t>> all_tokens;
    std::vector<std::string> all_written;
    if (recipe->method == "token-shuffle") {
        auto ts = tokenShuffleRunFromRecipe(*recipe, text);
        if (!ts) {
            std::fprintf(stderr, "tessera-cli replay: %s\n", ts.error().c_str());
            return 1;
        }
        ts->model_dir = run.model_dir;
        ts->threads = run.threads;
        ts->out_path = run.out_path;
        auto r = runTokenShuffle(*ts);
        if (!r) {
            std::fprintf(stderr, "tessera-cli replay: %s\n", r.error().c_str());
            return 1;
        }
        all_tokens = std::move(r->result.tokens);
        all_written = std::move(r->written);
    } else {
        auto r = runJanus(run);
        if (!r) {
            std::fprintf(stderr, "tessera-cli replay: %s\n", r.error().c_str());
            return 1;
        }
        all_tokens = std::move(r->result.tokens);
        all_written = std::move(r->written);
    }
    if (recipe->image_index < 0 || static_cast<size_t>(recipe->image_index) >= all_tokens.size() ||
        static_cast<size_t>(recipe->image_index) >= all_written.size()) {
        std::fprintf(stderr, "tessera-cli replay: the recipe's image %d is not in a batch of %zu\n", recipe->image_index,
                     all_tokens.size());
        return 1;
    }
    const auto& tokens = all_tokens[static_cast<size_t>(recipe->image_index)];
    size_t same = 0;
    for (size_t i = 0; i < std::min(tokens.size(), recipe->tokens.size()); ++i) same += tokens[i] == recipe->tokens[i];
    const bool tokens_ok = recipe->cancelled ? same == recipe->tokens.size() : (same == tokens.size() && tokens.size() == recipe->tokens.size());
    const std::string written = all_written[static_cast<size_t>(recipe->image_index)];
    auto replayed = readPng(written);
    const bool pixels_ok = !recipe->cancelled && replayed && replayed->rgb == original.rgb;
    std::printf("tokens  %zu/%zu identical%s\n", same, recipe->tokens.size(), tokens_ok ? "" : "  MISMATCH");
    if (!recipe->cancelled) std::printf("pixels  %s\n", pixels_ok ? "identical" : "DIFFER");
    std::printf("wrote %s\n", written.c_str());
    return tokens_ok && (recipe->cancelled || pixels_ok) ? 0 : 1;
}

} // namespace tessera::cli
