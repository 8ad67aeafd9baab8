#include "tessera/widgets/queue_panel.h"

#include "tessera/widgets/engine_bridge.h"

#include <QAbstractItemModel>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>

namespace tessera::widgets {

namespace {
constexpr int kIdRole = Qt::UserRole;
constexpr int kQueuedRole = Qt::UserRole + 1;
constexpr int kPriorityRole = Qt::UserRole + 2;
} // namespace

QueuePanel::QueuePanel(QWidget* parent) : QWidget(parent) {
    list_ = new QListWidget(this);
    list_->setObjectName("queueList");
    list_->setDragDropMode(QAbstractItemView::InternalMove);
    list_->setDefaultDropAction(Qt::MoveAction);
    list_->setSelectionMode(QAbstractItemView::SingleSelection);
    pause_ = new QPushButton(tr("Pause queue"), this);
    pause_->setCheckable(true);
    pause_->setToolTip(tr("The running job finishes; nothing new starts until you resume"));
    cancel_ = new QPushButton(tr("Cancel job"), this);
    priority_ = new QSpinBox(this);
    priority_->setRange(-100, 100);
    priority_->setToolTip(tr("Higher runs first"));
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Priority"), this));
    row->addWidget(priority_);
    row->addStretch(1);
    row->addWidget(cancel_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(list_, 1);
    layout->addLayout(row);
    layout->addWidget(pause_);

    connect(list_->model(), &QAbstractItemModel::rowsMoved, this, &QueuePanel::onRowsMoved);
    connect(pause_, &QPushButton::toggled, this, [this](bool on) {
        pause_->setText(on ? tr("Resume queue") : tr("Pause queue"));
        if (!filling_) Q_EMIT pauseRequested(on);
    });
    connect(cancel_, &QPushButton::clicked, this, [this] {
        if (selectedJob()) Q_EMIT cancelRequested(selectedJob());
    });
    connect(priority_, &QSpinBox::valueChanged, this, [this](int p) {
        auto* item = list_->currentItem();
        if (filling_ || !item || !item->data(kQueuedRole).toBool()) return;
        if (item->data(kPriorityRole).toInt() != p) Q_EMIT priorityRequested(selectedJob(), p);
    });
    connect(list_, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
        QSignalBlocker block(priority_);
        priority_->setEnabled(item && item->data(kQueuedRole).toBool());
        priority_->setValue(item ? item->data(kPriorityRole).toInt() : 0);
    });
}

int64_t QueuePanel::selectedJob() const {
    auto* item = list_->currentItem();
    return item ? item->data(kIdRole).toLongLong() : 0;
}

void QueuePanel::setJobs(const std::vector<JobInfo>& jobs, bool paused) {
    filling_ = true;
    const int64_t keep = selectedJob();
    {
        QSignalBlocker block(list_->model());
        list_->clear();
        for (const JobInfo& j : jobs) {
            const bool queued = j.state == JobState::Queued;
            auto* item =
                new QListWidgetItem(QString("#%1  %2  [%3%4]")
                                        .arg(j.id)
                                        .arg(QString::fromStdString(j.spec.label))
                                        .arg(QString::fromLatin1(jobStateName(j.state)))
                                        .arg(queued ? tr(", priority %1").arg(j.spec.priority) : QString()));
            item->setData(kIdRole, QVariant::fromValue<qint64>(j.id));
            item->setData(kQueuedRole, queued);
            item->setData(kPriorityRole, j.spec.priority);
            if (!j.error.empty()) item->setToolTip(QString::fromStdString(j.error));
            Qt::ItemFlags flags = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
            if (queued) flags |= Qt::ItemIsDragEnabled | Qt::ItemIsDropEnabled;
            item->setFlags(flags);
            list_->addItem(item);
            if (j.id == keep) list_->setCurrentItem(item);
        }
    }
    list_->viewport()->update();
    pause_->setChecked(paused);
    filling_ = false;
}

void QueuePanel::onRowsMoved() {
    if (filling_) return;
    auto* item = list_->currentItem();
    if (!item || !item->data(kQueuedRole).toBool()) return;
    // The scheduler's index counts queued jobs only.
    int index = 0;
    for (int r = 0; r < list_->count(); ++r) {
        if (list_->item(r) == item) break;
        if (list_->item(r)->data(kQueuedRole).toBool()) ++index;
    }
    Q_EMIT moveRequested(item->data(kIdRole).toLongLong(), index);
}

QueueController::QueueController(EngineBridge* bridge, QueuePanel* panel, QObject* parent)
    : QObject(parent), bridge_(bridge), panel_(panel) {
    coalesce_.setSingleShot(true);
    coalesce_.setInterval(30); // one refresh per burst of state changes
    connect(&coalesce_, &QTimer::timeout, this, &QueueController::refresh);
    connect(bridge_, &EngineBridge::jobStateChanged, this, [this] {
        if (!coalesce_.isActive()) coalesce_.start();
    });
    connect(panel_, &QueuePanel::moveRequested, this, [this](qint64 id, int index) {
        bridge_->scheduler().moveTo(id, static_cast<size_t>(std::max(0, index)));
        refresh();
    });
    connect(panel_, &QueuePanel::priorityRequested, this, [this](qint64 id, int p) {
        bridge_->scheduler().setPriority(id, p);
        refresh();
    });
    connect(panel_, &QueuePanel::cancelRequested, this,
            [this](qint64 id) { bridge_->scheduler().cancel(id); });
    connect(panel_, &QueuePanel::pauseRequested, this, [this](bool paused) {
        if (paused)
            bridge_->scheduler().pause();
        else
            bridge_->scheduler().resume();
        refresh();
    });
    refresh();
}

void QueueController::refresh() {
    std::vector<JobInfo> all = bridge_->scheduler().jobs();
    std::vector<JobInfo> shown;
    for (const auto& j : all)
        if (j.state == JobState::Running) shown.push_back(j);
    for (const auto& j : all)
        if (j.state == JobState::Queued) shown.push_back(j);
    std::vector<JobInfo> done;
    for (const auto& j : all)
        if (j.state != JobState::Queued && j.state != JobState::Running) done.push_back(j);
    std::sort(done.begin(), done.end(), [](const JobInfo& a, const JobInfo& b) { return a.id > b.id; });
    for (size_t i = 0; i < done.size() && i < static_cast<size_t>(kRecentShown); ++i)
        shown.push_back(done[i]);
    panel_->setJobs(shown, bridge_->scheduler().paused());
}

} // namespace tessera::widgets
