// mergeProjects: shards written through the public API are merged and the result is compared by
// content (prompts, seeds, tokens, parameters, lineage, tags, media bytes), never by row ids.
#include "db.h"
#include "projects/test_util.h"
#include "tessera/projects/merge.h"
#include "tessera/projects/project.h"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

MediaPayload png(const std::string& bytes) {
    MediaPayload m;
    m.kind = "image/png";
    m.extension = "png";
    m.bytes.assign(bytes.begin(), bytes.end());
    return m;
}

GenerationRecord gen(const std::string& prompt, uint64_t seed, std::vector<int32_t> tokens) {
    GenerationRecord g;
    g.prompt = prompt;
    g.seed = seed;
    g.tokens = std::move(tokens);
    g.params = {{"cfg", 5}, {"prompt", prompt}};
    return g;
}

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// One line per generation, independent of row ids: content, lineage by the parent's content, tags,
// rating, notes and the media file's bytes. Sorted, so two projects compare as sets.
std::vector<std::string> snapshot(const fs::path& dir) {
    auto p = Project::open(dir);
    EXPECT_TRUE(p.ok()) << p.error();
    if (!p) return {};
    HistoryFilter f;
    f.limit = 10000;
    auto h = p->history(f);
    EXPECT_TRUE(h.ok()) << h.error();
    std::vector<std::string> out;
    for (const auto& light : *h) {
        auto g = *p->generation(light.id);
        std::string line = g.prompt + "|" + std::to_string(g.seed) + "|" + g.params.dump() + "|";
        for (int32_t t : g.tokens) line += std::to_string(t) + ",";
        if (g.parent_id) {
            auto parent = *p->generation(*g.parent_id);
            line += "|parent=" + parent.prompt + "/" + std::to_string(parent.seed) + "@" +
                    std::to_string(g.branch_token);
        }
        line += "|tags=";
        for (const auto& t : g.tags) line += t + ",";
        line += "|rating=" + std::to_string(g.rating) + "|notes=" + g.notes;
        if (g.asset_id) line += "|media=" + readFile(p->assetPath(*p->asset(*g.asset_id)));
        out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> files(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        auto name = e.path().filename().string();
        if (name.rfind("project.db", 0) == 0) continue; // the database's own files
        out.push_back(fs::relative(e.path(), dir).string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Shard A: a root with media and a tag, and a branch of it. Shard B: the same root (same content,
// another tag, a rating) and a generation of its own. Merged: 3 generations.
struct Shards {
    TempDir a, b;
    Shards() {
        auto pa = Project::create(a.path());
        EXPECT_TRUE(pa.ok()) << pa.error();
        auto m = png("fox-bytes");
        GenerationRecord root = gen("a red fox", 7, {1, 2, 3, 4});
        root.tags = {"winter"};
        int64_t r = *pa->addGeneration(root, &m);
        int64_t child = *pa->branch(r, 2, {11, {{"cfg", 3}}, std::nullopt, std::nullopt});
        EXPECT_TRUE(pa->finishGeneration(child, {1, 2, 9, 9}, {}).ok());

        auto pb = Project::create(b.path());
        EXPECT_TRUE(pb.ok()) << pb.error();
        GenerationRecord same = gen("a red fox", 7, {1, 2, 3, 4});
        same.tags = {"keeper"};
        same.rating = 4;
        int64_t s = *pb->addGeneration(same, &m);
        (void)s;
        auto m2 = png("lighthouse-bytes");
        EXPECT_TRUE(pb->addGeneration(gen("a lighthouse", 8, {5, 6, 7, 8}), &m2).ok());
    }
};

} // namespace

TEST(Merge, CombinesShardsDeduplicatingByContent) {
    Shards s;
    TempDir out;
    auto r = mergeProjects(out.path(), {s.a.path(), s.b.path()});
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->created);
    EXPECT_EQ(r->generations_added, 3);     // root, branch, lighthouse
    EXPECT_EQ(r->generations_duplicate, 1); // the root again, from B
    EXPECT_EQ(r->media_copied, 2);          // fox and lighthouse files (the fox once)

    auto snap = snapshot(out.path());
    ASSERT_EQ(snap.size(), 3u);
    // The duplicate's tags and rating joined the copy that was kept; the branch kept its parent.
    const std::string root =
        "a red fox|7|{\"cfg\":5,\"prompt\":\"a red fox\"}|1,2,3,4,|tags=keeper,winter,|rating=4|"
        "notes=|media=fox-bytes";
    const std::string branch =
        "a red fox|11|{\"cfg\":3,\"prompt\":\"a red fox\"}|1,2,9,9,|parent=a red fox/7@2|"
        "tags=|rating=0|notes=";
    EXPECT_NE(std::find(snap.begin(), snap.end(), root), snap.end()) << snap[0] << "\n"
                                                                     << snap[1] << "\n"
                                                                     << snap[2];
    EXPECT_NE(std::find(snap.begin(), snap.end(), branch), snap.end()) << snap[0] << "\n" << snap[1];
    auto p = Project::open(out.path());
    EXPECT_TRUE(p->integrityCheck().ok()) << p->integrityCheck().message();
    EXPECT_EQ(p->listAssets()->size(), 2u);
}

TEST(Merge, MergingTwiceChangesNothing) {
    Shards s;
    TempDir out;
    ASSERT_TRUE(mergeProjects(out.path(), {s.a.path(), s.b.path()}).ok());
    auto before = snapshot(out.path());
    auto before_files = files(out.path());
    auto again = mergeProjects(out.path(), {s.a.path(), s.b.path()});
    ASSERT_TRUE(again.ok()) << again.error();
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->generations_added, 0);
    EXPECT_EQ(again->generations_duplicate, 4);
    EXPECT_EQ(again->media_copied, 0);
    EXPECT_EQ(again->jobs_added, 0);
    EXPECT_EQ(snapshot(out.path()), before);
    EXPECT_EQ(files(out.path()), before_files);
}

TEST(Merge, OrderDoesNotMatter) {
    Shards s;
    TempDir ab, ba, one_by_one;
    ASSERT_TRUE(mergeProjects(ab.path(), {s.a.path(), s.b.path()}).ok());
    ASSERT_TRUE(mergeProjects(ba.path(), {s.b.path(), s.a.path()}).ok());
    ASSERT_TRUE(mergeProjects(one_by_one.path(), {s.b.path()}).ok());
    ASSERT_TRUE(mergeProjects(one_by_one.path(), {s.a.path()}).ok());
    auto x = snapshot(ab.path());
    ASSERT_EQ(x.size(), 3u);
    EXPECT_EQ(snapshot(ba.path()), x);
    EXPECT_EQ(snapshot(one_by_one.path()), x);
}

TEST(Merge, RefusesAnotherSchemaVersion) {
    Shards s;
    {
        detail::Db db(s.b.path() / "project.db", false, 5000);
        db.exec("PRAGMA user_version = 3");
    }
    TempDir out;
    auto r = mergeProjects(out.path(), {s.a.path(), s.b.path()});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("schema version 3"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(s.b.path().string()), std::string::npos) << r.error();
    EXPECT_FALSE(fs::exists(out.path())); // nothing created
}

TEST(Merge, AFailedMergeLeavesTheOutputAsItWas) {
    Shards s;
    TempDir out, bad;
    ASSERT_TRUE(mergeProjects(out.path(), {s.a.path()}).ok());
    auto before = snapshot(out.path());
    auto before_files = files(out.path());
    // Shard B's lighthouse file no longer matches its recorded hash: the merge must fail whole,
    // though the fox duplicate and B's rows would have merged fine.
    for (const auto& e : fs::directory_iterator(s.b.path() / "media"))
        if (readFile(e.path()) == "lighthouse-bytes") std::ofstream(e.path(), std::ios::binary) << "damaged";
    auto r = mergeProjects(out.path(), {s.b.path()});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("SHA-256"), std::string::npos) << r.error();
    EXPECT_EQ(snapshot(out.path()), before);
    EXPECT_EQ(files(out.path()), before_files);
    // A new output is not left behind half made either.
    auto r2 = mergeProjects(bad.path(), {s.a.path(), s.b.path()});
    ASSERT_FALSE(r2.ok());
    EXPECT_FALSE(fs::exists(bad.path()));
    for (const auto& e : fs::directory_iterator(bad.path().parent_path()))
        EXPECT_EQ(e.path().filename().string().find(bad.path().filename().string() + ".merging"),
                  std::string::npos);
}

TEST(Merge, RefusesBadInputWithAReason) {
    Shards s;
    TempDir out, none;
    auto r = mergeProjects(out.path(), {none.path()});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("no project"), std::string::npos) << r.error();
    ASSERT_TRUE(mergeProjects(out.path(), {s.a.path()}).ok());
    auto self = mergeProjects(out.path(), {out.path()});
    ASSERT_FALSE(self.ok());
    EXPECT_NE(self.error().find("into itself"), std::string::npos) << self.error();
    EXPECT_FALSE(mergeProjects(out.path(), {}).ok());
}
