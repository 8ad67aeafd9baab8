// Storing an EAR erasure (shared by `tessera-cli erase --project` and the studio) and reading it back:
// one finished "erase" job with its params and curve, the delta's exact bytes as a tensor/delta asset
// whose sha256 is the file's (computed by sha256sum, not by the project code), the compare pictures
// as assets; the window decisions land on the steps that closed them (hand-computed); bad input is an
// error that stores nothing and leaves no job running.
#include "projects/test_util.h"
#include "tessera/projects/erasure_store.h"

#include <cstdio>
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

// sha256sum's hex digest of a file: an implementation independent of the project's.
std::string sha256sum(const std::filesystem::path& path) {
    std::string cmd = "sha256sum '" + path.string() + "'";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {};
    char buf[128] = {};
    const size_t n = std::fread(buf, 1, 64, p);
    ::pclose(p);
    return std::string(buf, n);
}

// 2 iterations of 6 steps with W = 4: windows close at steps 4, 6 (the short one), 10 and 12.
ErasureRun sampleRun(const std::filesystem::path& delta) {
    ErasureRun run;
    run.model = {0, "/models/janus_tiny", "janus", "abc123", 1000, 0};
    run.delta_file = delta.string();
    run.params = {
        {"model", "/models/janus_tiny"},
        {"pairs",
         {{"concept", "church"},
          {"pairs",
           {{{"unsafe", "a church"}, {"safe_neutral", "a building"}, {"safe_target", "a cinema"}}}}}},
        {"settings", {{"window", 4}, {"iterations", 2}, {"threshold", 0.5}}}};
    nlohmann::json losses = nlohmann::json::array();
    for (int i = 1; i <= 12; ++i) losses.push_back(0.1 * i);
    nlohmann::json windows = nlohmann::json::array();
    windows.push_back({{"window", 0}, {"loss_sum", 1.0}, {"update", true}});
    windows.push_back({{"window", 1}, {"loss_sum", 1.1}, {"update", true}});
    windows.push_back({{"window", 2}, {"loss_sum", 0.2}, {"update", false}});
    windows.push_back({{"window", 3}, {"loss_sum", 2.3}, {"update", true}});
    run.result = {{"losses", losses}, {"windows", windows}, {"delta", delta.string()}};
    run.compare_prompt = "a church";
    for (uint64_t seed : {1u, 2u}) {
        ErasureCompareImages c;
        c.seed = seed;
        c.original_png = {0x89, 'P', 'N', 'G', static_cast<uint8_t>(seed)};
        c.erased_png = {0x89, 'P', 'N', 'G', static_cast<uint8_t>(10 + seed)};
        c.original_tokens = {1, 2, 3, 4};
        c.erased_tokens = {1, 9, 3, static_cast<int32_t>(seed)};
        c.grid_h = c.grid_w = 2;
        run.compares.push_back(c);
    }
    return run;
}

} // namespace

TEST(ErasureStore, StoresTheJobDeltaAndPicturesAndReadsThemBack) {
    TempDir dir;
    std::filesystem::create_directories(dir.path());
    const auto delta = dir.path() / "delta.safetensors";
    {
        std::ofstream out(delta, std::ios::binary);
        for (int i = 0; i < 3000; ++i) out.put(static_cast<char>(i * 7));
    }
    const auto project_dir = dir.path() / "project";
    auto job = storeErasure(project_dir.string(), sampleRun(delta));
    ASSERT_TRUE(job.ok()) << job.error();

    auto p = Project::open(project_dir);
    ASSERT_TRUE(p.ok()) << p.error();
    auto jobs = p->listJobs();
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs->size(), 1u);
    const JobRecord& j = jobs->front();
    EXPECT_EQ(j.id, *job);
    EXPECT_EQ(j.kind, "erase");
    EXPECT_EQ(j.state, JobState::kDone);
    EXPECT_EQ(j.params["pairs"]["concept"], "church");
    EXPECT_EQ(j.result["losses"].size(), 12u);
    const std::string sha = j.result["delta_asset"]["sha256"];
    EXPECT_EQ(sha, sha256sum(delta));
    auto asset = p->asset(j.result["delta_asset"]["id"].get<int64_t>());
    ASSERT_TRUE(asset.ok());
    EXPECT_EQ(asset->kind, "tensor/delta");
    EXPECT_EQ(fileBytes(p->assetPath(*asset)), fileBytes(delta));
    EXPECT_EQ(asset->rel_path, "media/" + sha256sum(delta) + ".safetensors");
    auto models = p->listModels();
    ASSERT_TRUE(models.ok());
    ASSERT_EQ(models->size(), 1u);
    EXPECT_EQ(models->front().content_hash, "abc123");
    EXPECT_EQ(j.result["model_id"], models->front().id);
    // Assets: the delta and two pictures per seed.
    auto assets = p->listAssets();
    ASSERT_TRUE(assets.ok());
    EXPECT_EQ(assets->size(), 5u);

    auto list = listErasureJobs(*p);
    ASSERT_TRUE(list.ok()) << list.error();
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(list->front().job, *job);
    EXPECT_EQ(list->front().concept_name, "church");
    EXPECT_EQ(list->front().steps, 12);
    EXPECT_EQ(list->front().delta_sha256, sha256sum(delta));
    EXPECT_EQ(fileBytes(list->front().delta_file), fileBytes(delta));

    auto e = loadErasureJob(*p, *job);
    ASSERT_TRUE(e.ok()) << e.error();
    ASSERT_EQ(e->losses.size(), 12u);
    EXPECT_FLOAT_EQ(e->losses[11], 1.2f);
    EXPECT_EQ(e->iterations, 2);
    ASSERT_EQ(e->windows.size(), 4u);
    const int64_t closing[] = {4, 6, 10, 12}; // W = 4 over rollouts of 6 steps
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(e->windows[i].step, closing[i]) << "window " << i;
    EXPECT_FALSE(e->windows[2].update);
    EXPECT_EQ(e->compare_prompt, "a church");
    ASSERT_EQ(e->compares.size(), 2u);
    EXPECT_EQ(e->compares[1].seed, 2u);
    EXPECT_EQ(e->compares[1].erased_tokens, (std::vector<int32_t>{1, 9, 3, 2}));
    EXPECT_EQ(e->compares[1].grid_w, 2);
    EXPECT_EQ(fileBytes(e->compares[1].original_png), (std::vector<uint8_t>{0x89, 'P', 'N', 'G', 2}));
    EXPECT_EQ(fileBytes(e->compares[1].erased_png), (std::vector<uint8_t>{0x89, 'P', 'N', 'G', 12}));
}

TEST(ErasureStore, AMissingDeltaStoresNothingAndOtherJobsAreNotErasures) {
    TempDir dir;
    std::filesystem::create_directories(dir.path());
    const auto project_dir = dir.path() / "project";
    auto job = storeErasure(project_dir.string(), sampleRun(dir.path() / "gone.safetensors"));
    ASSERT_FALSE(job.ok());
    EXPECT_NE(job.error().find("gone.safetensors"), std::string::npos) << job.error();
    EXPECT_FALSE(std::filesystem::exists(project_dir / "project.db")) << "nothing should have been created";

    auto p = Project::create(project_dir);
    ASSERT_TRUE(p.ok()) << p.error();
    auto other = p->submitJob("generate", {{"prompt", "x"}});
    ASSERT_TRUE(other.ok());
    auto list = listErasureJobs(*p);
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->empty());
    auto e = loadErasureJob(*p, *other);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().find("not an erasure"), std::string::npos) << e.error();
    auto none = loadErasureJob(*p, 999);
    EXPECT_FALSE(none.ok());
}

TEST(ErasureStore, AMalformedCurveIsAnErrorNamingTheJob) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
    auto id = p->submitJob("erase", {{"settings", {{"iterations", 2}, {"window", 4}}}});
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(p->updateJobState(*id, JobState::kRunning).ok());
    ASSERT_TRUE(p->setJobResult(*id, {{"losses", {0.1, 0.2, 0.3}}}).ok()); // 3 steps do not split in 2
    ASSERT_TRUE(p->updateJobState(*id, JobState::kDone).ok());
    auto e = loadErasureJob(*p, *id);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().find("job " + std::to_string(*id)), std::string::npos) << e.error();
    ASSERT_TRUE(p->setJobResult(*id, {{"losses", "nope"}}).ok());
    EXPECT_FALSE(loadErasureJob(*p, *id).ok());
}
