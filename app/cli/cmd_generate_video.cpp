// `tessera-cli generate-video`: Lumos-1 text→video, text→image and image→video by AR-DF decoding.
// Writes the recipe (codes included) and, with a Cosmos tokenizer, the decoded frames as PNGs. A DiCoDe
// folder (or recipe) goes to the DiCoDe runner (cli/dicode_runner.h).
#include "cli/cli.h"
#include "cli/dicode_runner.h"
#include "cli/project_store.h"
#include "tessera/engine/cosmos.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/image.h"
#include "tessera/engine/lumos.h"
#include "tessera/engine/recipe.h"
#include "tessera/media/video.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

const char* kUsage =
    "Usage: tessera-cli generate-video --model DIR (--prompt TEXT | --prompt-ids IDS) [options]\n"
    "       tessera-cli generate-video --replay RECIPE.json [--model DIR] [--out DIR]\n\n"
    "Generates a video (or an image) with a Lumos-1 checkpoint: per latent frame, S MaskGIT steps over\n"
    "every cell with classifier-free guidance, frames one after another (AR-DF). With a DiCoDe folder\n"
    "(config.json with llm.agent) a GPT-2 writes N keyframes of deep tokens and a video diffusion model\n"
    "decodes each pair into a clip: 16(N-1) frames at 8 fps (4(N-1) for the tiny test model), written as\n"
    "frame-NNN.png, keyframe-strips.png, recipe.json and an MP4 carrying the recipe (--video or\n"
    "<out>/video.mp4).\n\n"
    "Options:\n"
    "  --model DIR            Lumos-1 checkpoint folder (Chameleon + MM-RoPE; tokenizer.json for --prompt)\n"
    "  --tokenizer DIR        Cosmos DV4x8x8 tokenizer folder (config.json + model.safetensors): decode the\n"
    "                         frames to PNGs; needed by --first-frame\n"
    "  --prompt TEXT          what to show\n"
    "  --prompt-ids IDS       the prompt as comma-separated text token ids (checkpoints without a "
    "tokenizer)\n"
    "  --size WxH             pixels, multiples of 32 (default 448x256)\n"
    "  --fps N                frames per second (default 12)\n"
    "  --frames N             video frames, a multiple of --fps (default 24 = 2 s)\n"
    "  --latent-frames N      latent frames to generate (default ceil((frames-1)/4)+1; fewer for quick "
    "runs)\n"
    "  --image-mode           text->image: one latent frame, fps = duration = 1, guidance 16\n"
    "  --first-frame FILE     image->video from this PNG (--size must match it; needs --tokenizer)\n"
    "  --steps S              MaskGIT steps per latent frame (default 50)\n"
    "  --cfg G                guidance weight (default 15 for video, 16 for --image-mode)\n"
    "  --seed N               random seed (default: a fresh one, printed)\n"
    "  --gumbel-temperature T re-masking noise temperature (default 1)\n"
    "  --reset-temperature    restart that temperature every latent frame (default: the reference's decay,\n"
    "                         which leaves it 0 after the first frame)\n"
    "  --out DIR              output folder (default out/video): recipe.json, code-digits-fNN.png (a coarse\n"
    "                         code->colour map, not a decode) and, with --tokenizer, frame-NNN.png\n"
    "  --video FILE           also write the decoded frames as a video (.mp4 H.264, .webm VP9, .gif, .webp)\n"
    "                         at --fps, with the recipe in its metadata (needs --tokenizer)\n"
    "  --project DIR          also store the run in that project (created if missing): the codes, an MP4\n"
    "                         with the recipe, a thumbnail strip; not again if the same run is there\n"
    "                         (needs --tokenizer)\n"
    "  --replay FILE          regenerate from a recipe.json, or from a video written by --video, and\n"
    "                         check the codes are identical (exit 1 if "
    "not)\n"
    "DiCoDe options (--prompt, --prompt-ids, --seed, --out, --video, --project, --replay, --backend,\n"
    "--threads and --json mean the same as above):\n"
    "  --keyframes N          keyframes to generate, N >= 2 (default 2 = one clip)\n"
    "  --ddim-steps S         DDIM steps per clip (default 50)\n"
    "  --eta E                DDIM eta: 0 deterministic, 1 the official demo (default 1)\n"
    "  --cfg G                decoder guidance on v (default 7.5)\n"
    "  --rescale R            guidance rescale, 0 to 1 (default 0.7)\n"
    "  --fs N                 frame-stride condition (default 6, the demo's)\n"
    "  --llm-cfg S            LLM guidance against the empty prompt, in token space (default 1 = off)\n"
    "  --var-scale V          variance scale of the mixture draws (default 0.01)\n"
    "  --backend B            cpu | cuda | auto (default cpu)\n"
    "  --threads N            CPU threads (default: all)\n"
    "  --json                 print a JSON summary on stdout\n";

Status writeCodeDigits(const std::string& out, const LumosResult& r) {
    const int64_t n = r.shape.frameCells();
    for (int64_t f = 0; f < r.shape.latent_frames; ++f) {
        std::vector<int32_t> codes(r.codes.begin() + f * n, r.codes.begin() + (f + 1) * n);
        ImageRgb8 img;
        img.width = static_cast<int>(r.shape.lat_w);
        img.height = static_cast<int>(r.shape.lat_h);
        img.rgb = lumosCodeDigitColours(codes);
        char name[64];
        std::snprintf(name, sizeof name, "code-digits-f%02lld.png", static_cast<long long>(f));
        Status st = writePng((fs::path(out) / name).string(), img);
        if (!st.ok()) return st;
    }
    return Status();
}

uint8_t toByte(float v) {
    const float x = std::clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f);
    return static_cast<uint8_t>(std::lround(x));
}

// The decoded frames as 8-bit RGB, written as frame-NNN.png; also returned (for --video).
Expected<std::vector<ImageRgb8>> writeDecodedFrames(const std::string& out, const VideoF32& video) {
    const size_t frame = static_cast<size_t>(video.height * video.width * 3);
    std::vector<ImageRgb8> frames;
    for (int64_t f = 0; f < video.frames; ++f) {
        ImageRgb8 img;
        img.width = static_cast<int>(video.width);
        img.height = static_cast<int>(video.height);
        img.rgb.resize(frame);
        for (size_t i = 0; i < frame; ++i) img.rgb[i] = toByte(video.rgb[static_cast<size_t>(f) * frame + i]);
        char name[64];
        std::snprintf(name, sizeof name, "frame-%03lld.png", static_cast<long long>(f));
        Status st = writePng((fs::path(out) / name).string(), img);
        if (!st.ok()) return st;
        frames.push_back(std::move(img));
    }
    return frames;
}

// The recipe a --replay names: a recipe.json, or the metadata of a video written with --video.
Expected<nlohmann::json> readReplaySource(const std::string& path) {
    if (media::formatFromPath(path) && media::formatFromPath(path) != media::VideoFormat::PngSequence) {
        auto info = media::probeVideo(path);
        if (!info) return info.status();
        auto it = info->metadata.find(media::kRecipeKey);
        if (it == info->metadata.end()) return Status::error(path + " carries no Tessera recipe");
        nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
        if (j.is_discarded()) return Status::error(path + ": its recipe is not JSON");
        return j;
    }
    std::ifstream in(path);
    if (!in) return Status::error("cannot read " + path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) return Status::error(path + " is not JSON");
    return j;
}

Expected<std::vector<int32_t>> parseIds(const std::string& text) {
    std::vector<int32_t> ids;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto v = parseInt(item, 0, LumosVocab::kCodeBase - 1);
        if (!v) return Status::error("--prompt-ids: '" + item + "' is not a text token id (0 to 65535)");
        ids.push_back(static_cast<int32_t>(*v));
    }
    if (ids.empty()) return Status::error("--prompt-ids is empty");
    return ids;
}

Expected<std::vector<int32_t>> encodeFirstFrame(const std::string& png, const CosmosTokenizer& tok,
                                                Backend& be, const LumosRequest& req) {
    auto img = readPng(png);
    if (!img) return img.status();
    if (img->width != req.width || img->height != req.height)
        return Status::error(png + " is " + std::to_string(img->width) + "x" + std::to_string(img->height) +
                             "; --size says " + std::to_string(req.width) + "x" + std::to_string(req.height));
    VideoF32 v;
    v.frames = 1;
    v.height = img->height;
    v.width = img->width;
    v.rgb.resize(img->rgb.size());
    for (size_t i = 0; i < img->rgb.size(); ++i) v.rgb[i] = static_cast<float>(img->rgb[i]) / 127.5f - 1.0f;
    return tok.encode(be, v);
}

// A DiCoDe folder or recipe runs on the DiCoDe runner; nullopt: not DiCoDe, go on with Lumos-1.
std::optional<int> dispatchDicode(CLI::App& app, DicodeRequest dicode, const LumosRequest& lumos,
                                  const std::string& model, const std::string& prompt_ids,
                                  const std::string& replay, const std::string& out,
                                  const std::string& video_path, const std::string& project_dir,
                                  const std::string& backend_name, int threads, bool json) {
    auto fail = [](const std::string& msg, int rc) {
        std::fprintf(stderr, "tessera-cli generate-video: %s\n", msg.c_str());
        return rc;
    };
    DicodeCliRun run;
    if (!replay.empty()) {
        auto j = readReplaySource(replay);
        if (!j || j->value("method", "") != "dicode") return std::nullopt;
        auto r = parseDicodeRecipe(*j);
        if (!r) return fail(replay + ": " + r.error(), 1);
        run.request = r->request;
        run.model = model.empty() ? r->info.model_dir : model;
        run.threads = app.count("--threads") ? threads : r->info.threads;
        run.backend_name = app.count("--backend") || r->info.backend.empty() ? backend_name : r->info.backend;
        run.out = app.count("--out") ? out : (fs::path(replay).parent_path() / "replay").string();
        run.replay = std::move(*r);
    } else {
        if (model.empty() || !DicodePipeline::isDicodeFolder(model)) return std::nullopt;
        for (const char* lumos_only :
             {"--tokenizer", "--size", "--fps", "--frames", "--latent-frames", "--image-mode",
              "--first-frame", "--steps", "--gumbel-temperature", "--reset-temperature"})
            if (app.count(lumos_only))
                return fail(std::string(lumos_only) + " is a Lumos-1 option; " + model +
                                " is a DiCoDe folder (see --help for its options)",
                            2);
        if (!app.count("--prompt") && prompt_ids.empty())
            return fail("--prompt or --prompt-ids is required (see --help)", 2);
        if (!validUtf8(lumos.prompt)) return fail("--prompt is not valid UTF-8 text", 2);
        dicode.prompt = lumos.prompt;
        if (!prompt_ids.empty()) {
            auto ids = parseIds(prompt_ids);
            if (!ids) return fail(ids.error(), 2);
            dicode.prompt_ids = *ids;
        }
        if (app.count("--cfg")) dicode.cfg = lumos.cfg;
        dicode.seed = app.count("--seed") ? lumos.seed : std::random_device{}();
        run.request = dicode;
        run.model = model;
        run.threads = threads;
        run.backend_name = backend_name;
        run.out = app.count("--out") ? out : "out/video";
    }
    if (!video_path.empty()) {
        auto format = media::formatFromPath(video_path);
        if (!format || *format == media::VideoFormat::PngSequence)
            return fail("--video " + video_path + ": use a .mp4, .webm, .gif or .webp name", 2);
    }
    run.video_path = video_path;
    run.project_dir = project_dir;
    run.json = json;
    return runDicodeVideo(run);
}

} // namespace

int cmdGenerateVideo(int argc, char** argv) {
    CLI::App app;
    LumosRequest req;
    std::string model, tokenizer_dir, prompt_ids, size = "448x256", first_frame, out = "out/video", replay,
                                                  backend_name = "cpu";
    int frames = 24, threads = 0;
    bool image_mode = false, json = false;
    app.add_option("--model", model);
    app.add_option("--tokenizer", tokenizer_dir);
    app.add_option("--prompt", req.prompt);
    app.add_option("--prompt-ids", prompt_ids);
    app.add_option("--size", size);
    addInt(app, "--fps", req.fps, 1, 120);
    addInt(app, "--frames", frames, 1, 7200);
    addInt(app, "--latent-frames", req.latent_frames, 1, 256);
    app.add_flag("--image-mode", image_mode);
    app.add_option("--first-frame", first_frame);
    addInt(app, "--steps", req.steps, 1, 1000);
    addNumber(app, "--cfg", req.cfg, -1e4, 1e4);
    auto* seed = addSeed(app, "--seed", req.seed);
    addNumber(app, "--gumbel-temperature", req.gumbel_temperature, 0, 1e4);
    app.add_flag("--reset-temperature", req.reset_temperature_per_frame);
    app.add_option("--out", out);
    app.add_option("--replay", replay);
    std::string video_path, project_dir;
    app.add_option("--video", video_path);
    app.add_option("--project", project_dir);
    app.add_option("--backend", backend_name);
    addInt(app, "--threads", threads, 0, 4096);
    app.add_flag("--json", json);
    DicodeRequest dicode;
    dicode.cfg = 7.5f;
    addInt(app, "--keyframes", dicode.keyframes, 2, 1024);
    addInt(app, "--ddim-steps", dicode.ddim_steps, 1, 1000);
    addNumber(app, "--eta", dicode.eta, 0, 10);
    addNumber(app, "--rescale", dicode.rescale, 0, 1);
    addInt(app, "--fs", dicode.fs, 0, 1000);
    addNumber(app, "--llm-cfg", dicode.llm_cfg, 0, 1e4);
    addNumber(app, "--var-scale", dicode.var_scale, 0, 1e4);
    if (auto rc = parseCommandLine(app, "generate-video", kUsage, argc, argv)) return *rc;
    auto fail = [](const std::string& msg, int rc) {
        std::fprintf(stderr, "tessera-cli generate-video: %s\n", msg.c_str());
        return rc;
    };
    {
        auto dicode_rc = dispatchDicode(app, dicode, req, model, prompt_ids, replay, out, video_path,
                                        project_dir, backend_name, threads, json);
        if (dicode_rc) return *dicode_rc;
    }
    for (const char* dicode_only :
         {"--keyframes", "--ddim-steps", "--eta", "--rescale", "--fs", "--llm-cfg", "--var-scale"})
        if (app.count(dicode_only))
            return fail(std::string(dicode_only) + " is a DiCoDe option; this is not a DiCoDe run", 2);

    std::optional<LumosRecipe> recipe;
    if (!replay.empty()) {
        auto j = readReplaySource(replay);
        if (!j) return fail(j.error(), 1);
        auto r = parseLumosRecipe(*j);
        if (!r) return fail(replay + ": " + r.error(), 1);
        recipe = std::move(*r);
        req = recipe->request;
        if (model.empty()) model = recipe->info.model_dir;
        if (!app.count("--threads")) threads = recipe->info.threads;
        if (!app.count("--backend") && !recipe->info.backend.empty()) backend_name = recipe->info.backend;
        if (!app.count("--out")) out = (fs::path(replay).parent_path() / "replay").string();
    } else {
        if (model.empty()) return fail("--model is required (see --help)", 2);
        if (!app.count("--prompt") && prompt_ids.empty())
            return fail("--prompt or --prompt-ids is required (see --help)", 2);
        if (!validUtf8(req.prompt)) return fail("--prompt is not valid UTF-8 text", 2);
        if (!prompt_ids.empty()) {
            auto ids = parseIds(prompt_ids);
            if (!ids) return fail(ids.error(), 2);
            req.prompt_ids = *ids;
        }
        int w = 0, h = 0;
        char tail = 0;
        if (std::sscanf(size.c_str(), "%dx%d%c", &w, &h, &tail) != 2)
            return fail("--size must look like 448x256", 2);
        req.width = w;
        req.height = h;
        if (image_mode && !first_frame.empty())
            return fail("--image-mode and --first-frame exclude each other", 2);
        req.task = image_mode ? LumosTask::TextToImage
                              : (first_frame.empty() ? LumosTask::TextToVideo : LumosTask::ImageToVideo);
        if (!image_mode) {
            if (frames % req.fps != 0)
                return fail("--frames " + std::to_string(frames) + " is not a whole number of seconds at " +
                                std::to_string(req.fps) + " fps",
                            2);
            req.duration_s = frames / req.fps;
        }
        if (!first_frame.empty() && tokenizer_dir.empty())
            return fail("--first-frame needs --tokenizer (the Cosmos encoder)", 2);
    }
    if (!video_path.empty()) {
        auto format = media::formatFromPath(video_path);
        if (!format || *format == media::VideoFormat::PngSequence)
            return fail("--video " + video_path + ": use a .mp4, .webm, .gif or .webp name", 2);
        if (tokenizer_dir.empty()) return fail("--video needs --tokenizer (the Cosmos decoder)", 2);
    }
    if (app.count("--project") && tokenizer_dir.empty())
        return fail("--project needs --tokenizer (the Cosmos decoder makes the stored video)", 2);
    if (recipe == std::nullopt) {
        if (!seed->count()) req.seed = std::random_device{}();
    }

    auto backend = createBackend(backend_name, threads);
    if (!backend) return fail(backend.error(), 1);
    Backend& be = **backend;
    auto pipeline = LumosPipeline::load(model, be);
    if (!pipeline) return fail(pipeline.error(), 1);
    std::unique_ptr<CosmosTokenizer> tok;
    if (!tokenizer_dir.empty()) {
        auto t = CosmosTokenizer::load(tokenizer_dir, be, !first_frame.empty());
        if (!t) return fail(t.error(), 1);
        tok = std::move(*t);
        if (!first_frame.empty()) {
            auto codes = encodeFirstFrame(first_frame, *tok, be, req);
            if (!codes) return fail(codes.error(), 1);
            req.first_frame_codes = *codes;
        }
    }

    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    int64_t last_frame = -1;
    auto result = (*pipeline)->generate(req, ctx, [&](const LumosProgress& p) {
        if (json) return;
        if (p.frame != last_frame || p.step == p.steps) {
            std::fprintf(stderr, "\rframe %lld/%lld step %lld/%lld", static_cast<long long>(p.frame + 1),
                         static_cast<long long>(p.frames), static_cast<long long>(p.step),
                         static_cast<long long>(p.steps));
            last_frame = p.frame;
        }
    });
    if (!json) std::fprintf(stderr, "\n");
    if (!result) return fail(result.error(), 1);

    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) return fail("cannot create " + out + ": " + ec.message(), 1);
    auto hash = modelIdentityHash(model);
    LumosRecipeInfo info{model, hash ? *hash : "", be.info().name, threads};
    const nlohmann::json rj = lumosRecipe(req, *result, info);
    {
        const std::string path = (fs::path(out) / "recipe.json").string();
        std::ofstream f(path + ".tmp");
        f << rj.dump(1) << "\n";
        f.close();
        if (!f) return fail("cannot write " + path, 1);
        fs::rename(path + ".tmp", path, ec);
        if (ec) return fail("cannot write " + path + ": " + ec.message(), 1);
    }
    Status st = writeCodeDigits(out, *result);
    if (!st.ok()) return fail(st.message(), 1);
    int64_t decoded = 0, stored_id = 0;
    bool stored_new = false;
    if (tok && !result->cancelled) {
        auto video = tok->decode(be, result->codes, result->shape.latent_frames, result->shape.lat_h,
                                 result->shape.lat_w);
        if (!video) return fail("decoding: " + video.error(), 1);
        auto frames = writeDecodedFrames(out, *video);
        if (!frames) return fail(frames.error(), 1);
        decoded = static_cast<int64_t>(frames->size());
        if (!video_path.empty()) {
            media::VideoExportOptions vo;
            vo.format = *media::formatFromPath(video_path);
            vo.fps = {req.fps, 1};
            vo.metadata[media::kRecipeKey] = rj.dump();
            Status vs = media::writeVideo(video_path, *frames, vo);
            if (!vs.ok()) return fail(vs.message(), 1);
        }
        if (!project_dir.empty()) {
            // The stored video is an MP4 whatever --video wrote.
            std::string mp4 = video_path;
            const bool own = media::formatFromPath(video_path) != media::VideoFormat::Mp4H264;
            if (own) {
                mp4 = (fs::path(out) / (".project-video-" + std::to_string(::getpid()) + ".mp4")).string();
                media::VideoExportOptions vo;
                vo.fps = {req.fps, 1};
                vo.metadata[media::kRecipeKey] = rj.dump();
                Status vs = media::writeVideo(mp4, *frames, vo);
                if (!vs.ok()) return fail(vs.message(), 1);
            }
            auto stored = storeVideoInProject(project_dir, model, rj, result->codes, *frames, mp4);
            if (own) fs::remove(mp4, ec);
            if (!stored) return fail(stored.error(), 1);
            stored_id = stored->id;
            stored_new = stored->stored;
        }
    }
    bool identical = true;
    if (recipe) identical = recipe->codes == result->codes;
    const double total = result->decode_ms + result->preview_ms;
    if (json) {
        nlohmann::json j = {
            {"out", out},
            {"seed", req.seed},
            {"task", lumosTaskName(req.task)},
            {"latent_frames", result->shape.latent_frames},
            {"latent_grid", {result->shape.lat_h, result->shape.lat_w}},
            {"steps", result->steps},
            {"decode_ms", result->decode_ms},
            {"preview_ms", result->preview_ms},
            {"preview_overhead_percent", total > 0 ? 100.0 * result->preview_ms / total : 0.0},
            {"decoded_frames", decoded},
            {"cancelled", result->cancelled}};
        if (recipe) j["replay_identical"] = identical;
        if (stored_id) {
            j["project_generation"] = stored_id;
            j["project_stored"] = stored_new;
        }
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("seed %llu, %s, %lld latent frame(s) of %lldx%lld codes, %lld steps in %.0f ms\n",
                    static_cast<unsigned long long>(req.seed), lumosTaskName(req.task),
                    static_cast<long long>(result->shape.latent_frames),
                    static_cast<long long>(result->shape.lat_w), static_cast<long long>(result->shape.lat_h),
                    static_cast<long long>(result->steps), total);
        std::printf("wrote %s/recipe.json%s\n", out.c_str(),
                    decoded ? (" and " + std::to_string(decoded) + " decoded frame(s)").c_str() : "");
        if (!video_path.empty() && decoded) std::printf("wrote %s\n", video_path.c_str());
        if (recipe) std::printf("replay: codes %s\n", identical ? "identical" : "DIFFER");
        if (stored_id)
            std::printf(stored_new ? "stored video generation %lld in %s\n"
                                   : "video generation %lld already in %s\n",
                        static_cast<long long>(stored_id), project_dir.c_str());
    }
    return identical ? 0 : 1;
}

} // namespace tessera::cli
