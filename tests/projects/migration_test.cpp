// Every schema version that ever shipped must open in the current build. Databases at older versions
// are built by applying only the first N migrations, filled with rows the way that version stored
// them, and then opened through Project::open.
#include "db.h"
#include "projects/test_util.h"
#include "schema.h"
#include "tessera/projects/project.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

// Rows as version `v` could hold them (SQL, not the current API, so they are written the old way).
void fillAtVersion(detail::Db& db, int v) {
    if (v < 1) return;
    db.exec("INSERT INTO models(id, path, family, content_hash, size_bytes, added_at) "
            "VALUES (1, '/m/janus', 'janus', 'h1', 10, 1000)");
    db.exec("INSERT INTO jobs(id, kind, params, priority, state, created_at) VALUES "
            "(1, 'generate', '{\"prompt\":\"one\"}', 0, 'queued', 1000),"
            "(2, 'generate', '{\"prompt\":\"two\"}', 0, 'queued', 1001),"
            "(3, 'generate', '{\"prompt\":\"three\"}', 0, 'running', 1002),"
            "(4, 'generate', '{\"prompt\":\"four\"}', 0, 'queued', 1003)");
    db.exec("INSERT INTO assets(id, rel_path, sha256, kind, size_bytes, created_at) "
            "VALUES (1, 'media/x.png', 'abc', 'image/png', 3, 1000)");
    // tokens 1, 2, 3 as int32 little-endian
    db.exec("INSERT INTO generations(id, job_id, model_id, seed, prompt, tokens, asset_id, created_at) "
            "VALUES (1, 1, 1, 42, 'a red fox in the snow', X'010000000200000003000000', 1, 1000)");
    db.exec("INSERT INTO generations(id, parent_id, branch_token, seed, prompt, tokens, created_at) "
            "VALUES (2, 1, 2, 43, 'a red fox in the snow', X'0100000002000000', 1001)");
    if (v < 2) return;
    db.exec("UPDATE generations SET rating = 4, notes = 'keep this one' WHERE id = 1");
    db.exec("INSERT INTO tags(generation_id, tag) VALUES (1, 'winter')");
    if (v < 3) return;
    // v3 stores an explicit queue order that differs from id order.
    db.exec("UPDATE jobs SET queue_pos = 10 WHERE id = 1");
    db.exec("UPDATE jobs SET queue_pos = 5 WHERE id = 4");
    db.exec("UPDATE jobs SET queue_pos = 20 WHERE id = 2"); // v3 gave every submitted job a position
    db.exec("UPDATE jobs SET queue_pos = 30 WHERE id = 3");
    if (v < 4) return;
    // v4 reads batch and shard from params.
    db.exec("UPDATE generations SET params = '{\"batch\":{\"id\":\"b1\",\"shard\":0}}' WHERE id = 2");
}

std::vector<int64_t> searchIds(Project& p, const std::string& q) {
    std::vector<int64_t> out;
    auto hits = p.search(q);
    EXPECT_TRUE(hits.ok()) << hits.error();
    if (hits.ok())
        for (const auto& h : *hits) out.push_back(h.generation_id);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST(Migrations, LatestVersionIsFive) {
    // Bumping the schema means adding a case below; this keeps the two in step.
    EXPECT_EQ(Project::latestSchemaVersion(), 5);
}

class MigrateFrom : public ::testing::TestWithParam<int> {};

TEST_P(MigrateFrom, OpensWithEverythingKept) {
    const int from = GetParam();
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "media");
    {
        detail::Db db(dir.path() / "project.db", true, 5000);
        detail::migrate(db, from);
        ASSERT_EQ(detail::userVersion(db), from);
        fillAtVersion(db, from);
    }
    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(*p->schemaVersion(), Project::latestSchemaVersion());
    EXPECT_TRUE(p->integrityCheck().ok()) << p->integrityCheck().message();

    auto g = p->generation(1);
    ASSERT_TRUE(g.ok()) << g.error();
    EXPECT_EQ(g->tokens, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(g->seed, 42u);
    EXPECT_EQ(g->model_id, 1);
    EXPECT_EQ(g->asset_id, 1);
    EXPECT_EQ(p->model(1)->family, "janus");
    auto tree = p->tree(1);
    ASSERT_EQ(tree->size(), 2u);
    EXPECT_EQ((*tree)[1].generation.branch_token, 2);

    // Full-text search covers rows written before the index existed.
    EXPECT_EQ(searchIds(*p, "fox"), (std::vector<int64_t>{1, 2}));
    if (from >= 2) {
        EXPECT_EQ(g->rating, 4);
        EXPECT_EQ(g->tags, (std::vector<std::string>{"winter"}));
        EXPECT_EQ(searchIds(*p, "winter"), (std::vector<int64_t>{1}));
        EXPECT_EQ(searchIds(*p, "keep"), (std::vector<int64_t>{1}));
    } else {
        EXPECT_EQ(g->rating, 0);
    }

    // The queue: order kept (submission order before v3, explicit order from v3), the job that was
    // running when the old build stopped is interrupted, not lost and not left running.
    std::vector<int64_t> pending;
    auto queued = p->listJobs({{JobState::kQueued}});
    ASSERT_TRUE(queued.ok()) << queued.error();
    for (const auto& j : *queued) pending.push_back(j.id);
    if (from >= 3)
        EXPECT_EQ(pending, (std::vector<int64_t>{4, 1, 2}));
    else
        EXPECT_EQ(pending, (std::vector<int64_t>{1, 2, 4}));
    EXPECT_EQ(p->job(3)->state, JobState::kInterrupted);
    EXPECT_EQ(p->job(1)->params["prompt"], "one");

    // And the migrated project works like a new one.
    int64_t j = *p->submitJob("generate", {}, 0);
    EXPECT_EQ(pending.size() + 1, p->listJobs({{JobState::kQueued}})->size());
    EXPECT_EQ(p->listJobs({{JobState::kQueued}})->back().id, j);
    ASSERT_TRUE(p->addTag(1, "snow").ok());
    EXPECT_EQ(searchIds(*p, "snow"), (std::vector<int64_t>{1, 2})); // prompt of both, tag of 1

    // v5: every generation written before videos existed is an image without a strip.
    EXPECT_EQ(g->kind, "image");
    EXPECT_FALSE(g->strip_asset_id.has_value());
    HistoryFilter videos;
    videos.kind = "video";
    EXPECT_TRUE(p->history(videos)->empty());
    HistoryFilter images;
    images.kind = "image";
    EXPECT_EQ(p->history(images)->size(), 2u);
    if (from >= 4) {
        HistoryFilter batch;
        batch.batch = "b1";
        ASSERT_EQ(p->history(batch)->size(), 1u);
        EXPECT_EQ(p->history(batch)->front().id, 2);
    }
}

INSTANTIATE_TEST_SUITE_P(EveryOlderVersion, MigrateFrom, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& i) {
                             std::string name = "v";
                             name += std::to_string(i.param);
                             return name;
                         });

TEST(Migrations, EveryVersionUpToLatestIsCovered) {
    // The parameter list above must name every version below the latest.
    std::vector<int> covered = {0, 1, 2, 3, 4};
    ASSERT_EQ(static_cast<int>(covered.size()), Project::latestSchemaVersion());
    for (int v = 0; v < Project::latestSchemaVersion(); ++v) EXPECT_EQ(covered[v], v);
}

TEST(Migrations, NewerDatabaseIsRefusedWithAReason) {
    TempDir dir;
    {
        auto p = Project::create(dir.path());
        ASSERT_TRUE(p.ok());
    }
    {
        detail::Db db(dir.path() / "project.db", false, 5000);
        db.exec("PRAGMA user_version = 99");
    }
    auto p = Project::open(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("newer"), std::string::npos) << p.error();
}

TEST(Migrations, LatestSchemaHasTheQueueColumns) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    detail::Db db(dir.path() / "project.db", false, 5000);
    std::vector<std::string> cols;
    auto s = db.prepare("SELECT name FROM pragma_table_info('jobs') ORDER BY cid");
    while (s.step()) cols.push_back(s.text(0));
    EXPECT_NE(std::find(cols.begin(), cols.end(), "queue_pos"), cols.end());
    EXPECT_NE(std::find(cols.begin(), cols.end(), "runner"), cols.end());
}

// A project is recognised by its own marks, never adopted: an empty database (a 0-byte project.db,
// or one with no schema) and another application's database are refused and left as they were, and
// a project is created only in a new or empty folder.
TEST(ProjectIdentity, AnEmptyProjectDbIsNoProject) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "media");
    std::ofstream(dir.path() / "media" / "photo.jpg") << "someone else's";
    std::ofstream(dir.path() / "project.db").flush(); // 0 bytes
    auto p = Project::open(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("empty"), std::string::npos) << p.error();
    EXPECT_EQ(std::filesystem::file_size(dir.path() / "project.db"), 0u);
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "media" / "photo.jpg"));
}

TEST(ProjectIdentity, ADatabaseWithoutTesserasSchemaIsRefused) {
    TempDir dir;
    std::filesystem::create_directories(dir.path());
    {
        detail::Db db(dir.path() / "project.db", true, 5000);
        db.exec("CREATE TABLE photos(id INTEGER PRIMARY KEY, path TEXT)");
    }
    auto p = Project::open(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("holds no Tessera project"), std::string::npos) << p.error();
    {
        detail::Db db(dir.path() / "project.db", false, 5000);
        db.exec("PRAGMA application_id = 1234");
    }
    p = Project::open(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("another application's database"), std::string::npos) << p.error();
}

TEST(ProjectIdentity, CreatedProjectsCarryTesserasApplicationId) {
    TempDir dir;
    ASSERT_TRUE(Project::create(dir.path()).ok());
    detail::Db db(dir.path() / "project.db", false, 5000);
    int id = db.read([&] {
        detail::Stmt s = db.prepare("PRAGMA application_id");
        s.step();
        return static_cast<int>(s.i64(0));
    });
    EXPECT_EQ(id, 0x54535241); // "TSRA"
}

TEST(ProjectIdentity, ProjectsAreCreatedOnlyInNewOrEmptyFolders) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "media");
    std::ofstream(dir.path() / "media" / "photo.jpg") << "someone else's";
    auto p = Project::create(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("not an empty folder"), std::string::npos) << p.error();
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "project.db"));
    TempDir empty;
    std::filesystem::create_directories(empty.path());
    EXPECT_TRUE(Project::create(empty.path()).ok());
}
