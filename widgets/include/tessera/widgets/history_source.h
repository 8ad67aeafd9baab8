// HistorySource: where the History dock reads generations from and records them to. The studio's
// own session uses MemoryHistorySource; a project folder uses the adapter over tessera::projects
// (project_history_source.h). Sources may do their work on another thread: results come back through
// callbacks that always run on the GUI thread, and changed() tells the dock to query again.
//
// Deleting is soft (hidden, restorable) so that it can be undone. Rating, notes and tags are written
// whole (annotate()), so that undo can write back the earlier set.
#pragma once

#include "tessera/widgets/generation.h"

#include <QDateTime>
#include <QImage>
#include <QObject>
#include <QStringList>
#include <functional>
#include <optional>
#include <vector>

namespace tessera::widgets {

// What the user adds to a stored generation.
struct HistoryNotes {
    int rating = 0; // 0 = unrated, 1..5
    QString notes;
    QStringList tags;
    bool operator==(const HistoryNotes&) const = default;
};

struct HistoryEntry {
    int64_t id = 0;
    int64_t parent_id = 0;
    int branch_token = 0;
    GenerationSettings settings;
    QImage thumbnail;
    QDateTime created;
    QString state; // "finished", "failed", "cancelled", "pending"
    int token_count = 0;
    QStringList tags;
    int rating = 0;
    QString notes;
    // For generations `tessera-cli batch` stored: the batch name and shard index (-1 = none).
    QString batch;
    int shard = -1;
    // "image", "video" or "scene" (a reconstruction, its thumbnail the render); a video's thumbnail is its strip (a few frames side by side).
    QString kind = "image";
    int video_frames = 0;
    HistoryNotes annotations() const { return {rating, notes, tags}; }
};

struct HistoryQuery {
    QString text;  // full-text search over prompts (and tags/notes where the source has them)
    QString model; // empty = any
    QString state; // empty = any
    QString batch; // empty = any (sources without batches then return everything)
    int shard = -1; // with batch: -1 = every shard
    int limit = 200;
};

class HistorySource : public QObject {
    Q_OBJECT
public:
    using EntriesFn = std::function<void(std::vector<HistoryEntry>)>;
    using GenerationFn = std::function<void(std::optional<Generation>)>;
    using DoneFn = std::function<void(bool ok, QString message)>;

    using QObject::QObject;
    virtual QString title() const = 0;
    // Newest first; with a query text, best matches first.
    virtual void query(const HistoryQuery& query, EntriesFn done) = 0;
    // The full record (tokens, statistics, picture) for replay, restore and re-run.
    virtual void load(int64_t id, GenerationFn done) = 0;
    // Records a finished (or failed/cancelled) generation; may run later on another thread.
    // `done` receives its id in this source (0 on failure).
    using RecordedFn = std::function<void(int64_t stored_id)>;
    virtual void record(const Generation& generation, RecordedFn done) = 0;
    virtual void setHidden(int64_t id, bool hidden, DoneFn done) = 0;
    // Replaces rating, notes and tags (the rating is clamped to 0..5; empty and repeated tags dropped).
    virtual void annotate(int64_t id, const HistoryNotes& notes, DoneFn done) = 0;

signals:
    void changed();
    void failed(const QString& message);
};

// Keeps the session's generations in memory. Synchronous; callbacks run before returning.
class MemoryHistorySource : public HistorySource {
    Q_OBJECT
public:
    using HistorySource::HistorySource;
    QString title() const override { return tr("This session"); }
    void query(const HistoryQuery& query, EntriesFn done) override;
    void load(int64_t id, GenerationFn done) override;
    void record(const Generation& generation, RecordedFn done) override;
    void setHidden(int64_t id, bool hidden, DoneFn done) override;
    void annotate(int64_t id, const HistoryNotes& notes, DoneFn done) override;

private:
    struct Item {
        Generation generation;
        bool hidden = false;
        HistoryNotes notes;
    };
    std::vector<Item> items_;
};

HistoryEntry entryFor(const Generation& g);
// `notes` with the rating clamped to 0..5 and tags trimmed, without empty or repeated ones.
HistoryNotes normalized(HistoryNotes notes);

} // namespace tessera::widgets
