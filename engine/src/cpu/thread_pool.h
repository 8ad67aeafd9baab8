// A small fixed pool for data-parallel loops on the CPU backend.
//
// parallelFor splits [0, n) into contiguous chunks by index, so every element is computed by the same
// arithmetic whatever the thread count: results are bit-identical across thread counts.
//
// A decode step issues about a hundred short loops, so handing out work must cost microseconds, not a
// futex round trip each: idle workers spin for a short while (kSpinMicros) before they sleep, and the
// caller spins while it waits for the last chunk. Between jobs (no loop for longer than that) the
// workers sleep on a condition variable and cost nothing.
//
// Thread affinity: parallelFor is called by one thread at a time (the backend's driver thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tessera::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int threads() const { return static_cast<int>(workers_.size()) + 1; }
    // Calls fn(begin, end) on chunks of [0, n); returns when all are done. `grain` is the smallest
    // chunk worth a thread.
    void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

private:
    void workerLoop(int index);
    // Waits until generation_ differs from `seen` or stop_ is set; returns the generation seen.
    uint64_t awaitJob(uint64_t seen);

    static constexpr int kSpinMicros = 300;

    std::vector<std::thread> workers_;
    // The job: written by the caller before generation_ is bumped (release), read by workers after
    // they observe the new generation (acquire). Every worker acknowledges every job through
    // pending_, so the caller never rewrites these while a worker may still read them.
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    int job_chunks_ = 0;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    // Sleeping workers wait here; sleepers_ lets the caller skip the notify syscall when all spin.
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<int> sleepers_{0};
};

} // namespace tessera::cpu
