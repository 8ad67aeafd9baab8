#include "cli/project_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "tessera/projects/project.h"

namespace fs = std::filesystem;

namespace tessera::cli {

Status storeInProject(const std::string& dir, const JanusRun& run, const JanusRunResult& r, std::vector<int64_t>* ids) {
    projects::OpenOptions options;
    options.check_integrity = true; // never write into a damaged database
    auto project = fs::exists(fs::path(dir) / "project.db") ? projects::Project::open(dir, options)
                                                            : projects::Project::create(dir, options);
    if (!project) return Status::error("project " + dir + ": " + project.error());
    const Recipe& first = r.recipes.at(0);
    std::error_code ec;
    size_t model_bytes = 0;
    for (const auto& e : fs::directory_iterator(run.model_dir, ec))
        if (e.path().extension() == ".safetensors") model_bytes += static_cast<size_t>(e.file_size(ec));
    auto model_id = project->addModel({0, fs::absolute(run.model_dir).string(), "janus", first.model_hash,
                                       static_cast<int64_t>(model_bytes), 0});
    if (!model_id) return Status::error(model_id.error());

    nlohmann::json params = {{"prompt", run.request.prompt},
                             {"seed", run.request.seed},
                             {"cfg", run.request.sampler.cfg},
                             {"temperature", run.request.sampler.temperature},
                             {"top_k", run.request.sampler.top_k},
                             {"top_p", run.request.sampler.top_p},
                             {"min_p", run.request.sampler.min_p},
                             {"images", run.request.images},
                             {"model", fs::absolute(run.model_dir).string()},
                             {"backend", first.backend}};
    // The job appears already running (with this process as its runner), never queued: nothing
    // else would run a queued job this process was killed before starting.
    std::optional<int64_t> job;
    projects::Status started = project->atomically([&]() -> projects::Status {
        auto id = project->submitJob("generate", params);
        if (!id) return id.status();
        job = *id;
        return project->updateJobState(*id, projects::JobState::kRunning);
    });
    if (!started.ok()) return Status::error(started.message());

    // The run's pictures, the job's result and its final state are one transaction: a full disk or
    // any other failure stores none of them, and the job is then marked failed with the reason.
    std::vector<int64_t> stored;
    projects::Status s = project->atomically([&]() -> projects::Status {
        for (size_t i = 0; i < r.recipes.size(); ++i) {
            const Recipe& rec = r.recipes[i];
            projects::GenerationRecord g;
            g.job_id = *job;
            g.model_id = *model_id;
            g.seed = rec.seed;
            g.prompt = rec.prompt;
            g.params = params;
            g.params["image_index"] = rec.image_index;
            g.params["grid"] = {rec.grid_h, rec.grid_w};
            g.tokens = rec.tokens;
            nlohmann::json top = nlohmann::json::array();
            for (const auto& t : r.token_events[i]) {
                g.stats.push_back({t.probability, t.entropy, t.guidance_kl});
                top.push_back({{"ids", t.top_ids}, {"probs", t.top_probs}, {"rank", t.rank}});
            }
            g.top_k = top;
            g.state = projects::GenerationState::kComplete;
            projects::MediaPayload media;
            media.kind = "image/png";
            media.extension = "png";
            std::ifstream in(r.written[i], std::ios::binary);
            media.bytes.assign(std::istreambuf_iterator<char>(in), {});
            if (media.bytes.empty()) return projects::Status::error("cannot read back " + r.written[i]);
            media.meta = {{"source", fs::absolute(r.written[i]).string()}};
            auto id = project->addGeneration(g, &media);
            if (!id) return projects::Status::error("storing generation: " + id.error());
            stored.push_back(*id);
        }
        if (auto st = project->setJobResult(*job, {{"generations", stored}}); !st.ok()) return st;
        return project->updateJobState(*job, r.result.cancelled ? projects::JobState::kCancelled
                                                                : projects::JobState::kDone);
    });
    if (!s.ok()) {
        // Best effort: on a full disk this small update may fail too; the job is then a dead
        // 'running' one, which the next open marks interrupted.
        (void)project->updateJobState(*job, projects::JobState::kFailed, s.message());
        return Status::error(s.message() + " (nothing from this run was stored in " + dir + ")");
    }
    if (ids) *ids = stored;
    return {};
}

} // namespace tessera::cli
