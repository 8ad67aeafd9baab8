// The recovery scan on damage made by hand: stray temporary files, orphans, moved and deleted media,
// writes in flight, dead runners.
#include "media.h"
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <atomic>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

MediaPayload png(std::vector<uint8_t> bytes) {
    MediaPayload m;
    m.kind = "image/png";
    m.extension = "png";
    m.bytes = std::move(bytes);
    return m;
}

int fileCount(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
    return n;
}

} // namespace

TEST(Recovery, CleanProjectNeedsNothing) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto m = png({1, 2, 3});
    ASSERT_TRUE(p->addGeneration(GenerationRecord{}, &m).ok());
    auto r = p->recover();
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->temp_files_removed + r->orphan_files_removed + r->assets_relinked + r->assets_marked_missing,
              0);
    EXPECT_EQ(fileCount(dir.path() / "media"), 1);
}

TEST(Recovery, RemovesTempAndOrphansRelinksMovedAndMarksLost) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto a = p->addAsset(png({1, 1, 1}));
    auto b = p->addAsset(png({2, 2, 2}));
    auto c = p->addAsset(png({3, 3, 3}));
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    fs::path media = dir.path() / "media";
    std::ofstream(media / ".tmp-abc.part") << "half written";
    std::ofstream(media / "0000.png") << "not written by Tessera: kept";
    // What a crash between the rename and the commit leaves: a file named after its own sha256.
    std::ofstream(media / "orphan.tmp") << "no row names me";
    const std::string own = detail::sha256File(media / "orphan.tmp") + ".png";
    fs::rename(media / "orphan.tmp", media / own);
    fs::rename(p->assetPath(*b), media / "moved-by-hand.png"); // same bytes, other name
    fs::remove(p->assetPath(*c));                              // gone for good

    auto dry = p->recover(true);
    ASSERT_TRUE(dry.ok()) << dry.error();
    EXPECT_EQ(dry->temp_files_removed, 1);
    EXPECT_EQ(dry->orphan_files_removed, 1);
    EXPECT_EQ(dry->foreign_files_kept, 1);
    EXPECT_EQ(dry->assets_relinked, 1);
    EXPECT_EQ(dry->assets_marked_missing, 1);
    EXPECT_EQ(fileCount(media), 5) << "a dry run changes nothing";
    EXPECT_EQ(p->asset(c->id)->state, AssetState::kOk);

    auto r = p->recover();
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->temp_files_removed, 1);
    EXPECT_EQ(r->orphan_files_removed, 1);
    EXPECT_EQ(r->assets_relinked, 1);
    EXPECT_EQ(r->assets_marked_missing, 1);
    EXPECT_TRUE(fs::exists(p->assetPath(*b)));
    EXPECT_FALSE(fs::exists(media / "moved-by-hand.png"));
    EXPECT_FALSE(fs::exists(media / own));
    EXPECT_TRUE(fs::exists(media / "0000.png")) << "recover deleted a file Tessera never wrote";
    EXPECT_EQ(r->foreign_files_kept, 1);
    EXPECT_FALSE(fs::exists(media / ".tmp-abc.part"));
    EXPECT_EQ(p->asset(c->id)->state, AssetState::kMissing);
    EXPECT_EQ(p->asset(a->id)->state, AssetState::kOk);
    EXPECT_TRUE(p->integrityCheck().ok());

    // The same bytes stored again bring the missing asset back.
    ASSERT_TRUE(p->addAsset(png({3, 3, 3})).ok());
    EXPECT_EQ(p->asset(c->id)->state, AssetState::kOk);
    auto again = p->recover();
    EXPECT_EQ(again->assets_marked_missing + again->orphan_files_removed + again->temp_files_removed, 0);
}

TEST(Recovery, WaitsForAWriteInFlight) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    fs::path temp = dir.path() / "media" / ".tmp-inflight.part";
    std::atomic<bool> finished{false};
    std::thread scan;
    {
        // What a writer holds between creating its temporary file and committing its row.
        detail::MediaLock writing(dir.path(), false);
        std::ofstream(temp) << "being written";
        scan = std::thread([&] {
            auto q = Project::open(dir.path());
            if (q.ok()) (void)q->recover();
            finished = true;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_FALSE(finished) << "recover() must not run while a write is in flight";
        EXPECT_TRUE(fs::exists(temp));
    }
    scan.join();
    EXPECT_TRUE(finished);
    EXPECT_FALSE(fs::exists(temp)) << "after the writer is gone its leftovers are removed";
}

TEST(Recovery, InterruptsJobsOfADeadRunner) {
    TempDir dir;
    int64_t job = 0;
    {
        auto p = Project::create(dir.path());
        ASSERT_TRUE(p.ok());
        job = *p->submitJob("generate", {});
        ASSERT_TRUE(p->claimNextJob().ok());
        // A second project handle in the same process sees a live runner.
        auto q = Project::open(dir.path());
        ASSERT_TRUE(q.ok());
        EXPECT_EQ(q->job(job)->state, JobState::kRunning);
        EXPECT_EQ(q->recover()->jobs_interrupted, 0);
    } // the runner's Project closes with the job still marked running
    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->job(job)->state, JobState::kInterrupted);
}
