// EAR erasures in a project: sections
//   1. storing a run (the CLI's and the studio's)
//   2. reading the finished ones back (the studio's list and reopened curve / compare view)
#include "tessera/projects/erasure_store.h"

#include "tessera/projects/run_store.h"

#include <algorithm>

namespace tessera::projects {

namespace fs = std::filesystem;

// ---- 1. storing --------------------------------------------------------------------------------------

Result<int64_t> storeErasure(const std::string& dir, const ErasureRun& run) {
    // Everything that can fail on input is read before the job exists: a job is never left running.
    auto delta_bytes = readFileBytes(run.delta_file);
    if (!delta_bytes) return Status::error("the delta: " + delta_bytes.error());
    for (const auto& c : run.compares)
        if (c.original_png.empty() || c.erased_png.empty())
            return Status::error("the compare run of seed " + std::to_string(c.seed) + " has no picture");
    auto project = openForWriting(dir);
    if (!project) return project.status();
    ModelRecord model = run.model;
    model.id = 0;
    auto model_id = project->addModel(model);
    if (!model_id) return Status::error("storing the model: " + model_id.error());
    auto job = startRunningJob(*project, "erase", run.params);
    if (!job) return job.status();
    MediaPayload delta;
    delta.kind = "tensor/delta";
    delta.extension = "safetensors";
    delta.bytes = std::move(*delta_bytes);
    delta.meta = {{"method", "ear"}, {"model_id", *model_id}, {"job", *job}};
    Status s = finishJobAtomically(*project, *job, dir, [&]() -> Status {
        auto asset = project->addAsset(delta);
        if (!asset) return Status::error("storing the delta: " + asset.error());
        nlohmann::json r = run.result.is_object() ? run.result : nlohmann::json::object();
        r["delta_asset"] = {{"id", asset->id}, {"path", asset->rel_path}, {"sha256", asset->sha256}};
        r["model_id"] = *model_id;
        if (!run.compares.empty()) {
            nlohmann::json runs = nlohmann::json::array();
            for (const auto& c : run.compares) {
                auto picture = [&](const std::vector<uint8_t>& png, const char* role) -> Result<int64_t> {
                    MediaPayload m;
                    m.kind = "image/png";
                    m.extension = "png";
                    m.bytes = png;
                    m.meta = {{"role", role}, {"job", *job}, {"seed", c.seed}};
                    auto a = project->addAsset(m);
                    if (!a)
                        return Status::error(std::string("storing the ") + role + " picture of seed " +
                                             std::to_string(c.seed) + ": " + a.error());
                    return a->id;
                };
                auto original = picture(c.original_png, "erase-original");
                if (!original) return original.status();
                auto erased = picture(c.erased_png, "erase-erased");
                if (!erased) return erased.status();
                runs.push_back({{"seed", c.seed},
                                {"grid", {c.grid_h, c.grid_w}},
                                {"original_tokens", c.original_tokens},
                                {"erased_tokens", c.erased_tokens},
                                {"original_asset", *original},
                                {"erased_asset", *erased}});
            }
            r["compare"] = {{"prompt", run.compare_prompt}, {"runs", runs}};
        }
        if (auto st = project->setJobResult(*job, r); !st.ok()) return st;
        return project->updateJobState(*job, JobState::kDone);
    });
    if (!s.ok()) return s;
    return *job;
}

// ---- 2. reading back ---------------------------------------------------------------------------------

namespace {

bool isErasure(const JobRecord& j) {
    return j.kind == "erase" && j.state == JobState::kDone && j.result.is_object();
}

ErasureSummary summaryOf(Project& project, const JobRecord& j) {
    ErasureSummary s;
    s.job = j.id;
    s.created_at_ms = j.created_at_ms;
    if (j.params.is_object()) {
        if (const auto m = j.params.find("model"); m != j.params.end() && m->is_string()) s.model = *m;
        if (const auto p = j.params.find("pairs"); p != j.params.end() && p->is_object())
            if (const auto c = p->find("concept"); c != p->end() && c->is_string()) s.concept_name = *c;
    }
    if (const auto l = j.result.find("losses"); l != j.result.end() && l->is_array())
        s.steps = static_cast<int64_t>(l->size());
    if (const auto d = j.result.find("delta_asset"); d != j.result.end() && d->is_object()) {
        s.delta_sha256 = d->value("sha256", std::string());
        if (const auto id = d->find("id"); id != d->end() && id->is_number_integer())
            if (auto a = project.asset(id->get<int64_t>()); a && a->state == AssetState::kOk)
                s.delta_file = project.assetPath(*a);
    }
    return s;
}

std::vector<int32_t> tokensOf(const nlohmann::json& j) {
    std::vector<int32_t> out;
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_number_integer()) out.push_back(v.get<int32_t>());
    return out;
}

fs::path pictureOf(Project& project, const nlohmann::json& id) {
    if (!id.is_number_integer()) return {};
    auto a = project.asset(id.get<int64_t>());
    if (!a || a->state != AssetState::kOk) return {};
    return project.assetPath(*a);
}

} // namespace

Result<std::vector<ErasureSummary>> listErasureJobs(Project& project) {
    JobFilter f;
    f.states = {JobState::kDone};
    f.limit = 1000000;
    auto jobs = project.listJobs(f);
    if (!jobs) return jobs.status();
    std::vector<ErasureSummary> out;
    try {
        for (const auto& j : *jobs)
            if (isErasure(j)) out.push_back(summaryOf(project, j));
    } catch (const nlohmann::json::exception& e) {
        return Status::error(std::string("an erasure job's record is malformed: ") + e.what());
    }
    std::sort(out.begin(), out.end(),
              [](const ErasureSummary& a, const ErasureSummary& b) { return a.job > b.job; });
    return out;
}

namespace {

Result<StoredErasure> loadUnchecked(Project& project, int64_t id) {
    auto job = project.job(id);
    if (!job) return job.status();
    const std::string name = "job " + std::to_string(id);
    if (job->kind != "erase") return Status::error(name + " is a '" + job->kind + "' job, not an erasure");
    if (!isErasure(*job))
        return Status::error(name + " is an erasure that did not finish (" + jobStateName(job->state) + ")");
    StoredErasure e;
    e.summary = summaryOf(project, *job);
    e.params = job->params;
    e.result = job->result;
    const auto losses = e.result.find("losses");
    if (losses == e.result.end() || !losses->is_array())
        return Status::error(name + ": its result has no 'losses' array");
    for (const auto& v : *losses) {
        if (!v.is_number()) return Status::error(name + ": 'losses' holds something that is not a number");
        e.losses.push_back(v.get<float>());
    }
    const nlohmann::json settings = e.params.is_object()
                                        ? e.params.value("settings", nlohmann::json::object())
                                        : nlohmann::json::object();
    e.iterations = settings.is_object() ? settings.value("iterations", int64_t{1}) : 1;
    const int64_t window = settings.is_object() ? settings.value("window", int64_t{0}) : 0;
    if (e.iterations <= 0 || e.losses.size() % static_cast<size_t>(e.iterations) != 0)
        return Status::error(name + ": " + std::to_string(e.losses.size()) + " losses do not split into " +
                             std::to_string(e.iterations) + " iterations");
    const int64_t per_iteration = static_cast<int64_t>(e.losses.size()) / e.iterations;
    const int64_t windows_per_iteration = window > 0 ? (per_iteration + window - 1) / window : 0;
    if (const auto ws = e.result.find("windows"); ws != e.result.end() && ws->is_array()) {
        for (const auto& w : *ws) {
            if (!w.is_object() || !w.contains("window") || !w["window"].is_number_integer())
                return Status::error(name + ": a window record has no index");
            ErasureWindowRecord r;
            r.window = w["window"].get<int64_t>();
            r.loss_sum = w.value("loss_sum", 0.0);
            r.update = w.value("update", false);
            if (w.contains("step") && w["step"].is_number_integer()) {
                r.step = w["step"].get<int64_t>();
            } else if (windows_per_iteration > 0) {
                // Windows restart with every rollout, and a rollout's last window may be shorter.
                const int64_t it = r.window / windows_per_iteration, k = r.window % windows_per_iteration;
                r.step = it * per_iteration + std::min((k + 1) * window, per_iteration);
            }
            if (r.step < 1 || r.step > static_cast<int64_t>(e.losses.size()))
                return Status::error(name + ": window " + std::to_string(r.window) +
                                     " closes outside the curve");
            e.windows.push_back(r);
        }
    }
    if (const auto c = e.result.find("compare"); c != e.result.end() && c->is_object()) {
        e.compare_prompt = c->value("prompt", std::string());
        if (const auto runs = c->find("runs"); runs != c->end() && runs->is_array())
            for (const auto& r : *runs) {
                if (!r.is_object()) continue;
                ErasureCompareRecord cr;
                cr.seed = r.value("seed", uint64_t{0});
                if (const auto g = r.find("grid"); g != r.end() && g->is_array() && g->size() == 2 &&
                                                   (*g)[0].is_number_integer() &&
                                                   (*g)[1].is_number_integer()) {
                    cr.grid_h = (*g)[0].get<int>();
                    cr.grid_w = (*g)[1].get<int>();
                }
                cr.original_tokens = tokensOf(r.value("original_tokens", nlohmann::json()));
                cr.erased_tokens = tokensOf(r.value("erased_tokens", nlohmann::json()));
                cr.original_png = pictureOf(project, r.value("original_asset", nlohmann::json()));
                cr.erased_png = pictureOf(project, r.value("erased_asset", nlohmann::json()));
                e.compares.push_back(std::move(cr));
            }
    }
    return e;
}

} // namespace

Result<StoredErasure> loadErasureJob(Project& project, int64_t id) {
    try {
        return loadUnchecked(project, id);
    } catch (const nlohmann::json::exception& e) {
        return Status::error("job " + std::to_string(id) + ": its record is malformed: " + e.what());
    }
}

} // namespace tessera::projects
