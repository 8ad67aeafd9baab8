#include "cli/project_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <optional>
#include <unistd.h>

#include "tessera/projects/project.h"

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

// Opens (or creates) the project a CLI run is stored in; a damaged database is refused.
Expected<projects::Project> openForWriting(const std::string& dir) {
    projects::OpenOptions options;
    options.check_integrity = true; // never write into a damaged database
    auto project = fs::exists(fs::path(dir) / "project.db") ? projects::Project::open(dir, options)
                                                            : projects::Project::create(dir, options);
    if (!project) return Status::error("project " + dir + ": " + project.error());
    return std::move(*project);
}

// The job appears already running (with this process as its runner), never queued: nothing else
// would run a queued job this process was killed before starting.
Expected<int64_t> startRunningJob(projects::Project& project, const std::string& kind, const nlohmann::json& params) {
    int64_t job = 0;
    projects::Status started = project.atomically([&]() -> projects::Status {
        auto id = project.submitJob(kind, params);
        if (!id) return id.status();
        job = *id;
        return project.updateJobState(*id, projects::JobState::kRunning);
    });
    if (!started.ok()) return Status::error(started.message());
    return job;
}

// `store` and the job's final state are one transaction: a full disk or any other failure stores
// none of the run, and the job is then marked failed with the reason.
Status finishJobAtomically(projects::Project& project, int64_t job, const std::string& dir,
                           const std::function<projects::Status()>& store) {
    projects::Status s = project.atomically(store);
    if (s.ok()) return {};
    // Best effort: on a full disk this small update may fail too; the job is then a dead 'running'
    // one, which the next open marks interrupted.
    (void)project.updateJobState(job, projects::JobState::kFailed, s.message());
    return Status::error(s.message() + " (nothing from this run was stored in " + dir + ")");
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
    auto project = openForWriting(dir);
    if (!project) return project.status();
    if (run.recipes.empty()) return Status::error("nothing to store: the run wrote no image");
    const Recipe& first = run.recipes.at(0);
    std::error_code ec;
    size_t model_bytes = 0;
    auto count = [&](const fs::directory_entry& e) {
        if (e.path().extension() == ".safetensors") model_bytes += static_cast<size_t>(e.file_size(ec));
    };
    if (run.nested_weights)
        for (const auto& e : fs::recursive_directory_iterator(run.model_dir, ec)) count(e);
    else
        for (const auto& e : fs::directory_iterator(run.model_dir, ec)) count(e);
    auto model_id = project->addModel({0, fs::absolute(run.model_dir).string(), run.family, first.model_hash,
                                       static_cast<int64_t>(model_bytes), 0});
    if (!model_id) return Status::error(model_id.error());

    auto job = startRunningJob(*project, "generate", run.params);
    if (!job) return job.status();
    std::vector<int64_t> stored;
    Status s = finishJobAtomically(*project, *job, dir, [&]() -> projects::Status {
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
    return store(dir,
                 {run.model_dir, "janus",
                  samplerParams(run.request.prompt, run.request.seed, run.request.sampler, run.request.images,
                                run.model_dir, backend),
                  r.recipes, r.token_events, r.written, r.result.cancelled},
                 ids);
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
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    if (!in.good() && !in.eof()) return Status::error("cannot read back " + path.string());
    if (bytes.empty()) return Status::error("cannot read back " + path.string() + " (empty)");
    return bytes;
}

} // namespace

Expected<VideoStoreResult> storeVideoInProject(const std::string& dir, const std::string& model_dir,
                                               const nlohmann::json& recipe, const std::vector<int32_t>& codes,
                                               const std::vector<ImageRgb8>& frames, const std::string& video_file) {
    auto project = openForWriting(dir);
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

    std::error_code ec;
    size_t model_bytes = 0;
    for (const auto& e : fs::directory_iterator(model_dir, ec))
        if (e.path().extension() == ".safetensors") model_bytes += static_cast<size_t>(e.file_size(ec));
    const std::string hash = recipe.contains("model") ? recipe["model"].value("hash", "") : "";
    auto model_id = project->addModel({0, fs::absolute(model_dir).string(),
                                       recipe.value("method", "") == "dicode" ? "dicode" : "lumos", hash,
                                       static_cast<int64_t>(model_bytes), 0});
    if (!model_id) return Status::error(model_id.error());
    nlohmann::json params = recipe;
    params.erase("codes"); // the token stream holds them
    params["model"] = fs::absolute(model_dir).string();
    params["video_frames"] = frames.size();
    params["decoded"] = true;
    auto job = startRunningJob(*project, "generate-video", params);
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
    fs::remove(strip_file, ec);
    if (!strip_bytes) return strip_bytes.status();
    strip.bytes = std::move(*strip_bytes);
    int64_t stored = 0;
    Status s = finishJobAtomically(*project, *job, dir, [&]() -> projects::Status {
        auto id = project->addVideoGeneration(g, video, strip);
        if (!id) return projects::Status::error("storing the video generation: " + id.error());
        stored = *id;
        if (auto r = project->setJobResult(*job, {{"generations", {*id}}}); !r.ok()) return r;
        return project->updateJobState(*job, projects::JobState::kDone);
    });
    if (!s.ok()) return s;
    return VideoStoreResult{stored, true};
}

Expected<int64_t> storeErasureInProject(const std::string& dir, const std::string& model_dir, const std::string& delta_file,
                                        const nlohmann::json& params, const nlohmann::json& result) {
    auto project = openForWriting(dir);
    if (!project) return project.status();
    auto hash = modelIdentityHash(model_dir);
    if (!hash) return hash.status();
    std::error_code ec;
    size_t model_bytes = 0;
    for (const auto& e : fs::directory_iterator(model_dir, ec))
        if (e.path().extension() == ".safetensors") model_bytes += static_cast<size_t>(e.file_size(ec));
    auto model_id = project->addModel({0, fs::absolute(model_dir).string(), "janus", *hash, static_cast<int64_t>(model_bytes), 0});
    if (!model_id) return Status::error(model_id.error());
    auto job = startRunningJob(*project, "erase", params);
    if (!job) return job.status();
    projects::MediaPayload delta;
    delta.kind = "tensor/delta";
    delta.extension = "safetensors";
    auto bytes = readBytes(delta_file);
    if (!bytes) return bytes.status();
    delta.bytes = std::move(*bytes);
    delta.meta = {{"method", "ear"}, {"model_id", *model_id}};
    Status s = finishJobAtomically(*project, *job, dir, [&]() -> projects::Status {
        auto asset = project->addAsset(delta);
        if (!asset) return projects::Status::error("storing the delta: " + asset.error());
        nlohmann::json r = result;
        r["delta_asset"] = {{"id", asset->id}, {"path", asset->rel_path}, {"sha256", asset->sha256}};
        r["model_id"] = *model_id;
        if (auto st = project->setJobResult(*job, r); !st.ok()) return st;
        return project->updateJobState(*job, projects::JobState::kDone);
    });
    if (!s.ok()) return s;
    return *job;
}

} // namespace tessera::cli
