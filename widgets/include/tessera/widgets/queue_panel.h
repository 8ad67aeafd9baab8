// Queue: the QueuePanel lists jobs (running, then queued in run order, then recent ones) and lets the
// user reorder queued jobs by dragging, change a job's priority, pause/resume the queue and cancel one
// job. QueueController keeps it in step with the scheduler.
//
// Thread affinity: GUI thread only. The scheduler calls it makes never wait on a running job.
#pragma once

#include "tessera/engine/scheduler.h"

#include <QObject>
#include <QTimer>
#include <QWidget>
#include <vector>

class QListWidget;
class QPushButton;
class QSpinBox;

namespace tessera::widgets {

class EngineBridge;

class QueuePanel : public QWidget {
    Q_OBJECT
public:
    explicit QueuePanel(QWidget* parent = nullptr);
    void setJobs(const std::vector<JobInfo>& jobs, bool paused);
    QListWidget* list() const { return list_; }
    QPushButton* pauseButton() const { return pause_; }
    QPushButton* cancelButton() const { return cancel_; }
    QSpinBox* priority() const { return priority_; }
    int64_t selectedJob() const;

signals:
    void moveRequested(qint64 id, int queued_index);
    void priorityRequested(qint64 id, int priority);
    void cancelRequested(qint64 id);
    void pauseRequested(bool paused);

private:
    void onRowsMoved();
    QListWidget* list_;
    QPushButton* pause_;
    QPushButton* cancel_;
    QSpinBox* priority_;
    bool filling_ = false;
};

class QueueController : public QObject {
    Q_OBJECT
public:
    QueueController(EngineBridge* bridge, QueuePanel* panel, QObject* parent = nullptr);
    void refresh();
    static constexpr int kRecentShown = 20; // finished jobs kept in the list

private:
    EngineBridge* bridge_;
    QueuePanel* panel_;
    QTimer coalesce_;
};

} // namespace tessera::widgets
