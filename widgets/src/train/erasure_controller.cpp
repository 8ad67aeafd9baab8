// The erasure job: train, save the delta, compare original and erased generations, write the record.
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/erasure.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QMetaObject>
#include <QPointer>
#include <fstream>
#include <nlohmann/json.hpp>

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

Status writeRecord(const std::string& path, const ErasureRequest& req, const train::EarTrainer& t,
                   const std::vector<ErasureCompare>& compares) {
    nlohmann::ordered_json j;
    j["kind"] = "erasure";
    j["model"] = req.model_dir.toStdString();
    j["delta"] = req.out_path.toStdString();
    j["pairs"] = nlohmann::ordered_json::parse(train::earPairsJson(req.pairs));
    const auto& o = t.options();
    j["settings"] = {{"mode", train::earModeName(o.mode)},
                     {"layers", o.layers},
                     {"window", o.window},
                     {"threshold", o.threshold},
                     {"eta", o.eta},
                     {"lr", o.lr},
                     {"cfg", o.cfg},
                     {"seed", o.seed},
                     {"iterations", o.iterations}};
    j["losses"] = t.losses();
    auto windows = nlohmann::ordered_json::array();
    for (const auto& w : t.windows())
        windows.push_back({{"window", w.window}, {"loss_sum", w.loss_sum}, {"update", w.update}});
    j["windows"] = windows;
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
        QMetaObject::invokeMethod(
            qApp,
            [self, c = std::move(*compares)]() mutable {
                if (!self) return;
                self->compares_ = std::move(c);
                Q_EMIT self->comparesReady();
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

} // namespace tessera::widgets
