// Concurrent use: two writer processes, two writer threads and two reader threads work on one project
// for 10 seconds. No operation may fail ("database is locked" or otherwise) and every row a writer
// was told is committed must be there at the end.
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <mutex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr double kSeconds = 10.0;

struct WriterOutcome {
    std::vector<int64_t> generation_ids;
    std::vector<std::string> errors;
};

// One writer: generations with media, tags, and a job through its whole life, until the deadline.
WriterOutcome writeFor(const fs::path& dir, int writer, std::chrono::steady_clock::time_point deadline) {
    WriterOutcome out;
    auto p = Project::open(dir);
    if (!p.ok()) {
        out.errors.push_back(p.error());
        return out;
    }
    for (int n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
        GenerationRecord g;
        g.prompt = "writer" + std::to_string(writer) + " item" + std::to_string(n);
        g.tokens = {writer, n};
        MediaPayload m;
        m.kind = "image/png";
        m.extension = "png";
        m.bytes.assign(512, uint8_t(n));
        std::string tag = g.prompt;
        m.bytes.insert(m.bytes.end(), tag.begin(), tag.end());
        auto id = p->addGeneration(g, &m);
        if (!id.ok()) {
            out.errors.push_back(id.error());
            continue;
        }
        out.generation_ids.push_back(*id);
        if (n % 3 == 0)
            if (auto s = p->addTag(*id, "w" + std::to_string(writer)); !s) out.errors.push_back(s.message());
        if (n % 4 == 0) {
            auto job = p->submitJob("generate", {{"writer", writer}}, n % 2);
            if (!job.ok()) {
                out.errors.push_back(job.error());
                continue;
            }
            auto next = p->claimNextJob();
            if (!next.ok())
                out.errors.push_back(next.error());
            else if (next->has_value())
                if (auto s = p->updateJobState((*next)->id, JobState::kDone); !s)
                    out.errors.push_back(s.message());
        }
    }
    return out;
}

} // namespace

TEST(Concurrency, WritersAndReadersNeverSeeALockedDatabase) {
    TempDir dir;
    {
        auto p = Project::create(dir.path());
        ASSERT_TRUE(p.ok()) << p.error();
    }
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                               std::chrono::duration<double>(kSeconds));

    // Two writer processes (as the CLI and the studio would be), reporting their ids through a pipe.
    struct Child {
        pid_t pid;
        int fd;
    };
    std::vector<Child> children;
    for (int w = 0; w < 2; ++w) {
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(fds[0]);
            WriterOutcome o = writeFor(dir.path(), w, deadline);
            int64_t counts[2] = {static_cast<int64_t>(o.generation_ids.size()),
                                 static_cast<int64_t>(o.errors.size())};
            (void)!::write(fds[1], counts, sizeof(counts));
            for (int64_t id : o.generation_ids) (void)!::write(fds[1], &id, sizeof(id));
            for (const auto& e : o.errors) (void)!::write(fds[1], (e + "\n").c_str(), e.size() + 1);
            ::_exit(0);
        }
        ::close(fds[1]);
        children.push_back({pid, fds[0]});
    }

    // Two writer threads and two reader threads in this process, one Project each.
    std::vector<WriterOutcome> thread_outcomes(2);
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w)
        threads.emplace_back([&, w] { thread_outcomes[w] = writeFor(dir.path(), 2 + w, deadline); });
    std::mutex mu;
    std::vector<std::string> read_errors;
    std::atomic<int64_t> reads{0};
    for (int r = 0; r < 2; ++r)
        threads.emplace_back([&] {
            auto p = Project::open(dir.path());
            if (!p.ok()) {
                std::lock_guard<std::mutex> lock(mu);
                read_errors.push_back(p.error());
                return;
            }
            while (std::chrono::steady_clock::now() < deadline) {
                std::vector<std::string> errs;
                if (auto s = p->search("writer1"); !s) errs.push_back(s.error());
                if (auto h = p->history(); !h) errs.push_back(h.error());
                if (auto j = p->listJobs(); !j) errs.push_back(j.error());
                if (auto a = p->listAssets(); !a) errs.push_back(a.error());
                reads += 4;
                if (!errs.empty()) {
                    std::lock_guard<std::mutex> lock(mu);
                    read_errors.insert(read_errors.end(), errs.begin(), errs.end());
                }
            }
        });
    for (auto& t : threads) t.join();
    auto joined = std::chrono::steady_clock::now();

    std::vector<WriterOutcome> outcomes = thread_outcomes;
    for (const auto& c : children) {
        WriterOutcome o;
        int64_t counts[2] = {0, 0};
        ASSERT_EQ(::read(c.fd, counts, sizeof(counts)), static_cast<ssize_t>(sizeof(counts)));
        o.generation_ids.resize(static_cast<size_t>(counts[0]));
        size_t want = o.generation_ids.size() * sizeof(int64_t), got = 0;
        auto* dst = reinterpret_cast<char*>(o.generation_ids.data());
        while (got < want) {
            ssize_t n = ::read(c.fd, dst + got, want - got);
            ASSERT_GT(n, 0);
            got += static_cast<size_t>(n);
        }
        std::string rest;
        char buf[4096];
        for (ssize_t n; (n = ::read(c.fd, buf, sizeof(buf))) > 0;) rest.append(buf, static_cast<size_t>(n));
        if (counts[1] > 0) o.errors.push_back(rest);
        ::close(c.fd);
        int status = 0;
        ::waitpid(c.pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        outcomes.push_back(std::move(o));
    }

    for (const auto& e : read_errors) ADD_FAILURE() << "reader: " << e;
    size_t written = 0;
    for (const auto& o : outcomes) {
        for (const auto& e : o.errors) ADD_FAILURE() << "writer: " << e;
        written += o.generation_ids.size();
    }

    // Every row reported committed is there, with its own prompt.
    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->integrityCheck().ok());
    HistoryFilter all;
    all.limit = 10000000;
    auto h = p->history(all);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->size(), written);
    const int writers[] = {2, 3, 0, 1}; // outcomes: threads first, then processes
    for (size_t w = 0; w < outcomes.size(); ++w) {
        EXPECT_GT(outcomes[w].generation_ids.size(), 0u) << "writer " << writers[w] << " never committed";
        for (size_t n = 0; n < outcomes[w].generation_ids.size(); n += 97) {
            auto g = p->generation(outcomes[w].generation_ids[n]);
            ASSERT_TRUE(g.ok()) << g.error();
            EXPECT_EQ(g->prompt, "writer" + std::to_string(writers[w]) + " item" + std::to_string(n));
        }
    }
    auto report = p->recover(true);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->orphan_files_removed + report->temp_files_removed + report->assets_marked_missing, 0)
        << "a clean run leaves nothing to recover";
    double overrun_s = std::chrono::duration<double>(joined - deadline).count();
    std::printf(
        "[ figures ] %.0f s: %zu generations committed by 4 writers, %lld reads; threads finished %.2f s "
        "after the deadline\n",
        kSeconds, written, static_cast<long long>(reads.load()), overrun_s);
}
