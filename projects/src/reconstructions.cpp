#include "tessera/projects/reconstruction_store.h"

#include <filesystem>

namespace tessera::projects {

namespace fs = std::filesystem;

Status ReconstructionWriter::open(const std::string& dir, const nlohmann::json& params) {
    auto p = fs::exists(fs::path(dir) / "project.db") ? Project::open(dir) : Project::create(dir);
    if (!p) return Status::error("project " + dir + ": " + p.error());
    project_ = std::make_unique<Project>(std::move(*p));
    params_ = params;
    auto job = project_->submitJob("reconstruct", params);
    if (!job) return job.status();
    stored_.job = *job;
    return project_->updateJobState(*job, JobState::kRunning);
}

void ReconstructionWriter::fail(const std::string& why) {
    if (project_) (void)project_->updateJobState(stored_.job, JobState::kFailed, why);
}

Result<StoredReconstruction> ReconstructionWriter::finish(const std::vector<uint8_t>& image_png,
                                                          const std::vector<uint8_t>& render_png,
                                                          const std::string& name, const std::string& program,
                                                          const std::string& scene_json,
                                                          nlohmann::json result) {
    if (!project_) return Status::error("internal error: the reconstruction's project is not open");
    auto asset = [&](const std::vector<uint8_t>& bytes, const char* role) -> Result<int64_t> {
        MediaPayload m;
        m.kind = "image/png";
        m.extension = "png";
        m.bytes = bytes;
        m.meta = {{"role", role}, {"job", stored_.job}};
        auto a = project_->addAsset(m);
        if (!a) return Status::error("storing the " + std::string(role) + ": " + a.error());
        return a->id;
    };
    auto img = asset(image_png, "reconstruct-input");
    if (!img) return img.status();
    auto ren = asset(render_png, "reconstruct-render");
    if (!ren) return ren.status();
    SceneRecord sc;
    sc.name = name;
    sc.program = program;
    try {
        sc.parsed = nlohmann::json::parse(scene_json);
    } catch (const nlohmann::json::exception& e) {
        return Status::error(std::string("the scene JSON to store does not parse: ") + e.what());
    }
    auto scene = project_->addScene(sc);
    if (!scene) return Status::error("storing the scene: " + scene.error());
    // The history lists generations: a "scene" generation whose picture is the render.
    GenerationRecord g;
    g.job_id = stored_.job;
    g.kind = "scene";
    g.prompt = "Scene reconstructed from " + name;
    g.seed = params_.contains("seed") && params_["seed"].is_number_unsigned()
                 ? params_["seed"].get<uint64_t>()
                 : 0;
    g.params = {{"scene_id", *scene}, {"image_asset_id", *img}, {"program", program}};
    if (params_.contains("model")) g.params["model"] = params_["model"];
    g.asset_id = *ren;
    auto gen = project_->addGeneration(g);
    if (!gen) return Status::error("storing the history entry: " + gen.error());
    stored_.image_asset = *img;
    stored_.render_asset = *ren;
    stored_.scene = *scene;
    stored_.generation = *gen;
    result["scene_id"] = *scene;
    result["image_asset_id"] = *img;
    result["render_asset_id"] = *ren;
    result["generation_id"] = *gen;
    if (auto s = project_->setJobResult(stored_.job, result); !s.ok()) return s;
    if (auto s = project_->updateJobState(stored_.job, JobState::kDone); !s.ok()) return s;
    return stored_;
}

} // namespace tessera::projects
