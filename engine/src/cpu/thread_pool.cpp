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

namespace {

constexpr uint64_t kChunkMask = (uint64_t(1) << 12) - 1;

uint64_t generationOf(uint64_t state) {
    return state >> 24;
}
int chunksOf(uint64_t state) {
    return static_cast<int>((state >> 12) & kChunkMask);
}
int nextOf(uint64_t state) {
    return static_cast<int>(state & kChunkMask);
}

void runChunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks, int index) {
    int64_t begin = n * index / chunks;
    int64_t end = n * (index + 1) / chunks;
    if (begin < end) fn(begin, end);
}

} // namespace

ThreadPool::ThreadPool(int threads) {
    const int count = std::clamp(threads, 1, static_cast<int>(kChunkMask));
    for (int i = 1; i < count; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    int chunks =
        static_cast<int>(std::min<int64_t>(activeThreads(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain))));
    if (chunks <= 1) {
        fn(0, n);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = generationOf(state_.load(std::memory_order_relaxed)) + 1;
    {
        // Under the mutex so a worker deciding to sleep either sees the new job or is woken.
        std::lock_guard<std::mutex> lock(mutex_);
        state_.store((gen << 24) | (static_cast<uint64_t>(chunks) << 12), std::memory_order_release);
    }
    if (sleepers_.load() > 0) wake_.notify_all();
    runChunks(gen);
    // Every chunk is claimed; wait for the ones other threads are still running.
    for (unsigned spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
        if (spins % 64 == 63)
            std::this_thread::yield();
        else
            TESSERA_CPU_RELAX();
    }
}

void ThreadPool::runChunks(uint64_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    while (generationOf(s) == gen && nextOf(s) < chunksOf(s)) {
        if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire))
            continue; // s now holds the current word
        runChunk(*job_, job_n_, chunksOf(s), nextOf(s));
        done_.fetch_add(1, std::memory_order_release);
        s = state_.load(std::memory_order_acquire);
    }
}

uint64_t ThreadPool::awaitJob(uint64_t seen) {
    auto spin_start = std::chrono::steady_clock::now();
    for (unsigned spins = 0;; ++spins) {
        uint64_t g = generationOf(state_.load(std::memory_order_acquire));
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
        wake_.wait(lock, [&] { return stop_.load() || generationOf(state_.load()) != seen; });
        --sleepers_;
        spin_start = std::chrono::steady_clock::now();
    }
}

void ThreadPool::workerLoop() {
    uint64_t seen = 0;
    for (;;) {
        seen = awaitJob(seen);
        if (stop_.load()) return;
        runChunks(seen);
    }
}

} // namespace tessera::cpu
