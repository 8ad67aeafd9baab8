#include "tessera/widgets/studio_controller.h"

#include <QPointer>
#include <QThread>
#include <algorithm>

namespace tessera::widgets {

QImage toQImage(const ImageRgb8& image) {
    if (image.width <= 0 || image.height <= 0 ||
        image.rgb.size() < static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3)
        return {};
    QImage out(image.rgb.data(), image.width, image.height, image.width * 3, QImage::Format_RGB888);
    return out.copy(); // detach from the vector
}

StudioController::StudioController(EngineBridge* bridge, QObject* parent) : QObject(parent), bridge_(bridge) {
    connect(bridge_, &EngineBridge::tokenSampled, this, &StudioController::onToken);
    connect(bridge_, &EngineBridge::previewReady, this, &StudioController::onPreview);
    connect(bridge_, &EngineBridge::jobStateChanged, this, &StudioController::onState);
}

void StudioController::setGenerator(std::shared_ptr<Generator> generator) {
    generator_ = std::move(generator);
    Q_EMIT generatorChanged();
}

int64_t StudioController::submit(Generation g, GenerationRequest request, int priority) {
    if (!generator_) {
        Q_EMIT message(tr("No model is loaded: add one in the Models dock and press Load."));
        return 0;
    }
    const GeneratorInfo info = generator_->info();
    g.rows = info.rows;
    g.cols = info.cols;
    g.cells.assign(static_cast<size_t>(std::max(0, info.rows * info.cols)), {});
    g.others.assign(static_cast<size_t>(std::clamp(g.settings.images, 1, 64) - 1),
                    BatchImage{g.cells, {}, {}});
    g.created = QDateTime::currentDateTime();
    g.state = JobState::Queued;
    g.kind = info.video ? "video" : "image";
    // A model plus a delta draws with it: the record says so. A request that names its own delta (a
    // re-run of such a record) keeps it, and the generator applies that one.
    if (g.settings.overlay.isEmpty() && !info.overlay_path.isEmpty()) {
        g.settings.overlay = request.settings.overlay = info.overlay_path;
        g.settings.overlay_sha256 = request.settings.overlay_sha256 = info.overlay_sha256;
    }
    JobSpec spec;
    spec.kind = "generate";
    const QString prompt = g.settings.prompt.left(40);
    spec.label = (g.parent_id ? tr("branch of #%1: ").arg(g.parent_id) : QString()).toStdString() +
                 (prompt.isEmpty() ? tr("(empty prompt)").toStdString() : prompt.toStdString());
    spec.priority = priority;
    JobFn fn = generator_->makeJob(request);
    // The record exists before the job can report anything: submit() may run the job at once.
    // Ids come from the scheduler, so reserve by submitting and inserting under the same turn of the
    // GUI thread: events are delivered through the queued bridge, never before we return.
    const int64_t id = bridge_->scheduler().submit(spec, std::move(fn));
    g.id = id;
    generations_[id] = std::move(g);
    Q_EMIT generationAdded(id);
    setCurrent(id);
    return id;
}

int64_t StudioController::generate(const GenerationSettings& settings, int priority) {
    Generation g;
    g.settings = settings;
    return submit(std::move(g), GenerationRequest{settings, {}}, priority);
}

int64_t StudioController::branch(int64_t parent_id, int step, int32_t token, int image) {
    const Generation* parent = generation(parent_id);
    if (!parent || image < 0 || image >= parent->imageCount() || step < 0 ||
        step >= parent->sampledOf(image) || token < 0) {
        Q_EMIT message(tr("Cannot branch: that cell has not been sampled yet."));
        return 0;
    }
    Generation child;
    child.parent_id = parent_id;
    child.parent_stored_id = parent->stored_id;
    child.branch_token = step;
    child.settings = parent->settings;
    if (image > 0) child.settings.images = 1;
    GenerationRequest request{child.settings, parent->prefixOf(image, step)};
    request.forced.push_back(token);
    return submit(std::move(child), std::move(request), 1);
}

void StudioController::cancel(int64_t id) {
    bridge_->scheduler().cancel(id);
}

void StudioController::cancelCurrent() {
    if (current_) cancel(current_);
}

int64_t StudioController::adopt(Generation generation) {
    if (int64_t known = findStored(generation.stored_id); known && generation.stored_id) return known;
    const int64_t id = next_adopted_++;
    generation.id = id;
    generations_[id] = std::move(generation);
    Q_EMIT generationAdded(id);
    return id;
}

int64_t StudioController::findStored(int64_t stored_id) const {
    if (stored_id <= 0) return 0;
    for (const auto& [id, g] : generations_)
        if (g.stored_id == stored_id) return id;
    return 0;
}

void StudioController::setStoredId(int64_t id, int64_t stored_id) {
    auto it = generations_.find(id);
    if (it != generations_.end()) it->second.stored_id = stored_id;
}

const Generation* StudioController::generation(int64_t id) const {
    auto it = generations_.find(id);
    return it == generations_.end() ? nullptr : &it->second;
}

std::vector<int64_t> StudioController::ids() const {
    std::vector<int64_t> out;
    for (const auto& [id, g] : generations_) out.push_back(id);
    return out;
}

void StudioController::setCurrent(int64_t id) {
    if (id == current_ || !generations_.count(id)) return;
    current_ = id;
    Q_EMIT currentChanged(id);
}

void StudioController::decodeAsync(std::vector<int32_t> tokens, std::function<void(QImage)> done) {
    if (!generator_) return;
    auto gen = generator_;
    QPointer<StudioController> self(this);
    JobSpec spec;
    spec.kind = "decode";
    spec.label = "decode preview";
    spec.priority = 10; // short; ahead of queued generations
    // The bridge outlives every job (it joins the workers), so the hop goes through it; the
    // QPointer is only read on the GUI thread.
    EngineBridge* bridge = bridge_;
    bridge_->scheduler().submit(
        spec, [gen, tokens = std::move(tokens), done = std::move(done), self, bridge](JobContext&) {
            auto img = gen->decode(tokens);
            if (!img) return img.status();
            QImage q = toQImage(*img);
            QMetaObject::invokeMethod(
                bridge,
                [q, done, self] {
                    if (self) done(q);
                },
                Qt::QueuedConnection);
            return Status();
        });
}

void StudioController::onToken(const TokenSampled& e) {
    auto it = generations_.find(e.job_id);
    if (it == generations_.end() || e.image < 0 || e.image >= it->second.imageCount()) return;
    Generation& g = it->second;
    BatchImage* other = e.image > 0 ? &g.others[static_cast<size_t>(e.image - 1)] : nullptr;
    std::vector<TokenRecord>& cells = other ? other->cells : g.cells;
    if (e.position < 0 || e.position >= static_cast<int>(cells.size())) return;
    TokenRecord& c = cells[static_cast<size_t>(e.position)];
    const bool fresh = c.token < 0;
    c.token = e.token;
    c.probability = e.probability;
    c.entropy = e.entropy;
    c.guidance_kl = e.guidance_kl;
    c.rank = e.rank;
    c.step = e.step;
    c.accepted_draft = e.accepted_draft;
    c.top_ids = e.top_ids;
    c.top_probs = e.top_probs;
    if (fresh) (other ? other->decode_order : g.decode_order).push_back(e.position);
    if (e.image == 0) Q_EMIT tokenArrived(e.job_id, e.position);
    Q_EMIT batchTokenArrived(e.job_id, e.image, e.position);
}

void StudioController::onPreview(const PreviewReady& e) {
    auto it = generations_.find(e.job_id);
    if (it == generations_.end() || e.image < 0 || e.image >= it->second.imageCount() || !e.rgb) return;
    ImageRgb8 img{e.width, e.height, *e.rgb};
    QImage q = toQImage(img);
    if (q.isNull()) return;
    Generation& g = it->second;
    (e.image == 0 ? g.image : g.others[static_cast<size_t>(e.image - 1)].image) = std::move(q);
    if (e.image == 0) Q_EMIT imageChanged(e.job_id);
    Q_EMIT batchImageChanged(e.job_id, e.image);
}

void StudioController::onState(const JobStateChanged& e) {
    auto it = generations_.find(e.job_id);
    if (it == generations_.end()) {
        if (e.state == JobState::Failed) Q_EMIT message(QString::fromStdString(e.message));
        return;
    }
    Generation& g = it->second;
    g.state = e.state;
    g.error = QString::fromStdString(e.message);
    Q_EMIT stateChanged(e.job_id);
    if (e.state == JobState::Failed)
        Q_EMIT message(tr("Generation #%1 failed: %2").arg(e.job_id).arg(g.error));
    if (e.state == JobState::Finished && g.kind == "video" && !g.video) {
        finish_waiting_for_clip_[e.job_id] = true;
        return;
    }
    if (e.state == JobState::Finished || e.state == JobState::Failed || e.state == JobState::Cancelled)
        Q_EMIT finished(e.job_id);
}

void StudioController::attachVideo(int64_t id, std::shared_ptr<const VideoClip> clip) {
    auto it = generations_.find(id);
    if (it == generations_.end() || !clip) return;
    it->second.kind = "video";
    it->second.video = std::move(clip);
    Q_EMIT imageChanged(id);
    if (finish_waiting_for_clip_.erase(id)) Q_EMIT finished(id);
}

} // namespace tessera::widgets
