// `tessera-cli batch` and `project merge` end to end on the janus_tiny reference checkpoint: a shard
// killed with SIGKILL midway and run again stores every item exactly once; shards merge into one
// project whose history filters by batch and shard. The expectations come from the prompt file itself
// (which lines exist, which shard takes which line), not from the code under test.
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <chrono>
#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

fs::path cliPath() {
    return fs::path(TESSERA_BINARY_DIR) / "bin" / "tessera-cli";
}

pid_t spawn(std::vector<std::string> args) {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    std::vector<char*> argv;
    std::string cli = cliPath().string();
    argv.push_back(cli.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr)) ::_exit(126);
    ::execv(cli.c_str(), argv.data());
    ::_exit(127);
}

int waitExit(pid_t pid) {
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

fs::path writePrompts(const fs::path& dir, int n) {
    fs::create_directories(dir);
    fs::path file = dir / "prompts.jsonl";
    std::ofstream f(file);
    for (int i = 0; i < n; ++i) f << "{\"prompt\": \"item " << i << " of the batch\"}\n";
    return file;
}

std::vector<GenerationRecord> batchHistory(const fs::path& project, const std::string& batch,
                                           std::optional<int> shard = std::nullopt) {
    auto p = Project::open(project);
    EXPECT_TRUE(p.ok()) << p.error();
    if (!p) return {};
    HistoryFilter f;
    f.batch = batch;
    f.shard = shard;
    f.limit = 100000;
    auto h = p->history(f);
    EXPECT_TRUE(h.ok()) << h.error();
    return h.ok() ? *h : std::vector<GenerationRecord>{};
}

// Every line in `want` appears exactly once, with its own prompt, and has a media file on disk.
void expectEachLineOnce(const fs::path& project, const std::vector<GenerationRecord>& gens,
                        const std::set<int>& want) {
    auto p = Project::open(project);
    ASSERT_TRUE(p.ok()) << p.error();
    std::map<int, int> count;
    for (const auto& g : gens) {
        int line = g.params["batch"]["line"].get<int>();
        ++count[line];
        EXPECT_EQ(g.prompt, "item " + std::to_string(line) + " of the batch");
        ASSERT_TRUE(g.asset_id.has_value()) << "line " << line << " has no media";
        auto a = p->asset(*g.asset_id);
        ASSERT_TRUE(a.ok()) << a.error();
        EXPECT_TRUE(fs::file_size(p->assetPath(*a)) > 0) << "line " << line;
    }
    std::set<int> got;
    for (const auto& [line, n] : count) {
        EXPECT_EQ(n, 1) << "line " << line << " stored " << n << " times";
        got.insert(line);
    }
    EXPECT_EQ(got, want);
    EXPECT_TRUE(p->integrityCheck().ok()) << p->integrityCheck().message();
}

// I/N for --shard (built with += : GCC 12 warns falsely on a chain of to_string + "/" + to_string).
std::string shardArg(int shard, int shards) {
    std::string s = std::to_string(shard);
    s += '/';
    s += std::to_string(shards);
    return s;
}

std::set<int> range(int n, int shard = 0, int shards = 1) {
    std::set<int> out;
    for (int i = shard; i < n; i += shards) out.insert(i);
    return out;
}

} // namespace

TEST(Batch, AShardKilledMidwayAndRunAgainStoresEachItemOnce) {
    if (!fs::exists(cliPath())) GTEST_SKIP() << "tessera-cli not built at " << cliPath();
    TempDir dir;
    const int n = 600;
    fs::path prompts = writePrompts(dir.path(), n);
    fs::path project = dir.path() / "shard";
    std::vector<std::string> args = {"batch",     "--prompts",      prompts.string(),
                                     "--project", project.string(), "--threads",
                                     "1",         "--batch",        "kill"};
    pid_t pid = spawn(args);
    // Kill it once some, but not all, items are stored.
    int stored_at_kill = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!fs::exists(project / "project.db")) continue;
        stored_at_kill = static_cast<int>(batchHistory(project, "kill").size());
        if (stored_at_kill >= 20) break;
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st)) << "the shard finished before it could be killed; make the batch longer";
    const int after_kill = static_cast<int>(batchHistory(project, "kill").size());
    ASSERT_GE(after_kill, 20);
    ASSERT_LT(after_kill, n);

    EXPECT_EQ(waitExit(spawn(args)), 0);
    expectEachLineOnce(project, batchHistory(project, "kill"), range(n));
    // A third run finds everything stored and adds nothing.
    EXPECT_EQ(waitExit(spawn(args)), 0);
    EXPECT_EQ(batchHistory(project, "kill").size(), static_cast<size_t>(n));
}

TEST(Batch, ShardsMergeIntoOneProjectFilteredByShard) {
    if (!fs::exists(cliPath())) GTEST_SKIP() << "tessera-cli not built at " << cliPath();
    TempDir dir;
    const int n = 30, shards = 3;
    fs::path prompts = writePrompts(dir.path(), n);
    std::vector<std::string> merge = {"project", "merge", (dir.path() / "merged").string()};
    for (int s = 0; s < shards; ++s) {
        fs::path p = dir.path() / shardArg(s, shards).replace(1, 1, "-of-");
        EXPECT_EQ(waitExit(spawn({"batch", "--prompts", prompts.string(), "--project", p.string(), "--shard",
                                  shardArg(s, shards), "--threads", "1"})),
                  0);
        expectEachLineOnce(p, batchHistory(p, "prompts"), range(n, s, shards));
        merge.push_back(p.string());
    }
    ASSERT_EQ(waitExit(spawn(merge)), 0);
    ASSERT_EQ(waitExit(spawn(merge)), 0); // again: nothing changes
    const fs::path merged = dir.path() / "merged";
    expectEachLineOnce(merged, batchHistory(merged, "prompts"), range(n));
    for (int s = 0; s < shards; ++s)
        expectEachLineOnce(merged, batchHistory(merged, "prompts", s), range(n, s, shards));
    EXPECT_TRUE(batchHistory(merged, "another batch").empty());
    // A bad line is listed and makes the exit status 1; the other lines are still stored.
    std::ofstream(prompts, std::ios::app) << "{\"prompt\": \"item 30 of the batch\", \"colour\": 1}\n"
                                          << "{\"prompt\": \"item 31 of the batch\"}\n";
    fs::path p = dir.path() / "s-all";
    EXPECT_EQ(
        waitExit(spawn({"batch", "--prompts", prompts.string(), "--project", p.string(), "--threads", "1"})),
        1);
    expectEachLineOnce(p, batchHistory(p, "prompts"), [] {
        auto r = range(30);
        r.insert(31);
        return r;
    }());
}

TEST(Batch, ParallelJobsStoreEveryImageOfEveryItemOnce) {
    if (!fs::exists(cliPath())) GTEST_SKIP() << "tessera-cli not built at " << cliPath();
    TempDir dir;
    fs::create_directories(dir.path());
    fs::path prompts = dir.path() / "two.jsonl";
    {
        std::ofstream f(prompts);
        for (int i = 0; i < 12; ++i) f << "{\"prompt\": \"item " << i << " of the batch\", \"images\": 2}\n";
        f << "{\"prompt\": \"item 12 of the batch\", \"seed\": 1.5}\n"; // not an integer: a failed item
    }
    fs::path project = dir.path() / "p";
    EXPECT_EQ(waitExit(spawn({"batch", "--prompts", prompts.string(), "--project", project.string(), "--jobs",
                              "2", "--threads", "2"})),
              1);
    auto gens = batchHistory(project, "two");
    std::map<std::pair<int, int>, int> seen;
    for (const auto& g : gens)
        ++seen[{g.params["batch"]["line"].get<int>(), g.params["image_index"].get<int>()}];
    EXPECT_EQ(gens.size(), 24u);
    for (int i = 0; i < 12; ++i)
        for (int k = 0; k < 2; ++k) EXPECT_EQ((seen[{i, k}]), 1) << "line " << i << " image " << k;
    // Running again generates nothing new (the bad line fails again).
    EXPECT_EQ(waitExit(spawn({"batch", "--prompts", prompts.string(), "--project", project.string()})), 1);
    EXPECT_EQ(batchHistory(project, "two").size(), 24u);
}
