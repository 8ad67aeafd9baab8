// EngineBridge: owns the engine's Scheduler and hands its events to the GUI thread.
//
// The scheduler's sink runs on worker threads; it only appends to a locked inbox and, when the inbox
// was empty, posts one queued drain to the GUI thread. The drain re-emits events as Qt signals and
// stops after a small time budget (re-posting itself), so a flood of tokens never stalls the event
// loop. Nothing on the GUI thread ever waits on a job.
//
// Thread affinity: construct, use and destroy on the GUI thread. scheduler() may be used from any
// thread (the Scheduler is thread-safe).
#pragma once

#include "tessera/engine/events.h"
#include "tessera/engine/scheduler.h"

#include <QMetaType>
#include <QObject>
#include <deque>
#include <memory>
#include <mutex>

Q_DECLARE_METATYPE(tessera::TokenSampled)
Q_DECLARE_METATYPE(tessera::PreviewReady)
Q_DECLARE_METATYPE(tessera::StepTiming)
Q_DECLARE_METATYPE(tessera::JobStateChanged)
Q_DECLARE_METATYPE(tessera::TrainingProgress)

namespace tessera::widgets {

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(int cpu_workers = 1, QObject* parent = nullptr);
    // Cancels running jobs and joins the workers before the object goes away, so no sink call can
    // race with destruction.
    ~EngineBridge() override;

    Scheduler& scheduler() { return *scheduler_; }
    // Longest time one drain may spend emitting before it yields back to the event loop.
    static constexpr int kDrainBudgetMs = 8;

signals:
    void tokenSampled(const tessera::TokenSampled& event);
    void previewReady(const tessera::PreviewReady& event);
    void stepTiming(const tessera::StepTiming& event);
    void jobStateChanged(const tessera::JobStateChanged& event);
    void trainingProgress(const tessera::TrainingProgress& event);

private:
    void post(const Event& event); // worker threads
    void drain();                  // GUI thread

    std::mutex mutex_;
    std::deque<Event> inbox_;
    bool drain_posted_ = false;
    std::unique_ptr<Scheduler> scheduler_;
};

} // namespace tessera::widgets
