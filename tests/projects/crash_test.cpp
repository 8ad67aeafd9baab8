// Durability under crashes: a writer process is killed (SIGKILL) at random moments while it writes
// generations, branches and media, at least 50 times. After every kill the project must open, pass
// the integrity check, and after the recovery scan have no row pointing at a missing file and no
// file without a row; committed rows are never lost and no job stays 'running'.
#include "media.h"
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <gtest/gtest.h>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// The child: writes until killed. Never returns.
[[noreturn]] void writerLoop(const fs::path& dir, uint32_t seed) {
    std::mt19937 rng(seed);
    auto p = Project::open(dir);
    if (!p.ok()) ::_exit(10);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        auto job = p->submitJob("generate", {{"seed", rng()}}, 0);
        if (!job.ok()) ::_exit(11);
        auto claimed = p->claimNextJob(); // an older job a killed writer left queued may come first
        if (!claimed.ok() || !claimed->has_value()) ::_exit(12);
        int64_t job_id = (*claimed)->id;
        GenerationRecord g;
        g.job_id = job_id;
        g.model_id = 1;
        g.seed = rng();
        g.prompt = "crash test " + std::to_string(g.seed);
        int n = 64 + static_cast<int>(rng() % 448);
        for (int i = 0; i < n; ++i) {
            g.tokens.push_back(static_cast<int32_t>(rng() % 16384));
            g.stats.push_back({0.5f, 1.0f, 0.0f});
        }
        g.tags = {"crash"};
        MediaPayload media;
        media.kind = "image/png";
        media.extension = "png";
        uint32_t content = rng();
        media.writer = [content](const ByteSink& sink) {
            std::vector<uint8_t> chunk(16384);
            for (int c = 0; c < 4; ++c) {
                for (size_t i = 0; i < chunk.size(); ++i)
                    chunk[i] = uint8_t((content >> (i % 4 * 8)) + i + c);
                if (auto s = sink(chunk.data(), chunk.size()); !s) return s;
            }
            return Status();
        };
        auto id = p->addGeneration(g, &media);
        if (!id.ok()) ::_exit(13);
        if (rng() % 2 == 0) {
            auto child = p->branch(*id, static_cast<int64_t>(rng() % n), BranchSpec{rng()});
            if (!child.ok()) ::_exit(14);
            auto gen = p->generation(*child);
            if (!gen.ok()) ::_exit(15);
            std::vector<int32_t> tokens = gen->tokens;
            tokens.push_back(7);
            MediaPayload m2;
            m2.kind = "image/png";
            m2.extension = "png";
            m2.bytes.assign(20000, uint8_t(rng()));
            m2.bytes[0] = uint8_t(rng());
            m2.bytes[1] = uint8_t(rng());
            if (!p->finishGeneration(*child, tokens, {}, &m2).ok()) ::_exit(16);
        }
        if (!p->updateJobState(job_id, JobState::kDone).ok()) ::_exit(17);
    }
    ::_exit(0);
}

int countRows(Project& p) {
    HistoryFilter f;
    f.limit = 1000000;
    auto h = p.history(f);
    return h.ok() ? static_cast<int>(h->size()) : -1;
}

} // namespace

TEST(Crash, KilledWriterAlwaysLeavesAProjectThatOpensClean) {
    TempDir dir;
    {
        auto p = Project::create(dir.path());
        ASSERT_TRUE(p.ok()) << p.error();
        ASSERT_EQ(*p->addModel({0, "/m/janus", "janus", "h", 1, 0}), 1);
    }
    const int kKills = 60;
    std::mt19937 rng(20261127); // fixed: the same kill moments on every run
    int previous_rows = 0, temp_removed = 0, orphans_removed = 0, interrupted = 0;
    for (int iter = 0; iter < kKills; ++iter) {
        // Mostly short lives (kills during open, the first writes); every tenth writer lives long enough to
        // commit many rows even on a loaded machine.
        int delay_us =
            iter % 10 == 9 ? 300000 + static_cast<int>(rng() % 700000) : static_cast<int>(rng() % 150000);
        uint32_t child_seed = rng();
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) writerLoop(dir.path(), child_seed);
        ::usleep(static_cast<useconds_t>(delay_us));
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status))
            << "iteration " << iter << ": the writer stopped on its own with code "
            << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << " (a write failed) before it was killed";

        auto p = Project::open(dir.path());
        ASSERT_TRUE(p.ok()) << "iteration " << iter << ": " << p.error();
        Status integrity = p->integrityCheck();
        ASSERT_TRUE(integrity.ok()) << "iteration " << iter << ": " << integrity.message();

        // No committed row names a file that is not there, even before recovery.
        auto assets = p->listAssets();
        ASSERT_TRUE(assets.ok());
        for (const auto& a : *assets)
            ASSERT_TRUE(fs::exists(p->assetPath(a)))
                << "iteration " << iter << ": row for missing " << a.rel_path;

        auto report = p->recover();
        ASSERT_TRUE(report.ok()) << report.error();
        EXPECT_EQ(report->assets_marked_missing, 0);
        temp_removed += report->temp_files_removed;
        orphans_removed += report->orphan_files_removed;

        // After recovery: every file has a row, every row its file with the recorded bytes.
        std::set<std::string> referenced;
        assets = p->listAssets();
        for (const auto& a : *assets) {
            referenced.insert(a.rel_path);
            ASSERT_EQ(a.state, AssetState::kOk);
            ASSERT_EQ(static_cast<int64_t>(fs::file_size(p->assetPath(a))), a.size_bytes);
            ASSERT_EQ(detail::sha256File(p->assetPath(a)), a.sha256) << a.rel_path;
        }
        for (const auto& e : fs::directory_iterator(dir.path() / "media")) {
            std::string rel = "media/" + e.path().filename().string();
            ASSERT_TRUE(referenced.count(rel)) << "iteration " << iter << ": orphan file " << rel;
        }
        // Jobs: none left running by the dead writer.
        auto running = p->listJobs({{JobState::kRunning}});
        ASSERT_TRUE(running.ok());
        EXPECT_TRUE(running->empty()) << "iteration " << iter;
        interrupted = static_cast<int>(p->listJobs({{JobState::kInterrupted}})->size());
        // Committed generations are never lost.
        int rows = countRows(*p);
        ASSERT_GE(rows, previous_rows) << "iteration " << iter;
        previous_rows = rows;
    }
    std::printf(
        "[ figures ] %d kills: %d generations committed, %d unfinished temp files and %d orphan files "
        "removed by recovery, %d interrupted jobs recorded\n",
        kKills, previous_rows, temp_removed, orphans_removed, interrupted);
    EXPECT_GT(previous_rows, 0)
        << "the writer never committed anything: the kills came too early to test much";
}
