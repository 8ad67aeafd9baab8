#include "tessera/widgets/video_controller.h"

#include "tessera/widgets/studio_controller.h"

#include <algorithm>

namespace tessera::widgets {

int VideoRecord::stepsDone(int latent) const {
    if (latent < 0 || latent >= static_cast<int>(kept.size())) return 0;
    return static_cast<int>(kept[static_cast<size_t>(latent)].size());
}

VideoController::VideoController(StudioController* studio, QObject* parent)
    : QObject(parent), studio_(studio),
      feed_(std::make_shared<VideoFeed>(this, [this](const VideoUpdate& u) { apply(u); })) {
    auto hand_feed = [this] {
        if (auto* v = dynamic_cast<VideoGenerator*>(studio_->generator().get())) v->setFeed(feed_);
    };
    connect(studio_, &StudioController::generatorChanged, this, hand_feed);
    hand_feed();
    connect(studio_->bridge(), &EngineBridge::tokenSampled, this, &VideoController::onToken);
    connect(studio_, &StudioController::generationAdded, this, &VideoController::adoptStored);
}

VideoController::~VideoController() {
    feed_->detach();
}

const VideoRecord* VideoController::record(int64_t id) const {
    auto it = records_.find(id);
    return it == records_.end() ? nullptr : &it->second;
}

void VideoController::apply(const VideoUpdate& u) {
    if (u.kind == VideoUpdate::Kind::Started) {
        VideoRecord r;
        r.id = u.job;
        r.lat_h = u.lat_h;
        r.lat_w = u.lat_w;
        r.latent_frames = u.latent_frames;
        r.given_frames = u.given_frames;
        r.steps = u.steps;
        r.fps = u.fps;
        r.decodes = u.decodes;
        const size_t t = static_cast<size_t>(std::max(0, u.latent_frames));
        r.sampled.assign(t, {});
        r.kept.assign(t, {});
        r.cells.assign(t, std::vector<TokenRecord>(static_cast<size_t>(r.cellCount())));
        r.committed_at.assign(t, std::vector<int>(static_cast<size_t>(r.cellCount()), 0));
        records_[u.job] = std::move(r);
        // Tokens the bridge delivered before this report (its drain may run first).
        if (auto early = early_tokens_.find(u.job); early != early_tokens_.end()) {
            std::vector<TokenSampled> tokens = std::move(early->second);
            early_tokens_.erase(early);
            for (const TokenSampled& e : tokens) onToken(e);
        }
        Q_EMIT videoStarted(u.job);
        return;
    }
    auto it = records_.find(u.job);
    if (it == records_.end()) return;
    VideoRecord& r = it->second;
    const size_t n = static_cast<size_t>(r.cellCount());
    switch (u.kind) {
    case VideoUpdate::Kind::Step: {
        if (u.frame < 0 || u.frame >= r.latent_frames || u.sampled.size() != n || u.grid.size() != n) return;
        const size_t f = static_cast<size_t>(u.frame);
        r.sampled[f].push_back(u.sampled);
        r.kept[f].push_back(u.grid);
        for (size_t i = 0; i < n; ++i)
            if (u.grid[i] >= 0 && r.committed_at[f][i] == 0) r.committed_at[f][i] = u.step;
        Q_EMIT stepArrived(u.job, u.frame, u.step);
        break;
    }
    case VideoUpdate::Kind::Frame: {
        if (u.frame < 0 || u.frame >= r.latent_frames || u.images.empty()) return;
        const size_t first = static_cast<size_t>(std::max(0, u.first_video_frame));
        if (r.frames.size() < first + u.images.size()) r.frames.resize(first + u.images.size());
        std::copy(u.images.begin(), u.images.end(), r.frames.begin() + static_cast<std::ptrdiff_t>(first));
        // A given (I2V) frame has no steps: its codes are its committed tokens.
        if (u.codes.size() == n)
            for (size_t i = 0; i < n; ++i)
                if (r.cells[static_cast<size_t>(u.frame)][i].token < 0)
                    r.cells[static_cast<size_t>(u.frame)][i].token = u.codes[i];
        Q_EMIT framesArrived(u.job, static_cast<int>(first), static_cast<int>(u.images.size()));
        break;
    }
    case VideoUpdate::Kind::Done: {
        r.done = true;
        r.cancelled = u.cancelled;
        auto clip = std::make_shared<VideoClip>();
        clip->frames = r.frames;
        clip->decoded = r.decodes;
        clip->fps = r.fps;
        clip->latent_frames = r.latent_frames;
        clip->lat_h = r.lat_h;
        clip->lat_w = r.lat_w;
        clip->codes = u.codes;
        clip->recipe = u.recipe;
        r.clip = clip;
        studio_->attachVideo(u.job, clip);
        Q_EMIT videoFinished(u.job);
        break;
    }
    case VideoUpdate::Kind::Started:
        break;
    }
}

void VideoController::onToken(const TokenSampled& e) {
    auto it = records_.find(e.job_id);
    if (it == records_.end()) {
        // Maybe a video job whose Started report is still queued; kept only for the job running now.
        const Generation* g = studio_->generation(e.job_id);
        if (g && g->kind == "video" && g->state == JobState::Running) early_tokens_[e.job_id].push_back(e);
        return;
    }
    VideoRecord& r = it->second;
    const int n = r.cellCount();
    if (n <= 0 || e.position < 0) return;
    // Positions count the generated frames' cells; an I2V given frame comes first in the clip.
    const int latent = r.given_frames + e.position / n;
    if (latent >= r.latent_frames) return;
    TokenRecord& c = r.cells[static_cast<size_t>(latent)][static_cast<size_t>(e.position % n)];
    c.token = e.token;
    c.probability = e.probability;
    c.entropy = e.entropy;
    c.guidance_kl = e.guidance_kl;
    c.rank = e.rank;
    c.top_ids = e.top_ids;
    c.top_probs = e.top_probs;
}

// A video the studio adopted from a history source: a record from its clip (no step history).
void VideoController::adoptStored(qint64 id) {
    const Generation* g = studio_->generation(id);
    if (!g || g->kind != "video" || !g->video || records_.count(id)) return;
    const VideoClip& clip = *g->video;
    VideoRecord r;
    r.id = id;
    r.lat_h = clip.lat_h;
    r.lat_w = clip.lat_w;
    r.latent_frames = clip.latent_frames;
    r.steps = 0;
    r.fps = clip.fps;
    r.decodes = clip.decoded;
    const size_t n = static_cast<size_t>(r.cellCount());
    r.sampled.assign(static_cast<size_t>(r.latent_frames), {});
    r.kept.assign(static_cast<size_t>(r.latent_frames), {});
    r.cells.assign(static_cast<size_t>(r.latent_frames), std::vector<TokenRecord>(n));
    r.committed_at.assign(static_cast<size_t>(r.latent_frames), std::vector<int>(n, 0));
    for (size_t f = 0; f < r.cells.size(); ++f)
        for (size_t i = 0; i < n && f * n + i < clip.codes.size(); ++i)
            r.cells[f][i].token = clip.codes[f * n + i];
    r.frames = clip.frames;
    r.done = true;
    r.clip = g->video;
    records_[id] = std::move(r);
    Q_EMIT videoStarted(id);
    Q_EMIT videoFinished(id);
}

} // namespace tessera::widgets
