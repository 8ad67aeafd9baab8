#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tessera/engine/scheduler.h"

namespace tessera {

namespace {

// A job that waits on a gate so tests control when it finishes.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void release() {
        std::lock_guard<std::mutex> l(m);
        open = true;
        cv.notify_all();
    }
    void wait() {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return open; });
    }
};

} // namespace

TEST(Scheduler, RunsByPriorityThenSubmissionOrder) {
    Scheduler s(1);
    Gate gate;
    std::vector<int> order;
    std::mutex m;
    auto record = [&](int tag) {
        return [&, tag](JobContext&) {
            std::lock_guard<std::mutex> l(m);
            order.push_back(tag);
            return Status();
        };
    };
    s.submit({"block", "", 100}, [&](JobContext&) {
        gate.wait();
        return Status();
    });
    while (s.jobs().empty() || s.jobs().front().state != JobState::Running) std::this_thread::yield();
    s.submit({"a", "", 0}, record(1));
    s.submit({"b", "", 5}, record(2));
    int64_t c = s.submit({"c", "", 0}, record(3));
    s.submit({"d", "", 0}, record(4));
    ASSERT_TRUE(s.moveTo(c, 0)); // c jumps to the front, taking the priority of its new neighbour
    gate.release();
    s.waitIdle();
    EXPECT_EQ(order, (std::vector<int>{3, 2, 1, 4}));
}

TEST(Scheduler, CancelQueuedAndRunningJobs) {
    Scheduler s(1);
    std::atomic<int> steps{0};
    std::vector<JobState> states;
    std::mutex m;
    s.setSink([&](const Event& e) {
        if (auto* st = std::get_if<JobStateChanged>(&e)) {
            std::lock_guard<std::mutex> l(m);
            states.push_back(st->state);
        }
    });
    int64_t running = s.submit({"loop"}, [&](JobContext& ctx) {
        while (!ctx.cancelled()) {
            ++steps;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return Status();
    });
    int64_t queued = s.submit({"never"}, [&](JobContext&) {
        ADD_FAILURE() << "a cancelled queued job ran";
        return Status();
    });
    while (steps.load() < 3) std::this_thread::yield();
    EXPECT_TRUE(s.cancel(queued));
    EXPECT_TRUE(s.cancel(running));
    s.waitIdle();
    EXPECT_EQ(s.state(running), JobState::Cancelled);
    EXPECT_EQ(s.state(queued), JobState::Cancelled);
}

TEST(Scheduler, PauseHoldsQueuedJobsAndFailuresAreReported) {
    Scheduler s(1);
    s.pause();
    std::atomic<bool> ran{false};
    int64_t id = s.submit({"fails"}, [&](JobContext&) {
        ran = true;
        return Status::error("checkpoint is broken");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(s.state(id), JobState::Queued);
    s.resume();
    s.waitIdle();
    EXPECT_TRUE(ran.load());
    EXPECT_EQ(s.state(id), JobState::Failed);
    auto jobs = s.jobs();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].error, "checkpoint is broken");
}

TEST(Scheduler, ThrowingJobBecomesFailedNotACrash) {
    Scheduler s(1);
    int64_t id = s.submit({"throws"}, [](JobContext&) -> Status { throw std::runtime_error("out of memory"); });
    s.waitIdle();
    EXPECT_EQ(s.state(id), JobState::Failed);
}

} // namespace tessera
