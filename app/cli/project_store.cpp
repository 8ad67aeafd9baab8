#include "cli/project_store.h"

#include "tessera/projects/project.h"
#include "tessera/projects/run_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

using projects::safetensorsBytes;

Expected<projects::Project> openProject(const std::string& dir) {
    auto p = projects::openForWriting(dir);
    if (!p) return Status::error(p.error());
    return std::move(*p);
}

Expected<int64_t> startJob(projects::Project& project, const std::string& kind,
                           const nlohmann::json& params) {
    auto job = projects::startRunningJob(project, kind, params);
    if (!job) return Status::error(job.error());
    return *job;
}

Status finishJob(projects::Project& project, int64_t job, const std::string& dir,
                 const std::function<projects::Status()>& store) {
    projects::Status s = projects::finishJobAtomically(project, job, dir, store);
    if (!s.ok()) return Status::error(s.message());
    return {};
}

// What both families store: the model, a finished job, one generation per image.
struct Stored {
    std::string model_dir, family;
    nlohmann::json params;
    const std::vector<Recipe>& recipes;
    const std::vector<std::vector<TokenSampled>>& token_events;
    const std::vector<std::string>& written;
    bool cancelled = false;
    bool nested_weights = false; // count safetensors in subfolders too (Token-Shuffle's vq/)
};

Status store(const std::string& dir, const Stored& run, std::vector<int64_t>* ids) {
    auto project = openProject(dir);
    if (!project) return project.status();
    if (run.recipes.empty()) return Status::error("nothing to store: the run wrote no image");
    const Recipe& first = run.recipes.at(0);
    auto model_id = project->addModel({0, fs::absolute(run.model_dir).string(), run.family, first.model_hash,
                                       safetensorsBytes(run.model_dir, run.nested_weights), 0});
    if (!model_id) return Status::error(model_id.error());

    auto job = startJob(*project, "generate", run.params);
    if (!job) return job.status();
    std::vector<int64_t> stored;
    Status s = finishJob(*project, *job, dir, [&]() -> projects::Status {
        for (size_t i = 0; i < run.recipes.size(); ++i) {
            const Recipe& rec = run.recipes[i];
            projects::GenerationRecord g;
            g.job_id = *job;
            g.model_id = *model_id;
            g.seed = rec.seed;
            g.prompt = rec.prompt;
            g.params = run.params;
            g.params["image_index"] = rec.image_index;
            g.params["grid"] = {rec.grid_h, rec.grid_w};
            g.tokens = rec.tokens;
            nlohmann::json top = nlohmann::json::array();
            if (i < run.token_events.size())
                for (const auto& t : run.token_events[i]) {
                    g.stats.push_back({t.probability, t.entropy, t.guidance_kl});
                    top.push_back({{"ids", t.top_ids}, {"probs", t.top_probs}, {"rank", t.rank}});
                }
            g.top_k = top;
            g.state = projects::GenerationState::kComplete;
            projects::MediaPayload media;
            media.kind = "image/png";
            media.extension = "png";
            std::ifstream in(run.written.at(i), std::ios::binary);
            media.bytes.assign(std::istreambuf_iterator<char>(in), {});
            if (media.bytes.empty()) return projects::Status::error("cannot read back " + run.written[i]);
            media.meta = {{"source", fs::absolute(run.written[i]).string()}};
            auto id = project->addGeneration(g, &media);
            if (!id) return projects::Status::error("storing generation: " + id.error());
            stored.push_back(*id);
        }
        if (auto st = project->setJobResult(*job, {{"generations", stored}}); !st.ok()) return st;
        return project->updateJobState(*job, run.cancelled ? projects::JobState::kCancelled : projects::JobState::kDone);
    });
    if (!s.ok()) return s;
    if (ids) *ids = stored;
    return {};
}

nlohmann::json samplerParams(const std::string& prompt, uint64_t seed, const SamplerSettings& s, int images,
                             const std::string& model_dir, const std::string& backend) {
    return {{"prompt", prompt},
            {"seed", seed},
            {"cfg", s.cfg},
            {"temperature", s.temperature},
            {"top_k", s.top_k},
            {"top_p", s.top_p},
            {"min_p", s.min_p},
            {"images", images},
            {"model", fs::absolute(model_dir).string()},
            {"backend", backend}};
}

} // namespace

Status storeInProject(const std::string& dir, const JanusRun& run, const JanusRunResult& r,
                      std::vector<int64_t>* ids) {
    const std::string backend = r.recipes.empty() ? run.backend : r.recipes[0].backend;
    nlohmann::json params = samplerParams(run.request.prompt, run.request.seed, run.request.sampler,
                                          run.request.images, run.model_dir, backend);
    // The model plus its delta drew the tokens: a re-run from the project (the studio's) applies it again.
    if (!r.recipes.empty() && !r.recipes[0].overlay_path.empty())
        params["overlay"] = {{"path", fs::absolute(r.recipes[0].overlay_path).string()},
                             {"sha256", r.recipes[0].overlay_hash}};
    return store(
        dir, {run.model_dir, "janus", params, r.recipes, r.token_events, r.written, r.result.cancelled}, ids);
}

// Token-Shuffle generations keep their tokens in decode order (window after window, slots row-major),
// which is what branching (`branch_token`) and replay (TokenShuffleRequest::forced) count in; the
// params say so and carry the window and schedule.
Status storeInProject(const std::string& dir, const TokenShuffleRun& run, const TokenShuffleRunResult& r,
                      std::vector<int64_t>* ids) {
    const std::string backend = r.recipes.empty() ? run.backend : r.recipes[0].backend;
    nlohmann::json params = samplerParams(run.request.prompt, run.request.seed, run.request.sampler,
                                          run.request.images, run.model_dir, backend);
    params["method"] = "token-shuffle";
    params["window"] = r.result.window;
    params["cfg_schedule"] = cfgScheduleName(run.request.cfg_schedule);
    params["token_order"] = "window";
    params["vq_tile"] = run.request.vq_tile;
    params["vq_halo"] = run.request.vq_halo;
    return store(dir,
                 {run.model_dir, "token-shuffle", params, r.recipes, r.token_events, r.written,
                  r.result.cancelled, true},
                 ids);
}

ImageRgb8 thumbnailStrip(const std::vector<ImageRgb8>& frames, int count, int height) {
    ImageRgb8 out;
    if (frames.empty() || frames[0].width <= 0 || frames[0].height <= 0 || count <= 0 || height <= 0) return out;
    count = std::min<int>(count, static_cast<int>(frames.size()));
    const ImageRgb8& f0 = frames[0];
    const int tile_w = std::max(1, f0.width * height / f0.height);
    out.width = tile_w * count;
    out.height = height;
    out.rgb.assign(static_cast<size_t>(out.width) * static_cast<size_t>(out.height) * 3, 0);
    for (int k = 0; k < count; ++k) {
        const size_t src_index =
            count == 1 ? 0 : static_cast<size_t>(k) * (frames.size() - 1) / static_cast<size_t>(count - 1);
        const ImageRgb8& f = frames[src_index];
        if (f.width != f0.width || f.height != f0.height) continue;
        // Box filter: each output pixel averages the source pixels it covers.
        for (int y = 0; y < height; ++y) {
            const int y0 = y * f.height / height, y1 = std::max(y0 + 1, (y + 1) * f.height / height);
            for (int x = 0; x < tile_w; ++x) {
                const int x0 = x * f.width / tile_w, x1 = std::max(x0 + 1, (x + 1) * f.width / tile_w);
                for (int c = 0; c < 3; ++c) {
                    int sum = 0;
                    for (int sy = y0; sy < y1; ++sy)
                        for (int sx = x0; sx < x1; ++sx)
                            sum += f.rgb[(static_cast<size_t>(sy) * static_cast<size_t>(f.width) + static_cast<size_t>(sx)) * 3 +
                                         static_cast<size_t>(c)];
                    out.rgb[(static_cast<size_t>(y) * static_cast<size_t>(out.width) + static_cast<size_t>(k * tile_w + x)) * 3 +
                            static_cast<size_t>(c)] = static_cast<uint8_t>(sum / ((y1 - y0) * (x1 - x0)));
                }
            }
        }
    }
    return out;
}

namespace {

Expected<std::vector<uint8_t>> readBytes(const fs::path& path) {
    auto bytes = projects::readFileBytes(path.string());
    if (!bytes) return Status::error(bytes.error());
    return std::move(*bytes);
}

} // namespace

Expected<VideoStoreResult> storeVideoInProject(const std::string& dir, const std::string& model_dir,
                                               const nlohmann::json& recipe, const std::vector<int32_t>& codes,
                                               const std::vector<ImageRgb8>& frames, const std::string& video_file) {
    auto project = openProject(dir);
    if (!project) return project.status();
    const uint64_t seed = recipe.value("seed", uint64_t{0});
    // Already there (e.g. a replay of a stored run): same seed, same codes.
    projects::HistoryFilter videos;
    videos.kind = "video";
    videos.limit = 100000;
    auto known = project->history(videos);
    if (!known) return Status::error(known.error());
    for (const auto& g : *known) {
        if (g.seed != seed) continue;
        auto full = project->generation(g.id);
        if (!full) return Status::error(full.error());
        if (full->tokens == codes) return VideoStoreResult{g.id, false};
    }

    const std::string hash = recipe.contains("model") ? recipe["model"].value("hash", "") : "";
    auto model_id = project->addModel({0, fs::absolute(model_dir).string(),
                                       recipe.value("method", "") == "dicode" ? "dicode" : "lumos", hash,
                                       safetensorsBytes(model_dir), 0});
    if (!model_id) return Status::error(model_id.error());
    nlohmann::json params = recipe;
    params.erase("codes"); // the token stream holds them
    params["model"] = fs::absolute(model_dir).string();
    params["video_frames"] = frames.size();
    params["decoded"] = true;
    auto job = startJob(*project, "generate-video", params);
    if (!job) return job.status();

    projects::GenerationRecord g;
    g.job_id = *job;
    g.model_id = *model_id;
    g.seed = seed;
    g.prompt = recipe.value("prompt", "");
    g.params = params;
    g.tokens = codes;
    g.state = recipe.value("cancelled", false) ? projects::GenerationState::kFailed : projects::GenerationState::kComplete;
    projects::MediaPayload video;
    video.kind = "video/mp4";
    video.extension = "mp4";
    auto bytes = readBytes(video_file);
    if (!bytes) return bytes.status();
    video.bytes = std::move(*bytes);
    video.meta = {{"frames", frames.size()}, {"fps", recipe.value("fps", 0)}};
    projects::MediaPayload strip;
    strip.kind = "image/png";
    strip.extension = "png";
    const fs::path strip_file = fs::temp_directory_path() / ("tessera-strip-" + std::to_string(::getpid()) + ".png");
    Status st = writePng(strip_file.string(), thumbnailStrip(frames));
    if (!st.ok()) return st;
    auto strip_bytes = readBytes(strip_file);
    std::error_code ec;
    fs::remove(strip_file, ec);
    if (!strip_bytes) return strip_bytes.status();
    strip.bytes = std::move(*strip_bytes);
    int64_t stored = 0;
    Status s = finishJob(*project, *job, dir, [&]() -> projects::Status {
        auto id = project->addVideoGeneration(g, video, strip);
        if (!id) return projects::Status::error("storing the video generation: " + id.error());
        stored = *id;
        if (auto r = project->setJobResult(*job, {{"generations", {*id}}}); !r.ok()) return r;
        return project->updateJobState(*job, projects::JobState::kDone);
    });
    if (!s.ok()) return s;
    return VideoStoreResult{stored, true};
}

} // namespace tessera::cli
