// History: the HistoryPanel shows the generations of the open project (or session) as a tree of
// thumbnails (branches under their parents), with full-text search and filters, and actions to
// restore settings, re-run and delete (undoable), and an editor for the selected entry's rating,
// notes and tags (each applied edit undoable). HistoryController connects it to a HistorySource,
// records finished generations, and opens a stored one in the mosaic for replay.
//
// Thread affinity: GUI thread only; the source does its own I/O off this thread.
#pragma once

#include "tessera/widgets/history_source.h"

#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QWidget>
#include <map>
#include <memory>
#include <vector>

class QComboBox;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTreeWidget;
class QUndoStack;

namespace tessera::widgets {

class StudioController;

class HistoryPanel : public QWidget {
    Q_OBJECT
public:
    explicit HistoryPanel(QWidget* parent = nullptr);
    void setEntries(const std::vector<HistoryEntry>& entries, bool as_tree);
    void setModels(const QStringList& models);
    HistoryQuery query() const;
    int64_t selected() const;
    void select(int64_t id);
    QTreeWidget* tree() const { return tree_; }
    QLineEdit* search() const { return search_; }
    QComboBox* stateFilter() const { return state_; }
    // Batch / shard filter: hidden until an entry from a batch (tessera-cli batch, project merge)
    // has been shown; then it offers every batch and shard seen so far.
    QComboBox* batchFilter() const { return batch_; }
    int count() const; // entries shown, at every depth
    // Rating, notes and tags of a shown entry as last queried (empty when not shown).
    HistoryNotes notesOf(int64_t id) const;
    QSpinBox* ratingEditor() const { return rating_; }
    QLineEdit* notesEditor() const { return notes_; }
    QLineEdit* tagsEditor() const { return tags_; }
    QPushButton* applyNotesButton() const { return apply_; }

signals:
    void queryChanged();
    void opened(qint64 id);
    void restoreRequested(qint64 id);
    void rerunRequested(qint64 id);
    void deleteRequested(qint64 id);
    void annotateRequested(qint64 id, const tessera::widgets::HistoryNotes& notes);

private:
    QLineEdit* search_;
    QComboBox* model_;
    QComboBox* state_;
    QComboBox* batch_;
    QTreeWidget* tree_;
    QPushButton* restore_;
    QPushButton* rerun_;
    QPushButton* delete_;
    QSpinBox* rating_;
    QLineEdit* notes_;
    QLineEdit* tags_;
    QPushButton* apply_;
    std::map<int64_t, HistoryNotes> shown_notes_;
    int64_t editor_id_ = -1; // what the editor was last filled from
    HistoryNotes editor_notes_;
    void fillEditor();
    void offerBatches(const std::vector<HistoryEntry>& entries);
};

class HistoryController : public QObject {
    Q_OBJECT
public:
    HistoryController(StudioController* studio, HistoryPanel* panel, QUndoStack* undo,
                      QObject* parent = nullptr);
    // Takes the source (the controller owns it); re-queries at once.
    void setSource(HistorySource* source);
    HistorySource* source() const { return source_; }
    void refresh();
    void remove(int64_t id); // undoable
    void open(int64_t id);   // loads and shows it in the mosaic
    void rerun(int64_t id);
    void restore(int64_t id);
    // Replaces rating, notes and tags of a stored generation; undoable. Does nothing when they
    // equal what the dock shows.
    void annotate(int64_t id, const HistoryNotes& notes);

signals:
    void settingsRestored(const tessera::widgets::GenerationSettings& settings);
    void refreshed(int entries);
    void message(const QString& text);

private:
    void withGeneration(int64_t id, std::function<void(const Generation&)> fn);
    StudioController* studio_;
    HistoryPanel* panel_;
    QUndoStack* undo_;
    QPointer<HistorySource> source_;
    QTimer debounce_;
    int generation_ = 0; // drops answers to superseded queries
};

} // namespace tessera::widgets
