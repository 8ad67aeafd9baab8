#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <csignal>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

std::vector<int64_t> pendingOrder(Project& p) {
    std::vector<int64_t> out;
    auto jobs = p.listJobs({{JobState::kQueued, JobState::kPaused}});
    EXPECT_TRUE(jobs.ok()) << jobs.error();
    for (const auto& j : *jobs) out.push_back(j.id);
    return out;
}

int64_t submit(Project& p, const std::string& kind, int priority = 0) {
    auto id = p.submitJob(kind, {{"prompt", kind}}, priority);
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : 0;
}

} // namespace

TEST(Jobs, PriorityThenSubmissionOrder) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    int64_t a = submit(*p, "a"), b = submit(*p, "b", 5), c = submit(*p, "c"), d = submit(*p, "d", 5);
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{b, d, a, c}));
    auto next = p->claimNextJob();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ((*next)->id, b);
    EXPECT_EQ((*next)->state, JobState::kRunning);
    EXPECT_GT((*next)->started_at_ms, 0);
    EXPECT_EQ((*next)->params["prompt"], "b");
    ASSERT_TRUE(p->setJobPriority(c, 9).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{c, d, a}));
}

TEST(Jobs, ReorderMovesAndKeepsTheOrderGiven) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    int64_t a = submit(*p, "a"), b = submit(*p, "b"), c = submit(*p, "c"), d = submit(*p, "d");
    ASSERT_TRUE(p->reorderJob(d, 0).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{d, a, b, c}));
    ASSERT_TRUE(p->reorderJob(d, 2).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{a, b, d, c}));
    ASSERT_TRUE(p->reorderJob(a, 99).ok()); // clamped to the end
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{b, d, c, a}));
    // Across priorities: the moved job takes its neighbour's priority.
    int64_t urgent = submit(*p, "urgent", 10);
    EXPECT_EQ(pendingOrder(*p).front(), urgent);
    ASSERT_TRUE(p->reorderJob(urgent, 2).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{b, d, urgent, c, a}));
    ASSERT_TRUE(p->reorderJob(c, 0).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{c, b, d, urgent, a}));
    // Submitting after a reorder lands at the end of its priority.
    int64_t e = submit(*p, "e");
    EXPECT_EQ(pendingOrder(*p).back(), e);
    ASSERT_TRUE(p->updateJobState(b, JobState::kRunning).ok());
    EXPECT_FALSE(p->reorderJob(b, 0).ok()) << "a running job is not in the queue";
}

TEST(Jobs, PauseResumeCancel) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    int64_t a = submit(*p, "a"), b = submit(*p, "b"), c = submit(*p, "c");
    ASSERT_TRUE(p->pauseJob(a).ok());
    EXPECT_EQ(p->job(a)->state, JobState::kPaused);
    auto next = p->claimNextJob();
    EXPECT_EQ((*next)->id, b) << "a paused job is skipped";
    EXPECT_FALSE(p->resumeJob(b).ok()) << "b is running, not paused";
    ASSERT_TRUE(p->resumeJob(a).ok());
    EXPECT_EQ(p->job(a)->state, JobState::kQueued);

    auto was_running = p->cancelJob(b);
    ASSERT_TRUE(was_running.ok());
    EXPECT_TRUE(*was_running);
    EXPECT_EQ(p->job(b)->state, JobState::kCancelled);
    EXPECT_GT(p->job(b)->finished_at_ms, 0);
    EXPECT_FALSE(p->cancelJob(b).ok()) << "already cancelled";
    EXPECT_FALSE(p->updateJobState(b, JobState::kRunning).ok()) << "cancelled is final";

    ASSERT_TRUE(p->setQueuePaused(true).ok());
    EXPECT_TRUE(*p->queuePaused());
    EXPECT_FALSE(p->claimNextJob()->has_value()) << "a paused queue hands out nothing";
    ASSERT_TRUE(p->setQueuePaused(false).ok());
    auto n2 = p->claimNextJob();
    ASSERT_TRUE(n2->has_value());
    EXPECT_EQ((*n2)->id, a);
    ASSERT_TRUE(p->updateJobState(a, JobState::kFailed, "out of memory").ok());
    EXPECT_EQ(p->job(a)->error, "out of memory");
    ASSERT_TRUE(p->requeueJob(a).ok());
    EXPECT_EQ(pendingOrder(*p), (std::vector<int64_t>{c, a}));

    int64_t d = submit(*p, "d");
    ASSERT_TRUE(p->updateJobState(d, JobState::kRunning).ok());
    auto running = p->cancelAllJobs();
    ASSERT_TRUE(running.ok());
    EXPECT_EQ(*running, (std::vector<int64_t>{d}));
    EXPECT_TRUE(pendingOrder(*p).empty());
    for (int64_t id : {a, b, c, d}) EXPECT_EQ(p->job(id)->state, JobState::kCancelled);
    ASSERT_TRUE(p->setJobResult(d, {{"frames", 3}}).ok());
    EXPECT_EQ(p->job(d)->result["frames"], 3);
}

// A process that dies holding a running job: on reopen the job is interrupted (or requeued, by
// policy), never left running and never dropped; queued jobs stay queued in order.
TEST(Jobs, QueuedJobsSurviveARestart) {
    for (auto policy : {InterruptedJobPolicy::kMarkInterrupted, InterruptedJobPolicy::kRequeue}) {
        TempDir dir;
        std::vector<int64_t> queued;
        {
            auto p = Project::create(dir.path());
            ASSERT_TRUE(p.ok());
            for (int i = 0; i < 5; ++i)
                queued.push_back(submit(*p, "job" + std::to_string(i), i == 3 ? 1 : 0));
        }
        int pipe_fd[2];
        ASSERT_EQ(::pipe(pipe_fd), 0);
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            auto p = Project::open(dir.path());
            int64_t id = 0;
            if (p.ok())
                if (auto j = p->claimNextJob(); j.ok() && j->has_value()) id = (*j)->id;
            (void)!::write(pipe_fd[1], &id, sizeof(id));
            ::pause(); // killed here, holding the job
            ::_exit(0);
        }
        int64_t claimed = 0;
        ASSERT_EQ(::read(pipe_fd[0], &claimed, sizeof(claimed)), static_cast<ssize_t>(sizeof(claimed)));
        ::close(pipe_fd[0]);
        ::close(pipe_fd[1]);
        EXPECT_EQ(claimed, queued[3]) << "the priority-1 job runs first";
        {
            // While the runner lives, another process opening the project leaves its job alone.
            auto p = Project::open(dir.path());
            ASSERT_TRUE(p.ok());
            EXPECT_EQ(p->job(claimed)->state, JobState::kRunning);
        }
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);

        OpenOptions opts;
        opts.interrupted_jobs = policy;
        auto p = Project::open(dir.path(), opts);
        ASSERT_TRUE(p.ok()) << p.error();
        auto j = p->job(claimed);
        std::vector<int64_t> expected = {queued[0], queued[1], queued[2], queued[4]};
        if (policy == InterruptedJobPolicy::kMarkInterrupted) {
            EXPECT_EQ(j->state, JobState::kInterrupted);
            EXPECT_FALSE(j->error.empty());
            EXPECT_EQ(pendingOrder(*p), expected);
            ASSERT_TRUE(p->requeueJob(claimed).ok());
            expected.insert(expected.begin(), claimed); // last among priority 1, which is first
            EXPECT_EQ(pendingOrder(*p), expected);
        } else {
            EXPECT_EQ(j->state, JobState::kQueued);
            expected.insert(expected.begin(), claimed); // its old place: priority 1 first
            EXPECT_EQ(pendingOrder(*p), expected);
        }
    }
}
