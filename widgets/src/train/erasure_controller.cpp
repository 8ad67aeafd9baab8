// The erasure job: train, save the delta, compare original and erased generations, write the record,
// store it in the project; and reading stored erasures back.
//
// Sections: worker helpers / the job / stored erasures.
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/recipe.h"
#include "tessera/projects/run_store.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/erasure.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QFileInfo>
#include <QMetaObject>
#include <QPointer>
#include <QThreadPool>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

namespace tessera::widgets {

namespace {

QImage toQImage(const ImageRgb8& img) {
    QImage out(img.width, img.height, QImage::Format_RGB888);
    for (int y = 0; y < img.height; ++y)
        std::memcpy(out.scanLine(y), img.rgb.data() + static_cast<size_t>(y) * img.width * 3,
                    static_cast<size_t>(img.width) * 3);
    return out;
}

// Runs on the worker: generates `prompt` for every seed with the original model and with `delta` applied.
Expected<std::vector<ErasureCompare>> compareRuns(const std::string& model, const std::string& delta,
                                                  const std::string& prompt,
                                                  const std::vector<uint64_t>& seeds, JobContext& ctx) {
    auto be = createBackend("cpu");
    if (!be) return be.status();
    auto original = JanusPipeline::load(model, **be);
    if (!original) return original.status();
    auto erased = JanusPipeline::load(model, **be);
    if (!erased) return erased.status();
    auto overlay = train::loadEarOverlay(delta, (*erased)->lmLayout(), **be);
    if (!overlay) return overlay.status();
    if (Status s = (*erased)->applyOverlay(*overlay); !s.ok()) return s;
    // The compare generations report nothing to the studio's generation views.
    JobContext quiet(ctx.id(), {}, nullptr);
    std::vector<ErasureCompare> out;
    for (uint64_t seed : seeds) {
        if (ctx.cancelled()) break;
        JanusRequest r;
        r.prompt = prompt;
        r.seed = seed;
        r.previews = false;
        auto a = (*original)->generate(r, quiet);
        if (!a) return a.status();
        auto b = (*erased)->generate(r, quiet);
        if (!b) return b.status();
        ErasureCompare c;
        c.seed = seed;
        c.original = toQImage(a->images.at(0));
        c.erased = toQImage(b->images.at(0));
        c.original_tokens = a->tokens.at(0);
        c.erased_tokens = b->tokens.at(0);
        c.grid_w = a->grid_w;
        c.grid_h = a->grid_h;
        out.push_back(std::move(c));
    }
    return out;
}

// The settings as `tessera-cli erase` records them.
nlohmann::json settingsJson(const train::EarOptions& o) {
    return {{"mode", train::earModeName(o.mode)},
            {"layers", o.layers},
            {"window", o.window},
            {"threshold", o.threshold},
            {"eta", o.eta},
            {"lr", o.lr},
            {"cfg", o.cfg},
            {"seed", o.seed},
            {"iterations", o.iterations}};
}

nlohmann::json windowsJson(const train::EarTrainer& t) {
    auto windows = nlohmann::json::array();
    for (const auto& w : t.windows())
        windows.push_back({{"window", w.window}, {"loss_sum", w.loss_sum}, {"update", w.update}});
    return windows;
}

std::vector<uint8_t> pngBytes(const QImage& img) {
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    if (!img.save(&buffer, "PNG")) return {};
    return std::vector<uint8_t>(png.begin(), png.end());
}

// Runs on the worker: the same rows `tessera-cli erase --project` stores, plus the compare pictures.
Expected<int64_t> storeInProject(const std::string& project, const ErasureRequest& req,
                                 const train::EarTrainer& t, const std::vector<ErasureCompare>& compares) {
    const std::string model = req.model_dir.toStdString(), delta = req.out_path.toStdString();
    auto hash = modelIdentityHash(model);
    if (!hash) return hash.status();
    projects::ErasureRun run;
    run.model = {0,     std::filesystem::absolute(model).string(), "janus",
                 *hash, projects::safetensorsBytes(model),         0};
    run.delta_file = delta;
    run.params = {{"model", model},
                  {"pairs", nlohmann::json::parse(train::earPairsJson(req.pairs))},
                  {"settings", settingsJson(t.options())},
                  {"studio", true}};
    run.result = {{"losses", t.losses()}, {"windows", windowsJson(t)}, {"delta", delta}};
    run.compare_prompt = req.compare_prompt.toStdString();
    for (const auto& c : compares) {
        projects::ErasureCompareImages img;
        img.seed = c.seed;
        img.original_png = pngBytes(c.original);
        img.erased_png = pngBytes(c.erased);
        img.original_tokens = c.original_tokens;
        img.erased_tokens = c.erased_tokens;
        img.grid_h = c.grid_h;
        img.grid_w = c.grid_w;
        run.compares.push_back(std::move(img));
    }
    auto job = projects::storeErasure(project, run);
    if (!job) return Status::error("storing the erasure in " + project + ": " + job.error());
    return *job;
}

Status writeRecord(const std::string& path, const ErasureRequest& req, const train::EarTrainer& t,
                   const std::vector<ErasureCompare>& compares) {
    nlohmann::ordered_json j;
    j["kind"] = "erasure";
    j["model"] = req.model_dir.toStdString();
    j["delta"] = req.out_path.toStdString();
    j["pairs"] = nlohmann::ordered_json::parse(train::earPairsJson(req.pairs));
    j["settings"] = settingsJson(t.options());
    j["losses"] = t.losses();
    j["windows"] = windowsJson(t);
    auto cmp = nlohmann::ordered_json::array();
    for (const auto& c : compares)
        cmp.push_back(
            {{"seed", c.seed}, {"original_tokens", c.original_tokens}, {"erased_tokens", c.erased_tokens}});
    j["compare"] = {{"prompt", req.compare_prompt.toStdString()}, {"runs", cmp}};
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << j.dump(2) << "\n";
        if (!out) return Status::error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        return Status::error("cannot move " + tmp + " to " + path);
    return Status();
}

} // namespace

ErasureController::ErasureController(EngineBridge* bridge, QObject* parent)
    : QObject(parent), bridge_(bridge) {
    connect(bridge_, &EngineBridge::trainingProgress, this, [this](const TrainingProgress& p) {
        if (p.job_id != job_) return;
        curve_.push_back(p);
        Q_EMIT progress(p);
    });
    connect(bridge_, &EngineBridge::jobStateChanged, this, &ErasureController::onState);
}

qint64 ErasureController::start(const ErasureRequest& request) {
    if (running_) cancel();
    request_ = request;
    if (request_.project.isEmpty()) request_.project = project_;
    opened_ = 0;
    if (request_.compare_prompt.isEmpty() && !request_.pairs.pairs.empty())
        request_.compare_prompt = QString::fromStdString(request_.pairs.pairs.front().unsafe);
    request_.options.checkpoint_path = request_.out_path.toStdString() + ".ckpt";
    curve_.clear();
    compares_.clear();
    running_ = true;
    const ErasureRequest req = request_;
    QPointer<ErasureController> self(this);
    auto fn = [req, self](JobContext& ctx) -> Status {
        auto be = createBackend("cpu");
        if (!be) return be.status();
        auto loaded =
            train::EarTrainer::load(req.model_dir.toStdString(), req.pairs.pairs, req.options, **be);
        if (!loaded) return loaded.status();
        train::EarTrainer& t = **loaded;
        auto resumed = t.resume();
        if (!resumed) return resumed.status();
        if (Status s = t.run(&ctx); !s.ok()) return s;
        if (ctx.cancelled()) return Status();
        const std::string delta = req.out_path.toStdString();
        if (Status s = t.saveDelta(delta); !s.ok()) return s;
        auto compares = compareRuns(req.model_dir.toStdString(), delta, req.compare_prompt.toStdString(),
                                    req.compare_seeds, ctx);
        if (!compares) return compares.status();
        if (Status s = writeRecord(delta + ".erasure.json", req, t, *compares); !s.ok()) return s;
        int64_t stored = 0;
        if (!req.project.isEmpty() && !ctx.cancelled()) { // a cancelled run is not a finished erasure
            auto job = storeInProject(req.project.toStdString(), req, t, *compares);
            if (!job) return job.status();
            stored = *job;
        }
        QMetaObject::invokeMethod(
            qApp,
            [self, c = std::move(*compares), stored, project = req.project]() mutable {
                if (!self) return;
                self->compares_ = std::move(c);
                Q_EMIT self->comparesReady();
                if (stored == 0) return;
                Q_EMIT self->stored(project, stored);
                if (project == self->project_) self->refreshStored();
            },
            Qt::QueuedConnection);
        return Status();
    };
    const QString label =
        tr("Erase %1")
            .arg(request_.pairs.concept_name.empty() ? QFileInfo(request_.out_path).baseName()
                                                     : QString::fromStdString(request_.pairs.concept_name));
    job_ = bridge_->scheduler().submit({"erase", label.toStdString(), 0, false, 0}, fn);
    Q_EMIT started(job_);
    return job_;
}

void ErasureController::cancel() {
    if (job_ != 0) bridge_->scheduler().cancel(job_);
}

void ErasureController::onState(const JobStateChanged& e) {
    if (e.job_id != job_ || !running_) return;
    switch (e.state) {
    case JobState::Finished:
        running_ = false;
        Q_EMIT finished(true, tr("delta written to %1").arg(request_.out_path));
        break;
    case JobState::Failed:
        running_ = false;
        Q_EMIT finished(false, QString::fromStdString(e.message));
        break;
    case JobState::Cancelled:
    case JobState::Interrupted:
        running_ = false;
        Q_EMIT finished(false, tr("cancelled; the checkpoint keeps the finished iterations"));
        break;
    default:
        break;
    }
}

// ---- stored erasures ---------------------------------------------------------------------------------

namespace {

// Opens an existing project, never creates one: a folder without project.db lists no erasure.
projects::Result<projects::Project> openForReading(const std::string& dir) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / "project.db"))
        return projects::Status::error("no project in " + dir);
    return projects::Project::open(dir);
}

// The stored curve as the live one arrived: one point per step, window decisions on their closing step.
std::vector<TrainingProgress> curveOf(const projects::StoredErasure& e) {
    std::map<int64_t, const projects::ErasureWindowRecord*> closing;
    for (const auto& w : e.windows) closing[w.step] = &w;
    const int64_t total = static_cast<int64_t>(e.losses.size());
    const int64_t per_iteration = e.iterations > 0 ? std::max<int64_t>(1, total / e.iterations) : total;
    std::vector<TrainingProgress> out;
    for (int64_t i = 0; i < total; ++i) {
        TrainingProgress p;
        p.step = i + 1;
        p.total = total;
        p.iteration = i / per_iteration + 1;
        p.iterations = e.iterations;
        p.loss = e.losses[static_cast<size_t>(i)];
        if (auto it = closing.find(p.step); it != closing.end()) {
            p.window_closed = true;
            p.window = it->second->window;
            p.window_loss = it->second->loss_sum;
            p.updated = it->second->update;
        }
        out.push_back(p);
    }
    return out;
}

} // namespace

void ErasureController::setProject(const QString& folder) {
    project_ = folder;
    stored_.clear();
    opened_ = 0;
    Q_EMIT storedListChanged();
    refreshStored();
}

void ErasureController::refreshStored() {
    const int64_t request = ++list_request_;
    QPointer<ErasureController> self(this);
    const std::string dir = project_.toStdString();
    if (dir.empty()) return;
    QThreadPool::globalInstance()->start([self, dir, request] {
        std::vector<projects::ErasureSummary> list;
        QString error;
        if (auto p = openForReading(dir)) {
            if (auto l = projects::listErasureJobs(*p))
                list = std::move(*l);
            else
                error = QString::fromStdString(l.error());
        }
        QMetaObject::invokeMethod(
            qApp,
            [self, request, list = std::move(list), error]() mutable {
                if (!self || request != self->list_request_) return; // superseded
                if (!error.isEmpty()) Q_EMIT self->message(tr("Stored erasures: %1").arg(error));
                self->stored_ = std::move(list);
                Q_EMIT self->storedListChanged();
            },
            Qt::QueuedConnection);
    });
}

void ErasureController::openStored(qint64 job) {
    if (running_) {
        Q_EMIT message(tr("An erasure is running: open the stored one when it has finished."));
        return;
    }
    const int64_t request = ++open_request_;
    QPointer<ErasureController> self(this);
    const std::string dir = project_.toStdString();
    QThreadPool::globalInstance()->start([self, dir, job, request] {
        std::optional<projects::StoredErasure> stored;
        std::vector<ErasureCompare> compares;
        QString error;
        auto p = openForReading(dir);
        if (!p) {
            error = QString::fromStdString(p.error());
        } else if (auto e = projects::loadErasureJob(*p, job); !e) {
            error = QString::fromStdString(e.error());
        } else {
            stored = std::move(*e);
            for (const auto& c : stored->compares) {
                ErasureCompare ec;
                ec.seed = c.seed;
                ec.original = QImage(QString::fromStdString(c.original_png.string()));
                ec.erased = QImage(QString::fromStdString(c.erased_png.string()));
                ec.original_tokens = c.original_tokens;
                ec.erased_tokens = c.erased_tokens;
                ec.grid_h = c.grid_h;
                ec.grid_w = c.grid_w;
                compares.push_back(std::move(ec));
            }
        }
        QMetaObject::invokeMethod(
            qApp,
            [self, request, job, stored = std::move(stored), compares = std::move(compares),
             error]() mutable {
                if (!self || request != self->open_request_) return;
                if (!stored)
                    return Q_EMIT self->message(tr("Cannot open erasure job %1: %2").arg(job).arg(error));
                if (self->running_) return; // a job started meanwhile: its curve wins
                ErasureRequest r;
                r.model_dir = QString::fromStdString(stored->summary.model);
                // The delta where the run wrote it while it is still there, else the project's copy.
                const auto d = stored->result.find("delta");
                const QString written = d != stored->result.end() && d->is_string()
                                            ? QString::fromStdString(d->get<std::string>())
                                            : QString();
                r.out_path = !written.isEmpty() && QFileInfo::exists(written)
                                 ? written
                                 : QString::fromStdString(stored->summary.delta_file.string());
                r.compare_prompt = QString::fromStdString(stored->compare_prompt);
                r.project = self->project_;
                r.pairs.concept_name = stored->summary.concept_name;
                self->request_ = r;
                self->curve_ = curveOf(*stored);
                self->compares_ = std::move(compares);
                self->opened_ = job;
                Q_EMIT self->storedOpened(job);
            },
            Qt::QueuedConnection);
    });
}

} // namespace tessera::widgets
