// A small fixed pool for data-parallel loops on the CPU backend.
//
// parallelFor splits [0, n) into contiguous chunks by index, so every element is computed by the same
// arithmetic whatever the thread count: results are bit-identical across thread counts.
//
// A decode step issues about a hundred short loops, so handing out work must cost microseconds, not a
// futex round trip each: idle workers spin for a short while (kSpinMicros) before they sleep, and
// chunks go to whichever thread is free first (the caller too), so on a busy machine the caller does
// not wait for a worker the OS has not scheduled. Which thread runs a chunk never changes its result.
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
    // How many threads (the caller included) a loop is split over from the next parallelFor on:
    // 1..threads(); 0 or more than threads() = all. The others sleep. Any thread may call it; results
    // do not change (chunks never change an element's arithmetic).
    void setActiveThreads(int n) { active_.store(n, std::memory_order_relaxed); }
    int activeThreads() const {
        const int a = active_.load(std::memory_order_relaxed);
        return a <= 0 || a > threads() ? threads() : a;
    }
    // Calls fn(begin, end) on chunks of [0, n); returns when all are done. `grain` is the smallest
    // chunk worth a thread.
    void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

private:
    void workerLoop();
    // Waits until the job generation differs from `seen` or stop_ is set; returns the generation.
    uint64_t awaitJob(uint64_t seen);
    // Claims and runs chunks of generation `gen` until none is left.
    void runChunks(uint64_t gen);

    static constexpr int kSpinMicros = 300;

    std::vector<std::thread> workers_;
    // One word names the job and hands out its chunks: [generation | chunk count | next chunk].
    // Whoever is free claims the next chunk with a compare-exchange, the caller included, so a worker
    // the OS has not scheduled yet never holds the caller up. job_ and job_n_ are written before the
    // word is published and read only after a successful claim: while a claimed chunk is unfinished
    // the caller is still inside parallelFor and cannot replace them.
    std::atomic<uint64_t> state_{0};
    std::atomic<int> done_{0};
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> active_{0};
    // Sleeping workers wait here; sleepers_ lets the caller skip the notify syscall when all spin.
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<int> sleepers_{0};
};

} // namespace tessera::cpu
