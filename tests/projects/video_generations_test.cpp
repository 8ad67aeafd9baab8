// Video generations: the video file and its thumbnail strip stored durably as two assets, the latent
// codes as the token stream, kind "video" in the history and its filter, and bad input refused.
#include "projects/test_util.h"
#include "tessera/projects/merge.h"
#include "tessera/projects/project.h"

#include <fstream>
#include <gtest/gtest.h>
#include <iterator>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

std::vector<uint8_t> readAll(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

MediaPayload payload(const std::string& kind, const std::string& ext, std::vector<uint8_t> bytes) {
    MediaPayload m;
    m.kind = kind;
    m.extension = ext;
    m.bytes = std::move(bytes);
    return m;
}

} // namespace

TEST(VideoGenerations, StoresTheVideoItsStripAndItsCodes) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
    GenerationRecord image;
    image.prompt = "a still";
    image.tokens = {1, 2, 3};
    ASSERT_TRUE(p->addGeneration(image).ok());

    GenerationRecord g;
    g.prompt = "a red cube turning";
    g.seed = 77;
    g.params = {{"method", "lumos-1"}, {"latent_frames", 2}};
    for (int i = 0; i < 64; ++i) g.tokens.push_back((i * 997) % 64000);
    const std::vector<uint8_t> video_bytes = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
    const std::vector<uint8_t> strip_bytes = {0x89, 'P', 'N', 'G', 1, 2, 3};
    auto id = p->addVideoGeneration(g, payload("video/mp4", "mp4", video_bytes),
                                    payload("image/png", "png", strip_bytes));
    ASSERT_TRUE(id.ok()) << id.error();

    auto back = p->generation(*id);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->kind, "video");
    EXPECT_EQ(back->tokens, g.tokens);
    EXPECT_EQ(back->params["latent_frames"], 2);
    ASSERT_TRUE(back->asset_id && back->strip_asset_id);
    EXPECT_NE(*back->asset_id, *back->strip_asset_id);
    auto video = p->asset(*back->asset_id);
    auto strip = p->asset(*back->strip_asset_id);
    ASSERT_TRUE(video.ok() && strip.ok());
    EXPECT_EQ(video->kind, "video/mp4");
    EXPECT_EQ(strip->kind, "image/png");
    EXPECT_EQ(readAll(p->assetPath(*video)), video_bytes);
    EXPECT_EQ(readAll(p->assetPath(*strip)), strip_bytes);
    EXPECT_EQ(video->rel_path.substr(video->rel_path.size() - 4), ".mp4");

    // The history lists it with its kind (newest first) and filters by kind.
    auto all = p->history();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ(all->front().id, *id);
    EXPECT_EQ(all->front().kind, "video");
    EXPECT_EQ(all->front().strip_asset_id, back->strip_asset_id);
    EXPECT_EQ(all->back().kind, "image");
    HistoryFilter videos;
    videos.kind = "video";
    ASSERT_EQ(p->history(videos)->size(), 1u);
    EXPECT_EQ(p->history(videos)->front().id, *id);

    // A recovery scan keeps both files (each has its row) and the project stays consistent.
    auto report = p->recover();
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->orphan_files_removed, 0);
    EXPECT_TRUE(std::filesystem::exists(p->assetPath(*strip)));
    EXPECT_TRUE(p->integrityCheck().ok());
}

TEST(VideoGenerations, BadInputIsRefusedAndLeavesNoRow) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
    GenerationRecord g;
    g.kind = "sound";
    auto r = p->addGeneration(g);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("kind"), std::string::npos) << r.error();

    GenerationRecord v;
    v.tokens = {1, 2};
    v.stats = {{0.5f, 1.0f, 0.0f}}; // one statistic for two tokens
    auto bad =
        p->addVideoGeneration(v, payload("video/mp4", "mp4", {1, 2, 3}), payload("image/png", "png", {4}));
    ASSERT_FALSE(bad.ok());
    v.stats.clear();
    // A writer that fails stops the whole record.
    MediaPayload failing;
    failing.kind = "video/mp4";
    failing.extension = "mp4";
    failing.writer = [](const ByteSink&) { return tessera::projects::Status::error("encoder failed"); };
    auto bad2 = p->addVideoGeneration(v, failing, payload("image/png", "png", {4}));
    ASSERT_FALSE(bad2.ok());
    EXPECT_NE(bad2.error().find("encoder failed"), std::string::npos) << bad2.error();
    EXPECT_TRUE(p->history()->empty());
    EXPECT_TRUE(p->listAssets()->empty());
}

TEST(VideoGenerations, MergingKeepsTheKindAndTheStrip) {
    TempDir shard, out;
    {
        auto p = Project::create(shard.path());
        ASSERT_TRUE(p.ok()) << p.error();
        GenerationRecord g;
        g.prompt = "a wave";
        g.seed = 3;
        g.tokens = {4, 5, 6, 7};
        ASSERT_TRUE(p->addVideoGeneration(g, payload("video/mp4", "mp4", {9, 8, 7}),
                                          payload("image/png", "png", {1, 1, 2}))
                        .ok());
        GenerationRecord image;
        image.prompt = "a still";
        image.tokens = {1};
        ASSERT_TRUE(p->addGeneration(image).ok());
    }
    auto r = mergeProjects(out.path(), {shard.path()});
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->generations_added, 2);
    auto p = Project::open(out.path());
    ASSERT_TRUE(p.ok()) << p.error();
    HistoryFilter videos;
    videos.kind = "video";
    auto h = p->history(videos);
    ASSERT_TRUE(h.ok()) << h.error();
    ASSERT_EQ(h->size(), 1u);
    EXPECT_EQ(h->front().prompt, "a wave");
    ASSERT_TRUE(h->front().strip_asset_id && h->front().asset_id);
    auto strip = p->asset(*h->front().strip_asset_id);
    ASSERT_TRUE(strip.ok()) << strip.error();
    EXPECT_EQ(readAll(p->assetPath(*strip)), (std::vector<uint8_t>{1, 1, 2}));
    auto video = p->asset(*h->front().asset_id);
    ASSERT_TRUE(video.ok());
    EXPECT_EQ(readAll(p->assetPath(*video)), (std::vector<uint8_t>{9, 8, 7}));
    HistoryFilter images;
    images.kind = "image";
    EXPECT_EQ(p->history(images)->size(), 1u);
    EXPECT_TRUE(p->integrityCheck().ok());
}
