// Job scheduler: priority queue, CPU and GPU workers, pause/resume, cancellation.
#include "tessera/engine/scheduler.h"

#include <algorithm>

namespace tessera {

const char* jobStateName(JobState state) {
    switch (state) {
    case JobState::Queued: return "queued";
    case JobState::Running: return "running";
    case JobState::Paused: return "paused";
    case JobState::Finished: return "finished";
    case JobState::Failed: return "failed";
    case JobState::Cancelled: return "cancelled";
    case JobState::Interrupted: return "interrupted";
    }
    return "unknown";
}

Scheduler::Scheduler(int cpu_workers, int gpu_workers) {
    for (int i = 0; i < std::max(1, cpu_workers); ++i) workers_.emplace_back([this] { workerLoop(false); });
    for (int i = 0; i < gpu_workers; ++i) workers_.emplace_back([this] { workerLoop(true); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
        for (auto& [id, job] : all_) job->cancel = true;
        queue_.clear();
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void Scheduler::setSink(std::function<void(const Event&)> sink) {
    std::lock_guard<std::mutex> lock(mutex_);
    sink_ = std::move(sink);
}

// Called without the lock held: sinks may call back into the scheduler.
void Scheduler::setState(Job& job, JobState state, const std::string& message) {
    std::function<void(const Event&)> sink;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job.info.state = state;
        job.info.error = message;
        sink = sink_;
    }
    if (sink) sink(JobStateChanged{job.info.id, state, message});
}

int64_t Scheduler::submit(JobSpec spec, JobFn fn) {
    auto job = std::make_shared<Job>();
    std::function<void(const Event&)> sink;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (spec.id > 0) {
            next_id_ = std::max(next_id_, spec.id + 1);
        } else {
            spec.id = next_id_++;
        }
        job->info.id = spec.id;
        job->info.spec = spec;
        job->fn = std::move(fn);
        all_[job->info.id] = job;
        // Stable insert: after every queued job of equal or higher priority.
        auto pos = std::find_if(queue_.begin(), queue_.end(),
                                [&](const auto& q) { return q->info.spec.priority < spec.priority; });
        queue_.insert(pos, job);
        sink = sink_;
    }
    if (sink) sink(JobStateChanged{job->info.id, JobState::Queued, {}});
    wake_.notify_all();
    return job->info.id;
}

bool Scheduler::cancel(int64_t id) {
    std::shared_ptr<Job> removed;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = all_.find(id);
        if (it == all_.end()) return false;
        auto q = std::find(queue_.begin(), queue_.end(), it->second);
        if (q != queue_.end()) {
            removed = *q;
            queue_.erase(q);
        } else if (it->second->info.state == JobState::Running) {
            it->second->cancel = true;
            return true;
        } else {
            return false;
        }
    }
    setState(*removed, JobState::Cancelled);
    idle_.notify_all();
    return true;
}

void Scheduler::cancelAll() {
    std::vector<std::shared_ptr<Job>> removed;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        removed.swap(queue_);
        for (auto& [id, job] : all_)
            if (job->info.state == JobState::Running) job->cancel = true;
    }
    for (auto& j : removed) setState(*j, JobState::Cancelled);
    idle_.notify_all();
}

bool Scheduler::setPriority(int64_t id, int priority) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& j) { return j->info.id == id; });
    if (it == queue_.end()) return false;
    auto job = *it;
    queue_.erase(it);
    job->info.spec.priority = priority;
    auto pos = std::find_if(queue_.begin(), queue_.end(), [&](const auto& q) { return q->info.spec.priority < priority; });
    queue_.insert(pos, job);
    return true;
}

bool Scheduler::moveTo(int64_t id, size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& j) { return j->info.id == id; });
    if (it == queue_.end()) return false;
    auto job = *it;
    queue_.erase(it);
    index = std::min(index, queue_.size());
    // A moved job takes the priority of its new neighbourhood so the order stays consistent.
    if (index < queue_.size()) job->info.spec.priority = queue_[index]->info.spec.priority;
    else if (!queue_.empty()) job->info.spec.priority = queue_.back()->info.spec.priority;
    queue_.insert(queue_.begin() + static_cast<long>(index), job);
    return true;
}

void Scheduler::pause() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = true;
}

void Scheduler::resume() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        paused_ = false;
    }
    wake_.notify_all();
}

bool Scheduler::paused() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return paused_;
}

std::vector<JobInfo> Scheduler::jobs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<JobInfo> out;
    for (const auto& j : queue_) out.push_back(j->info);
    for (const auto& [id, j] : all_)
        if (j->info.state != JobState::Queued) out.push_back(j->info);
    return out;
}

JobState Scheduler::state(int64_t id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = all_.find(id);
    return it == all_.end() ? JobState::Failed : it->second->info.state;
}

void Scheduler::waitIdle() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

std::shared_ptr<Scheduler::Job> Scheduler::takeNext(bool gpu) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        // The GPU worker takes GPU jobs; CPU workers take the rest (and GPU jobs when no GPU worker runs
        // them is the caller's choice: submit with gpu=false).
        if ((*it)->info.spec.gpu == gpu) {
            auto job = *it;
            queue_.erase(it);
            return job;
        }
    }
    return nullptr;
}

void Scheduler::workerLoop(bool gpu) {
    for (;;) {
        std::shared_ptr<Job> job;
        std::function<void(const Event&)> sink;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] {
                if (stop_) return true;
                if (paused_) return false;
                return std::any_of(queue_.begin(), queue_.end(), [&](const auto& j) { return j->info.spec.gpu == gpu; });
            });
            if (stop_) return;
            job = takeNext(gpu);
            if (!job) continue;
            ++running_;
            job->info.state = JobState::Running;
            sink = sink_;
        }
        if (sink) sink(JobStateChanged{job->info.id, JobState::Running, {}});
        JobContext ctx(job->info.id, sink, &job->cancel);
        Status st;
        try {
            st = job->fn(ctx);
        } catch (const std::exception& e) {
            st = Status::error(std::string("job failed: ") + e.what());
        } catch (...) {
            st = Status::error("job failed with an unknown error");
        }
        if (job->cancel) setState(*job, JobState::Cancelled);
        else if (st.ok()) setState(*job, JobState::Finished);
        else setState(*job, JobState::Failed, st.message());
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --running_;
        }
        idle_.notify_all();
    }
}

} // namespace tessera
