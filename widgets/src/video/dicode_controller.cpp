#include "tessera/widgets/dicode_controller.h"

#include "tessera/widgets/studio_controller.h"

#include <QJsonDocument>
#include <algorithm>

namespace tessera::widgets {

int DicodeRecord::clipFrameCount(int c) const {
    if (c < 0 || c >= static_cast<int>(clip_first_frame.size())) return 0;
    const int end = c + 1 < static_cast<int>(clip_first_frame.size())
                        ? clip_first_frame[static_cast<size_t>(c + 1)]
                        : static_cast<int>(frames.size());
    return std::max(0, end - clip_first_frame[static_cast<size_t>(c)]);
}

int DicodeRecord::clipOf(int frame) const {
    if (frame < 0 || frame >= static_cast<int>(frames.size())) return -1;
    for (int c = static_cast<int>(clip_first_frame.size()) - 1; c >= 0; --c)
        if (frame >= clip_first_frame[static_cast<size_t>(c)]) return c;
    return -1;
}

QString DicodeRecord::progressText() const {
    return QObject::tr("keyframe %1/%2 · clip %3/%4 · step %5/%6")
        .arg(keyframe)
        .arg(keyframes)
        .arg(clip)
        .arg(clips)
        .arg(step)
        .arg(steps);
}

DicodeController::DicodeController(StudioController* studio, QObject* parent)
    : QObject(parent), studio_(studio),
      feed_(std::make_shared<DicodeFeed>(this, [this](const DicodeUpdate& u) { apply(u); })) {
    auto hand_feed = [this] {
        if (auto* d = dynamic_cast<DicodeGenerator*>(studio_->generator().get())) d->setDicodeFeed(feed_);
    };
    connect(studio_, &StudioController::generatorChanged, this, hand_feed);
    hand_feed();
    connect(studio_, &StudioController::generationAdded, this, &DicodeController::adoptStored);
    connect(studio_, &StudioController::stateChanged, this, &DicodeController::onState);
}

// A job that failed sends no last report: its record ends here, with the error.
void DicodeController::onState(qint64 id) {
    const Generation* g = studio_->generation(id);
    auto it = records_.find(id);
    if (!g || it == records_.end() || it->second.done || g->state != JobState::Failed) return;
    it->second.done = true;
    it->second.error = g->error;
    Q_EMIT runFinished(id);
}

DicodeController::~DicodeController() {
    feed_->detach();
}

const DicodeRecord* DicodeController::record(int64_t id) const {
    auto it = records_.find(id);
    return it == records_.end() ? nullptr : &it->second;
}

void DicodeController::apply(const DicodeUpdate& u) {
    if (u.kind == DicodeUpdate::Kind::Started) {
        DicodeRecord r;
        r.id = u.job;
        r.keyframes = u.keyframes;
        r.clips = u.clips;
        r.steps = u.steps;
        r.fps = u.fps;
        records_[u.job] = std::move(r);
        Q_EMIT runStarted(u.job);
        onState(u.job); // the job's failure may have been delivered before this report
        return;
    }
    auto it = records_.find(u.job);
    if (it == records_.end()) return;
    DicodeRecord& r = it->second;
    if (r.done) return;
    r.last = u.kind;
    if (u.kind != DicodeUpdate::Kind::Done) { // the last progress stays what the run reached
        r.keyframe = u.keyframe;
        r.clip = u.clip;
        r.step = u.step;
    }
    switch (u.kind) {
    case DicodeUpdate::Kind::Keyframe:
        if (!u.picture.isNull()) r.strips.push_back(u.picture);
        Q_EMIT progressed(u.job);
        break;
    case DicodeUpdate::Kind::Step:
        if (!u.picture.isNull()) r.x0 = u.picture;
        Q_EMIT progressed(u.job);
        break;
    case DicodeUpdate::Kind::Clip: {
        const size_t first = static_cast<size_t>(std::max(0, u.first_frame));
        if (r.frames.size() < first + u.frames.size()) r.frames.resize(first + u.frames.size());
        std::copy(u.frames.begin(), u.frames.end(), r.frames.begin() + static_cast<std::ptrdiff_t>(first));
        r.clip_first_frame.push_back(static_cast<int>(first));
        r.clips_done = static_cast<int>(r.clip_first_frame.size());
        Q_EMIT progressed(u.job);
        Q_EMIT clipArrived(u.job, r.clips_done - 1);
        break;
    }
    case DicodeUpdate::Kind::Done: {
        r.done = true;
        r.cancelled = u.cancelled;
        r.fps = u.fps;
        if (!u.frames.empty() || r.frames.empty()) r.frames = u.frames;
        auto clip = std::make_shared<VideoClip>();
        clip->frames = r.frames;
        clip->decoded = true;
        clip->fps = r.fps;
        clip->codes = u.token_bits;
        clip->recipe = u.recipe;
        r.clip_record = clip;
        studio_->attachVideo(u.job, clip);
        Q_EMIT runFinished(u.job);
        break;
    }
    case DicodeUpdate::Kind::Started:
        break;
    }
}

// A DiCoDe video the studio adopted from a history source: its frames, split into clips by the
// recipe's clip count (no strips or previews: only the video is stored).
void DicodeController::adoptStored(qint64 id) {
    const Generation* g = studio_->generation(id);
    if (!g || g->kind != "video" || !g->video || records_.count(id)) return;
    const QJsonObject recipe = QJsonDocument::fromJson(g->video->recipe).object();
    if (recipe.value("method").toString() != "dicode") return;
    DicodeRecord r;
    r.id = id;
    r.keyframes = recipe.value("keyframes").toInt();
    r.clips = std::max(0, r.keyframes - 1);
    r.steps = recipe.value("ddim_steps").toInt();
    r.fps = g->video->fps > 0 ? g->video->fps : recipe.value("fps").toInt(kDicodeFps);
    r.frames = g->video->frames;
    const int done_clips = recipe.value("clips").toInt(r.clips);
    const int per = done_clips > 0 ? static_cast<int>(r.frames.size()) / done_clips : 0;
    for (int c = 0; c < done_clips && per > 0; ++c) r.clip_first_frame.push_back(c * per);
    r.clips_done = static_cast<int>(r.clip_first_frame.size());
    r.keyframe = r.keyframes;
    r.clip = r.clips_done;
    r.step = r.steps;
    r.done = true;
    r.cancelled = recipe.value("cancelled").toBool();
    r.clip_record = g->video;
    records_[id] = std::move(r);
    Q_EMIT runStarted(id);
    Q_EMIT runFinished(id);
}

} // namespace tessera::widgets
