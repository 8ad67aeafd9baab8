#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TESSERA_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TESSERA_CPU_RELAX() asm volatile("yield")
#else
#define TESSERA_CPU_RELAX() ((void)0)
#endif

namespace tessera::cpu {

ThreadPool::ThreadPool(int threads) {
    for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

static void runChunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks, int index) {
    int64_t begin = n * index / chunks;
    int64_t end = n * (index + 1) / chunks;
    if (begin < end) fn(begin, end);
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    int chunks =
        static_cast<int>(std::min<int64_t>(threads(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain))));
    if (chunks <= 1) {
        fn(0, n);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    job_chunks_ = chunks;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
        // Under the mutex so a worker deciding to sleep either sees the new generation or is woken.
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load() > 0) wake_.notify_all();
    runChunk(fn, n, chunks, 0);
    // The other chunks are about as long as ours: spin, yielding now and then so an oversubscribed
    // machine can still schedule the workers we wait for.
    for (unsigned spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
        if (spins % 64 == 63)
            std::this_thread::yield();
        else
            TESSERA_CPU_RELAX();
    }
}

uint64_t ThreadPool::awaitJob(uint64_t seen) {
    auto spin_start = std::chrono::steady_clock::now();
    for (unsigned spins = 0;; ++spins) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        if (g != seen || stop_.load(std::memory_order_relaxed)) return g;
        if (spins % 256 != 255) {
            TESSERA_CPU_RELAX();
            continue;
        }
        if (std::chrono::steady_clock::now() - spin_start < std::chrono::microseconds(kSpinMicros)) {
            std::this_thread::yield();
            continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        --sleepers_;
        spin_start = std::chrono::steady_clock::now();
    }
}

void ThreadPool::workerLoop(int index) {
    uint64_t seen = 0;
    for (;;) {
        seen = awaitJob(seen);
        if (stop_.load()) return;
        if (index < job_chunks_) runChunk(*job_, job_n_, job_chunks_, index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

} // namespace tessera::cpu
