// DiCoDe through the CLI. The project's token stream of a DiCoDe video holds the deep tokens' f32 bit
// patterns (int32): DiCoDe has no discrete codes, and this keeps "same seed, same tokens" a test for a
// run that is already stored.
#include "cli/dicode_runner.h"

#include "cli/project_store.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/image.h"
#include "tessera/engine/recipe.h"
#include "tessera/media/video.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

int fail(const std::string& msg) {
    std::fprintf(stderr, "tessera-cli generate-video: %s\n", msg.c_str());
    return 1;
}

std::vector<ImageRgb8> splitFrames(const DicodeFrames& v) {
    std::vector<ImageRgb8> out;
    const size_t bytes = static_cast<size_t>(v.height * v.width * 3);
    for (int64_t f = 0; f < v.frames; ++f) {
        ImageRgb8 img;
        img.width = static_cast<int>(v.width);
        img.height = static_cast<int>(v.height);
        img.rgb.assign(v.rgb.begin() + static_cast<std::ptrdiff_t>(f * bytes),
                       v.rgb.begin() + static_cast<std::ptrdiff_t>((f + 1) * bytes));
        out.push_back(std::move(img));
    }
    return out;
}

Status writeJson(const std::string& path, const nlohmann::json& j) {
    std::ofstream f(path + ".tmp");
    f << j.dump(1) << "\n";
    f.close();
    if (!f) return Status::error("cannot write " + path);
    std::error_code ec;
    fs::rename(path + ".tmp", path, ec);
    if (ec) return Status::error("cannot write " + path + ": " + ec.message());
    return Status();
}

} // namespace

int runDicodeVideo(const DicodeCliRun& run) {
    auto backend = createBackend(run.backend_name, run.threads);
    if (!backend) return fail(backend.error());
    Backend& be = **backend;
    auto pipeline = DicodePipeline::load(run.model, be);
    if (!pipeline) return fail(pipeline.error());
    const DicodeRequest& req = run.request;

    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    std::vector<std::vector<uint8_t>> strips;
    int64_t strip_width = 0;
    auto result = (*pipeline)->generate(req, ctx, [&](const DicodeProgress& p) {
        if (p.stage == DicodeProgress::Stage::Keyframe && !p.preview_rgb.empty()) {
            strips.push_back(p.preview_rgb);
            strip_width = p.preview_width;
        }
        if (run.json) return;
        std::fprintf(stderr, "\rkeyframe %lld/%lld  clip %lld/%lld  step %lld/%lld   ",
                     static_cast<long long>(p.keyframe), static_cast<long long>(p.keyframes),
                     static_cast<long long>(p.clip), static_cast<long long>(p.clips),
                     static_cast<long long>(p.step), static_cast<long long>(p.steps));
    });
    if (!run.json) std::fprintf(stderr, "\n");
    if (!result) return fail(result.error());

    std::error_code ec;
    fs::create_directories(run.out, ec);
    if (ec) return fail("cannot create " + run.out + ": " + ec.message());
    auto hash = modelIdentityHash(run.model);
    const nlohmann::json rj =
        dicodeRecipe(req, *result, {run.model, hash ? *hash : "", be.info().name, run.threads});
    Status st = writeJson((fs::path(run.out) / "recipe.json").string(), rj);
    if (!st.ok()) return fail(st.message());
    if (!strips.empty()) {
        // One row per keyframe, one pixel per deep token.
        ImageRgb8 img;
        img.width = static_cast<int>(strip_width);
        img.height = static_cast<int>(strips.size());
        for (const auto& s : strips) img.rgb.insert(img.rgb.end(), s.begin(), s.end());
        st = writePng((fs::path(run.out) / "keyframe-strips.png").string(), img);
        if (!st.ok()) return fail(st.message());
    }
    const std::vector<ImageRgb8> frames = splitFrames(result->video);
    for (size_t f = 0; f < frames.size(); ++f) {
        char name[64];
        std::snprintf(name, sizeof name, "frame-%03zu.png", f);
        st = writePng((fs::path(run.out) / name).string(), frames[f]);
        if (!st.ok()) return fail(st.message());
    }
    std::string video = run.video_path.empty() ? (fs::path(run.out) / "video.mp4").string() : run.video_path;
    if (!frames.empty()) {
        media::VideoExportOptions vo;
        vo.format = *media::formatFromPath(video);
        vo.fps = {result->fps, 1};
        vo.metadata[media::kRecipeKey] = rj.dump();
        st = media::writeVideo(video, frames, vo);
        if (!st.ok()) return fail(st.message());
    }
    int64_t stored_id = 0;
    bool stored_new = false;
    if (!run.project_dir.empty() && !frames.empty()) {
        std::string mp4 = video;
        const bool own = media::formatFromPath(video) != media::VideoFormat::Mp4H264;
        if (own) {
            mp4 = (fs::path(run.out) / (".project-video-" + std::to_string(::getpid()) + ".mp4")).string();
            media::VideoExportOptions vo;
            vo.fps = {result->fps, 1};
            vo.metadata[media::kRecipeKey] = rj.dump();
            st = media::writeVideo(mp4, frames, vo);
            if (!st.ok()) return fail(st.message());
        }
        std::vector<int32_t> bits(result->tokens.size());
        std::memcpy(bits.data(), result->tokens.data(), bits.size() * sizeof(float));
        auto stored = storeVideoInProject(run.project_dir, run.model, rj, bits, frames, mp4);
        if (own) fs::remove(mp4, ec);
        if (!stored) return fail(stored.error());
        stored_id = stored->id;
        stored_new = stored->stored;
    }
    const std::string digest = dicodeFramesDigest(result->video);
    const bool identical =
        !run.replay || (run.replay->frames_sha256 == digest && run.replay->frames == result->video.frames);
    const double total = result->llm_ms + result->decode_ms;
    if (run.json) {
        nlohmann::json j = {{"out", run.out},
                            {"method", "dicode"},
                            {"seed", req.seed},
                            {"keyframes", result->keyframes},
                            {"clips", result->clips},
                            {"frames", result->video.frames},
                            {"width", result->video.width},
                            {"height", result->video.height},
                            {"fps", result->fps},
                            {"llm_ms", result->llm_ms},
                            {"decode_ms", result->decode_ms},
                            {"preview_ms", result->preview_ms},
                            {"frames_sha256", digest},
                            {"video", frames.empty() ? "" : video},
                            {"cancelled", result->cancelled}};
        if (run.replay) j["replay_identical"] = identical;
        if (stored_id) {
            j["project_generation"] = stored_id;
            j["project_stored"] = stored_new;
        }
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("seed %llu, DiCoDe, %lld keyframes, %lld clip(s), %lld frames of %lldx%lld in %.0f ms\n",
                    static_cast<unsigned long long>(req.seed), static_cast<long long>(result->keyframes),
                    static_cast<long long>(result->clips), static_cast<long long>(result->video.frames),
                    static_cast<long long>(result->video.width), static_cast<long long>(result->video.height),
                    total);
        std::printf("wrote %s/recipe.json and %zu frame(s)\n", run.out.c_str(), frames.size());
        if (!frames.empty()) std::printf("wrote %s\n", video.c_str());
        if (run.replay) std::printf("replay: frames %s\n", identical ? "identical" : "DIFFER");
        if (stored_id)
            std::printf(stored_new ? "stored video generation %lld in %s\n"
                                   : "video generation %lld already in %s\n",
                        static_cast<long long>(stored_id), run.project_dir.c_str());
    }
    return identical ? 0 : 1;
}

} // namespace tessera::cli

namespace tessera::cli {

int benchDicode(const DicodeBenchOptions& o) {
    auto backend = createBackend("cpu", o.threads);
    if (!backend) return fail(backend.error());
    auto pipeline = DicodePipeline::load(o.model, **backend);
    if (!pipeline) return fail(pipeline.error());
    DicodeRequest req;
    req.prompt_ids = {1, 2, 3};
    req.keyframes = o.keyframes;
    req.ddim_steps = o.ddim_steps;
    req.seed = o.seed;
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    nlohmann::json runs = nlohmann::json::array();
    double decode_with = 0, decode_without = 0;
    for (bool previews : {true, false}) {
        req.previews = previews;
        auto r = (*pipeline)->generate(req, ctx);
        if (!r) return fail(r.error());
        const double steps = static_cast<double>(r->clips * req.ddim_steps);
        (previews ? decode_with : decode_without) = r->decode_ms;
        runs.push_back({{"previews", previews},
                        {"ms_per_keyframe", r->llm_ms / static_cast<double>(r->keyframes)},
                        {"ms_per_ddim_step", steps > 0 ? r->decode_ms / steps : 0.0},
                        {"preview_ms", r->preview_ms},
                        {"llm_ms", r->llm_ms},
                        {"decode_ms", r->decode_ms},
                        {"frames", r->video.frames}});
    }
    const nlohmann::json j = {
        {"bench", "dicode"},
        {"model", o.model},
        {"threads", (*backend)->info().threads},
        {"keyframes", o.keyframes},
        {"ddim_steps", o.ddim_steps},
        {"runs", runs},
        {"preview_overhead_percent",
         decode_without > 0 ? 100.0 * (decode_with - decode_without) / decode_without : 0.0}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

} // namespace tessera::cli
