#include "tessera/widgets/history_panel.h"

#include "tessera/widgets/studio_controller.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QUndoCommand>
#include <QUndoStack>
#include <QVBoxLayout>
#include <algorithm>
#include <map>

namespace tessera::widgets {

namespace {
constexpr int kIdRole = Qt::UserRole;

QIcon thumbnailIcon(const HistoryEntry& e) {
    if (!e.thumbnail.isNull()) return QIcon(QPixmap::fromImage(e.thumbnail));
    QPixmap p(64, 64);
    p.fill(QColor(60, 60, 66));
    return QIcon(p);
}
} // namespace

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
    search_ = new QLineEdit(this);
    search_->setObjectName("historySearch");
    search_->setPlaceholderText(tr("Search prompts…"));
    search_->setClearButtonEnabled(true);
    model_ = new QComboBox(this);
    model_->addItem(tr("All models"), QString());
    state_ = new QComboBox(this);
    state_->setObjectName("historyState");
    state_->addItem(tr("Any state"), QString());
    for (const char* s : {"finished", "failed", "cancelled"})
        state_->addItem(QString::fromLatin1(s), QString::fromLatin1(s));
    batch_ = new QComboBox(this);
    batch_->setObjectName("historyBatch");
    batch_->addItem(tr("Any batch"), QVariant());
    batch_->setVisible(false);
    tree_ = new QTreeWidget(this);
    tree_->setObjectName("historyTree");
    tree_->setColumnCount(2);
    tree_->setHeaderLabels({tr("Prompt"), tr("Tokens")});
    tree_->setIconSize(QSize(48, 48));
    tree_->header()->setStretchLastSection(false);
    tree_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    tree_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    tree_->setWordWrap(true);
    tree_->setIndentation(14);
    tree_->setContextMenuPolicy(Qt::CustomContextMenu);
    restore_ = new QPushButton(tr("Restore settings"), this);
    rerun_ = new QPushButton(tr("Re-run"), this);
    delete_ = new QPushButton(tr("Delete"), this);

    rating_ = new QSpinBox(this);
    rating_->setObjectName("historyRating");
    rating_->setRange(0, 5);
    rating_->setSpecialValueText(tr("unrated"));
    rating_->setSuffix(tr(" ★"));
    notes_ = new QLineEdit(this);
    notes_->setObjectName("historyNotes");
    notes_->setPlaceholderText(tr("Notes…"));
    tags_ = new QLineEdit(this);
    tags_->setObjectName("historyTags");
    tags_->setPlaceholderText(tr("tags, separated by commas"));
    apply_ = new QPushButton(tr("Apply"), this);
    apply_->setObjectName("historyApplyNotes");
    apply_->setToolTip(tr("Store rating, notes and tags with the selected generation (Edit → Undo reverts)"));

    auto* filters = new QHBoxLayout;
    filters->addWidget(model_, 1);
    filters->addWidget(state_, 1);
    filters->addWidget(batch_, 1);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(restore_);
    buttons->addWidget(rerun_);
    buttons->addWidget(delete_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(search_);
    layout->addLayout(filters);
    layout->addWidget(tree_, 1);
    layout->addLayout(buttons);
    auto* editor = new QFormLayout;
    auto* rating_row = new QHBoxLayout;
    rating_row->addWidget(rating_, 1);
    rating_row->addWidget(apply_);
    editor->addRow(tr("Rating:"), rating_row);
    editor->addRow(tr("Notes:"), notes_);
    editor->addRow(tr("Tags:"), tags_);
    layout->addLayout(editor);
    fillEditor();

    connect(search_, &QLineEdit::textChanged, this, &HistoryPanel::queryChanged);
    connect(model_, &QComboBox::currentIndexChanged, this, &HistoryPanel::queryChanged);
    connect(state_, &QComboBox::currentIndexChanged, this, &HistoryPanel::queryChanged);
    connect(batch_, &QComboBox::currentIndexChanged, this, &HistoryPanel::queryChanged);
    connect(tree_, &QTreeWidget::itemActivated, this,
            [this](QTreeWidgetItem* item) { Q_EMIT opened(item->data(0, kIdRole).toLongLong()); });
    connect(tree_, &QTreeWidget::itemClicked, this,
            [this](QTreeWidgetItem* item) { Q_EMIT opened(item->data(0, kIdRole).toLongLong()); });
    connect(tree_, &QTreeWidget::currentItemChanged, this, &HistoryPanel::fillEditor);
    const auto apply = [this] {
        if (!selected()) return;
        HistoryNotes n;
        n.rating = rating_->value();
        n.notes = notes_->text();
        n.tags = tags_->text().split(',', Qt::SkipEmptyParts);
        Q_EMIT annotateRequested(selected(), normalized(n));
    };
    connect(apply_, &QPushButton::clicked, this, apply);
    connect(notes_, &QLineEdit::returnPressed, this, apply);
    connect(tags_, &QLineEdit::returnPressed, this, apply);
    const auto withSelected = [this](auto signal) {
        return [this, signal] {
            if (selected()) Q_EMIT(this->*signal)(selected());
        };
    };
    connect(restore_, &QPushButton::clicked, this, withSelected(&HistoryPanel::restoreRequested));
    connect(rerun_, &QPushButton::clicked, this, withSelected(&HistoryPanel::rerunRequested));
    connect(delete_, &QPushButton::clicked, this, withSelected(&HistoryPanel::deleteRequested));
    connect(tree_, &QTreeWidget::customContextMenuRequested, this, [this, withSelected](const QPoint& at) {
        if (!selected()) return;
        QMenu menu(this);
        menu.addAction(tr("Restore settings"), this, withSelected(&HistoryPanel::restoreRequested));
        menu.addAction(tr("Re-run"), this, withSelected(&HistoryPanel::rerunRequested));
        menu.addAction(tr("Delete"), this, withSelected(&HistoryPanel::deleteRequested));
        menu.exec(tree_->viewport()->mapToGlobal(at));
    });
}

void HistoryPanel::offerBatches(const std::vector<HistoryEntry>& entries) {
    // Items are only added (a filtered query shows one batch, the others stay on offer); their data
    // is {batch, shard} with shard -1 for the whole batch.
    batch_->blockSignals(true);
    for (const HistoryEntry& e : entries) {
        if (e.batch.isEmpty()) continue;
        for (int shard : {-1, e.shard}) {
            const QVariantList key{e.batch, shard};
            if (batch_->findData(key) >= 0) continue;
            const QString label =
                shard < 0 ? tr("batch %1").arg(e.batch) : tr("batch %1 · shard %2").arg(e.batch).arg(shard);
            // Keep a batch's shards right after it, in order.
            int at = batch_->count();
            for (int i = 1; i < batch_->count(); ++i) {
                const QVariantList k = batch_->itemData(i).toList();
                if (k.value(0).toString() > e.batch ||
                    (k.value(0).toString() == e.batch && k.value(1).toInt() > shard)) {
                    at = i;
                    break;
                }
            }
            batch_->insertItem(at, label, key);
        }
    }
    batch_->setVisible(batch_->count() > 1);
    batch_->blockSignals(false);
}

void HistoryPanel::setEntries(const std::vector<HistoryEntry>& entries, bool as_tree) {
    offerBatches(entries);
    const int64_t keep = selected();
    shown_notes_.clear();
    for (const HistoryEntry& e : entries) shown_notes_[e.id] = e.annotations();
    tree_->clear();
    // A video's thumbnail is a strip of frames: room for it when the list holds one.
    const bool any_video = std::any_of(entries.begin(), entries.end(), [](const HistoryEntry& e) { return e.kind == "video"; });
    tree_->setIconSize(any_video ? QSize(192, 48) : QSize(48, 48));
    std::map<int64_t, QTreeWidgetItem*> items;
    for (const HistoryEntry& e : entries) {
        auto* item = new QTreeWidgetItem;
        QString prompt = e.settings.prompt.isEmpty() ? tr("(empty prompt)") : e.settings.prompt;
        QString text = QString("#%1  %2").arg(e.id).arg(prompt);
        if (e.parent_id) text += tr("\nbranch of #%1 at token %2").arg(e.parent_id).arg(e.branch_token + 1);
        if (e.state != "finished") text += QString("  [%1]").arg(e.state);
        if (e.kind == "video") text += tr("\nvideo, %1 frames").arg(e.video_frames);
        if (e.kind == "scene") text += tr("\nscene reconstruction (opens in the Scene dock)");
        item->setText(0, text);
        item->setData(0, Qt::UserRole + 1, e.kind);
        item->setText(1, QString::number(e.token_count));
        item->setIcon(0, thumbnailIcon(e));
        item->setToolTip(0, tr("seed %1, CFG %2, temperature %3, %4")
                                .arg(e.settings.seed)
                                .arg(e.settings.cfg)
                                .arg(e.settings.temperature)
                                .arg(e.created.toString(Qt::ISODate)));
        item->setData(0, kIdRole, QVariant::fromValue<qint64>(e.id));
        items[e.id] = item;
    }
    // Entries come newest first; children hang under their parent when it is shown too.
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        QTreeWidgetItem* item = items[it->id];
        auto parent = items.find(it->parent_id);
        if (as_tree && it->parent_id && parent != items.end()) parent->second->addChild(item);
    }
    for (const HistoryEntry& e : entries) {
        QTreeWidgetItem* item = items[e.id];
        if (!item->parent()) tree_->addTopLevelItem(item);
    }
    tree_->expandAll();
    if (keep) select(keep);
    fillEditor();
}

HistoryNotes HistoryPanel::notesOf(int64_t id) const {
    auto it = shown_notes_.find(id);
    return it == shown_notes_.end() ? HistoryNotes{} : it->second;
}

void HistoryPanel::fillEditor() {
    const int64_t id = selected();
    const HistoryNotes n = notesOf(id);
    // A refresh (e.g. a generation finishing) must not wipe what is being typed: refill only when
    // the selection or its stored values changed.
    if (id == editor_id_ && n == editor_notes_) return;
    editor_id_ = id;
    editor_notes_ = n;
    for (QWidget* w : std::initializer_list<QWidget*>{rating_, notes_, tags_, apply_}) w->setEnabled(id != 0);
    rating_->setValue(n.rating);
    notes_->setText(n.notes);
    tags_->setText(n.tags.join(", "));
}

void HistoryPanel::setModels(const QStringList& models) {
    const QString keep = model_->currentData().toString();
    model_->blockSignals(true);
    while (model_->count() > 1) model_->removeItem(1);
    for (const QString& m : models) model_->addItem(m.section('/', -1), m);
    const int i = model_->findData(keep);
    model_->setCurrentIndex(i < 0 ? 0 : i);
    model_->blockSignals(false);
}

HistoryQuery HistoryPanel::query() const {
    HistoryQuery q;
    q.text = search_->text().trimmed();
    q.model = model_->currentData().toString();
    q.state = state_->currentData().toString();
    const QVariantList batch = batch_->currentData().toList();
    if (batch.size() == 2) {
        q.batch = batch[0].toString();
        q.shard = batch[1].toInt();
    }
    return q;
}

int64_t HistoryPanel::selected() const {
    auto* item = tree_->currentItem();
    return item ? item->data(0, kIdRole).toLongLong() : 0;
}

void HistoryPanel::select(int64_t id) {
    for (QTreeWidgetItemIterator it(tree_); *it; ++it) {
        if ((*it)->data(0, kIdRole).toLongLong() == id) {
            tree_->setCurrentItem(*it);
            return;
        }
    }
}

int HistoryPanel::count() const {
    int n = 0;
    for (QTreeWidgetItemIterator it(tree_); *it; ++it) ++n;
    return n;
}

// ---- controller -------------------------------------------------------------------------------------

namespace {
class HideCommand : public QUndoCommand {
public:
    HideCommand(QPointer<HistorySource> source, int64_t id, QString prompt)
        : QUndoCommand(QObject::tr("Delete generation #%1 (%2)").arg(id).arg(prompt.left(30))),
          source_(source), id_(id) {}
    void redo() override {
        if (source_) source_->setHidden(id_, true, [](bool, QString) {});
    }
    void undo() override {
        if (source_) source_->setHidden(id_, false, [](bool, QString) {});
    }

private:
    QPointer<HistorySource> source_;
    int64_t id_;
};

class AnnotateCommand : public QUndoCommand {
public:
    AnnotateCommand(QPointer<HistorySource> source, int64_t id, HistoryNotes before, HistoryNotes after)
        : QUndoCommand(QObject::tr("Edit rating, notes and tags of #%1").arg(id)), source_(source), id_(id),
          before_(std::move(before)), after_(std::move(after)) {}
    void redo() override {
        if (source_) source_->annotate(id_, after_, [](bool, QString) {});
    }
    void undo() override {
        if (source_) source_->annotate(id_, before_, [](bool, QString) {});
    }

private:
    QPointer<HistorySource> source_;
    int64_t id_;
    HistoryNotes before_, after_;
};
} // namespace

HistoryController::HistoryController(StudioController* studio, HistoryPanel* panel, QUndoStack* undo,
                                     QObject* parent)
    : QObject(parent), studio_(studio), panel_(panel), undo_(undo) {
    debounce_.setSingleShot(true);
    debounce_.setInterval(120); // typing a word runs one search, not one per key
    connect(&debounce_, &QTimer::timeout, this, &HistoryController::refresh);
    connect(panel_, &HistoryPanel::queryChanged, this, [this] { debounce_.start(); });
    connect(panel_, &HistoryPanel::opened, this, &HistoryController::open);
    connect(panel_, &HistoryPanel::restoreRequested, this, &HistoryController::restore);
    connect(panel_, &HistoryPanel::rerunRequested, this, &HistoryController::rerun);
    connect(panel_, &HistoryPanel::deleteRequested, this, &HistoryController::remove);
    connect(panel_, &HistoryPanel::annotateRequested, this, &HistoryController::annotate);
    connect(studio_, &StudioController::finished, this, [this](qint64 id) {
        const Generation* g = studio_->generation(id);
        if (!g || !source_ || g->stored_id) return;
        QPointer<StudioController> studio(studio_);
        source_->record(*g, [studio, id](int64_t stored) {
            if (studio && stored) studio->setStoredId(id, stored);
        });
    });
    setSource(new MemoryHistorySource(this));
}

void HistoryController::setSource(HistorySource* source) {
    if (source_ && source_ != source && source_->parent() == this) source_->deleteLater();
    source_ = source;
    if (!source) return;
    source->setParent(this);
    undo_->clear(); // commands refer to the old source
    connect(source, &HistorySource::changed, this, [this] {
        if (!debounce_.isActive()) debounce_.start();
    });
    connect(source, &HistorySource::failed, this, &HistoryController::message);
    refresh();
}

void HistoryController::refresh() {
    if (!source_) return;
    const HistoryQuery q = panel_->query();
    const int ticket = ++generation_;
    QPointer<HistoryController> self(this);
    source_->query(q, [self, ticket, q](std::vector<HistoryEntry> entries) {
        if (!self || ticket != self->generation_) return;
        self->panel_->setEntries(entries, q.text.isEmpty());
        Q_EMIT self->refreshed(static_cast<int>(entries.size()));
    });
}

void HistoryController::withGeneration(int64_t id, std::function<void(const Generation&)> fn) {
    if (const Generation* g = studio_->generation(studio_->findStored(id))) return fn(*g);
    if (!source_) return;
    QPointer<HistoryController> self(this);
    source_->load(id, [self, fn, id](std::optional<Generation> g) {
        if (!self) return;
        if (!g) return Q_EMIT self->message(tr("Generation #%1 could not be read from the history").arg(id));
        fn(*g);
    });
}

void HistoryController::open(int64_t id) {
    if (const int64_t local = studio_->findStored(id)) return studio_->setCurrent(local);
    withGeneration(id, [this](const Generation& g) { studio_->setCurrent(studio_->adopt(g)); });
}

void HistoryController::restore(int64_t id) {
    withGeneration(id, [this](const Generation& g) {
        GenerationSettings s = g.settings;
        s.seed_locked = true; // restoring means "this exact recipe"
        Q_EMIT settingsRestored(s);
    });
}

void HistoryController::rerun(int64_t id) {
    withGeneration(id, [this](const Generation& g) {
        // Its prompt only names the input: a reconstruction runs again from Generate > Reconstruct scene.
        if (g.kind == "scene")
            return Q_EMIT message(tr("#%1 is a scene reconstruction: run it again from Generate > Reconstruct "
                                     "scene from image…").arg(g.stored_id));
        studio_->generate(g.settings);
    });
}

void HistoryController::remove(int64_t id) {
    if (!source_) return;
    QString prompt;
    if (const Generation* g = studio_->generation(studio_->findStored(id))) prompt = g->settings.prompt;
    undo_->push(new HideCommand(source_, id, prompt));
}

void HistoryController::annotate(int64_t id, const HistoryNotes& notes) {
    if (!source_ || !id) return;
    const HistoryNotes before = panel_->notesOf(id), after = normalized(notes);
    if (before == after) return;
    undo_->push(new AnnotateCommand(source_, id, before, after));
}

} // namespace tessera::widgets
