#include "cli/project_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tessera/projects/project.h"

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

Status fromProjects(const projects::Status& s) { return s.ok() ? Status() : Status::error(s.message()); }

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
    auto project = fs::exists(fs::path(dir) / "project.db") ? projects::Project::open(dir) : projects::Project::create(dir);
    if (!project) return Status::error("project " + dir + ": " + project.error());
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

    auto job = project->submitJob("generate", run.params);
    if (!job) return Status::error(job.error());
    if (Status s = fromProjects(project->updateJobState(*job, projects::JobState::kRunning)); !s.ok()) return s;

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
        if (media.bytes.empty()) return Status::error("cannot read back " + run.written[i]);
        media.meta = {{"source", fs::absolute(run.written[i]).string()}};
        auto id = project->addGeneration(g, &media);
        if (!id) return Status::error("storing generation: " + id.error());
        if (ids) ids->push_back(*id);
    }
    project->setJobResult(*job, {{"generations", ids ? *ids : std::vector<int64_t>{}}});
    return fromProjects(project->updateJobState(*job, run.cancelled ? projects::JobState::kCancelled
                                                                    : projects::JobState::kDone));
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

} // namespace tessera::cli
