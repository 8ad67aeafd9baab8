#include "tessera/widgets/history_source.h"
#include "tessera/widgets/video_strip.h"

#include <algorithm>

namespace tessera::widgets {

HistoryEntry entryFor(const Generation& g) {
    HistoryEntry e;
    e.id = g.id;
    e.parent_id = g.parent_id;
    e.branch_token = g.branch_token;
    e.settings = g.settings;
    e.thumbnail =
        g.image.isNull() ? QImage() : g.image.scaled(96, 96, Qt::KeepAspectRatio, Qt::FastTransformation);
    e.created = g.created;
    e.state = QString::fromLatin1(jobStateName(g.state));
    e.token_count = g.sampled();
    if (g.kind == "video") {
        e.kind = "video";
        if (g.video) {
            e.thumbnail = videoThumbnailStrip(g.video->frames);
            e.video_frames = static_cast<int>(g.video->frames.size());
            e.token_count = static_cast<int>(g.video->codes.size());
        }
    }
    return e;
}

HistoryNotes normalized(HistoryNotes n) {
    n.rating = std::clamp(n.rating, 0, 5);
    QStringList tags;
    for (const QString& t : n.tags) {
        const QString tag = t.trimmed();
        if (!tag.isEmpty() && !tags.contains(tag)) tags << tag;
    }
    n.tags = tags;
    return n;
}

void MemoryHistorySource::query(const HistoryQuery& q, EntriesFn done) {
    std::vector<HistoryEntry> out;
    const QStringList words = q.text.split(' ', Qt::SkipEmptyParts);
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
        if (it->hidden) continue;
        const Generation& g = it->generation;
        if (!q.model.isEmpty() && g.settings.model != q.model) continue;
        if (!q.state.isEmpty() && QString::fromLatin1(jobStateName(g.state)) != q.state) continue;
        if (!q.batch.isEmpty()) continue; // the session's own generations belong to no batch
        if (!std::all_of(words.begin(), words.end(), [&](const QString& w) {
                return g.settings.prompt.contains(w, Qt::CaseInsensitive) ||
                       it->notes.notes.contains(w, Qt::CaseInsensitive) ||
                       it->notes.tags.contains(w, Qt::CaseInsensitive);
            }))
            continue;
        HistoryEntry e = entryFor(g);
        e.rating = it->notes.rating;
        e.notes = it->notes.notes;
        e.tags = it->notes.tags;
        out.push_back(std::move(e));
        if (static_cast<int>(out.size()) >= q.limit) break;
    }
    done(std::move(out));
}

void MemoryHistorySource::load(int64_t id, GenerationFn done) {
    for (const Item& i : items_)
        if (i.generation.id == id) return done(i.generation);
    done(std::nullopt);
}

void MemoryHistorySource::record(const Generation& g, RecordedFn done) {
    auto it =
        std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.generation.id == g.id; });
    if (it != items_.end())
        it->generation = g;
    else
        items_.push_back({g, false, {}});
    items_.back().generation.stored_id = g.id;
    done(g.id);
    Q_EMIT changed();
}

void MemoryHistorySource::setHidden(int64_t id, bool hidden, DoneFn done) {
    for (Item& i : items_) {
        if (i.generation.id == id) {
            i.hidden = hidden;
            Q_EMIT changed();
            return done(true, {});
        }
    }
    done(false, tr("Generation #%1 is not in this history").arg(id));
}

void MemoryHistorySource::annotate(int64_t id, const HistoryNotes& notes, DoneFn done) {
    for (Item& i : items_) {
        if (i.generation.id == id) {
            i.notes = normalized(notes);
            Q_EMIT changed();
            return done(true, {});
        }
    }
    done(false, tr("Generation #%1 is not in this history").arg(id));
}

} // namespace tessera::widgets
