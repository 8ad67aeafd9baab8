// The job scheduler: runs jobs on worker threads (one GPU worker, N CPU workers), by priority then
// submission order, with pause/resume, cancel one, cancel all. Remembering jobs (records, history) is
// the project database's business; the app wires the two.
//
// Thread safety: every method may be called from any thread and never waits for a running job
// (except waitIdle/shutdown). Events are delivered on worker threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessera/engine/events.h"
#include "tessera/engine/status.h"

namespace tessera {

// What a running job sees: its id, a cancel flag to check between steps, and an event sink.
class JobContext {
public:
    JobContext(int64_t id, std::function<void(const Event&)> sink, const std::atomic<bool>* cancel)
        : id_(id), sink_(std::move(sink)), cancel_(cancel) {}
    int64_t id() const { return id_; }
    bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }
    // The flag itself (may be null), for work that polls it deeper than a step (a U-Net call).
    const std::atomic<bool>* cancelFlag() const { return cancel_; }
    void emit(const Event& e) const {
        if (sink_) sink_(e);
    }

private:
    int64_t id_;
    std::function<void(const Event&)> sink_;
    const std::atomic<bool>* cancel_;
};

using JobFn = std::function<Status(JobContext&)>;

struct JobSpec {
    std::string kind;   // "generate", "verify", …
    std::string label;  // shown in queues
    int priority = 0;   // higher runs first
    bool gpu = false;   // runs on the GPU worker when true
    int64_t id = 0;     // 0 = assign a new id; else reuse (a job restored from a project)
};

struct JobInfo {
    int64_t id = 0;
    JobSpec spec;
    JobState state = JobState::Queued;
    std::string error;
};

class Scheduler {
public:
    explicit Scheduler(int cpu_workers = 1, int gpu_workers = 0);
    ~Scheduler(); // cancels running jobs, drops queued ones, joins workers
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Receives every event of every job (worker threads), including JobStateChanged.
    void setSink(std::function<void(const Event&)> sink);

    int64_t submit(JobSpec spec, JobFn fn);
    bool cancel(int64_t id);  // queued: removed; running: flag set, job stops at its next step
    void cancelAll();
    bool setPriority(int64_t id, int priority);
    // Moves a queued job to `index` among the queued jobs of equal priority order.
    bool moveTo(int64_t id, size_t index);
    void pause();  // running jobs finish their current job; nothing new starts
    void resume();
    bool paused() const;

    std::vector<JobInfo> jobs() const; // queued (in run order), running, and finished
    JobState state(int64_t id) const;
    void waitIdle();

private:
    struct Job {
        JobInfo info;
        JobFn fn;
        std::atomic<bool> cancel{false};
    };
    void workerLoop(bool gpu);
    std::shared_ptr<Job> takeNext(bool gpu);
    void setState(Job& job, JobState state, const std::string& message = {});

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::vector<std::shared_ptr<Job>> queue_; // kept sorted: priority desc, then order
    std::map<int64_t, std::shared_ptr<Job>> all_;
    std::function<void(const Event&)> sink_;
    std::vector<std::thread> workers_;
    int64_t next_id_ = 1;
    int running_ = 0;
    bool paused_ = false;
    bool stop_ = false;
};

} // namespace tessera
