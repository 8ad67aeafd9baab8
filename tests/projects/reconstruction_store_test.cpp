// Storing a reconstruction (shared by the CLI and the studio): the job, the two assets with the exact
// bytes given, the scene, and a "scene" generation the history lists with the render as its picture;
// failures are remembered as failed jobs and bad input is an error, not a crash.
#include "projects/test_util.h"
#include "tessera/projects/reconstruction_store.h"

#include <fstream>
#include <gtest/gtest.h>
#include <iterator>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

std::vector<uint8_t> fileBytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST(ReconstructionStore, StoresJobAssetsSceneAndAHistoryEntry) {
    TempDir dir;
    ReconstructionWriter w;
    ASSERT_TRUE(w.open(dir.path().string(), {{"model", "/m"}, {"seed", 7u}}).ok());
    ASSERT_TRUE(w.active());
    const std::vector<uint8_t> image = {1, 2, 3, 4}, render = {9, 8, 7};
    const std::string program = "object cube red rubber size 0.35 position 0 0 0.35 rotation 0\n";
    const std::string scene_json = R"({"objects":[{"shape":"cube"}]})";
    auto stored = w.finish(image, render, "input", program, scene_json, {{"tokens", {1, 2}}});
    ASSERT_TRUE(stored.ok()) << stored.error();

    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
    auto job = p->job(stored->job);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(job->kind, "reconstruct");
    EXPECT_EQ(job->state, JobState::kDone);
    EXPECT_EQ(job->result["scene_id"], stored->scene);
    EXPECT_EQ(job->result["image_asset_id"], stored->image_asset);
    EXPECT_EQ(job->result["render_asset_id"], stored->render_asset);
    EXPECT_EQ(job->result["generation_id"], stored->generation);
    EXPECT_EQ(job->result["tokens"], nlohmann::json({1, 2}));
    auto scene = p->scene(stored->scene);
    ASSERT_TRUE(scene.ok());
    EXPECT_EQ(scene->name, "input");
    EXPECT_EQ(scene->program, program);
    EXPECT_EQ(scene->parsed, nlohmann::json::parse(scene_json));
    auto in = p->asset(stored->image_asset);
    auto out = p->asset(stored->render_asset);
    ASSERT_TRUE(in.ok() && out.ok());
    EXPECT_EQ(fileBytes(p->assetPath(*in)), image);
    EXPECT_EQ(fileBytes(p->assetPath(*out)), render);
    EXPECT_EQ(in->meta["role"], "reconstruct-input");
    EXPECT_EQ(out->meta["role"], "reconstruct-render");

    // The history: one entry, a "scene" whose media is the render and whose params lead to the rest.
    auto history = p->history();
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), 1u);
    const GenerationRecord& g = history->front();
    EXPECT_EQ(g.id, stored->generation);
    EXPECT_EQ(g.kind, "scene");
    EXPECT_EQ(g.asset_id, stored->render_asset);
    EXPECT_EQ(g.job_id, stored->job);
    EXPECT_EQ(g.seed, 7u);
    EXPECT_EQ(g.prompt, "Scene reconstructed from input");
    EXPECT_EQ(g.params["scene_id"], stored->scene);
    EXPECT_EQ(g.params["image_asset_id"], stored->image_asset);
    EXPECT_EQ(g.params["program"], program);
    HistoryFilter scenes;
    scenes.kind = "scene";
    EXPECT_EQ(p->history(scenes)->size(), 1u);
}

TEST(ReconstructionStore, FailuresAreRememberedAndBadInputIsAnError) {
    TempDir dir;
    ReconstructionWriter w;
    ASSERT_TRUE(w.open(dir.path().string(), nlohmann::json::object()).ok());
    w.fail("the program does not parse");
    // A scene JSON that does not parse is refused with a message; nothing is half stored as done.
    ReconstructionWriter w2;
    ASSERT_TRUE(w2.open(dir.path().string(), nlohmann::json::object()).ok());
    auto bad = w2.finish({1}, {2}, "x", "", "{not json", {});
    EXPECT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("scene JSON"), std::string::npos) << bad.error();
    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok());
    auto jobs = p->listJobs();
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs->size(), 2u);
    int failed = 0;
    for (const JobRecord& j : *jobs) {
        if (j.state == JobState::kFailed) {
            ++failed;
            EXPECT_EQ(j.error, "the program does not parse");
        }
    }
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(p->history()->size(), 0u);
    // Not opened: finishing is an error, not a crash; failing is a no-op.
    ReconstructionWriter idle;
    EXPECT_FALSE(idle.active());
    idle.fail("nothing");
    EXPECT_FALSE(idle.finish({}, {}, "", "", "{}", {}).ok());
    // A folder that cannot be a project.
    ReconstructionWriter nowhere;
    EXPECT_FALSE(nowhere.open("/proc/tessera-no-such-project", {}).ok());
}
