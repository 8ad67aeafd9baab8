#include "media.h"
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

// Known answers from FIPS 180-4 examples and the published empty-string digest.
TEST(Sha256, KnownAnswers) {
    auto hex = [](const std::string& s) {
        detail::Sha256 h;
        h.update(s.data(), s.size());
        return h.hexDigest();
    };
    EXPECT_EQ(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    std::string million(1000000, 'a');
    EXPECT_EQ(hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Project, CreateThenOpen) {
    TempDir dir;
    {
        auto p = Project::create(dir.path());
        ASSERT_TRUE(p.ok()) << p.error();
        EXPECT_EQ(*p->schemaVersion(), Project::latestSchemaVersion());
        EXPECT_TRUE(p->integrityCheck().ok());
    }
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "project.db"));
    EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "media"));
    EXPECT_FALSE(Project::create(dir.path()).ok()) << "creating over an existing project must fail";
    auto p = Project::open(dir.path());
    ASSERT_TRUE(p.ok()) << p.error();
}

TEST(Project, OpenMissingSaysHowToCreate) {
    TempDir dir;
    auto p = Project::open(dir.path());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("project create"), std::string::npos) << p.error();
}

TEST(Project, GarbageDatabaseIsAnErrorNotACrash) {
    TempDir dir;
    std::filesystem::create_directories(dir.path());
    std::ofstream(dir.path() / "project.db") << "this is not a database at all, just some text........";
    auto p = Project::open(dir.path());
    EXPECT_FALSE(p.ok());
}

TEST(Project, ModelsAreDeduplicatedByPathAndHash) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    ModelRecord m{0, "/models/janus-1b", "janus", "abc123", 42, 0};
    auto a = p->addModel(m), b = p->addModel(m);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
    m.content_hash = "def456";
    EXPECT_NE(*p->addModel(m), *a);
    EXPECT_EQ(p->listModels()->size(), 2u);
    EXPECT_EQ(p->model(*a)->family, "janus");
    EXPECT_FALSE(p->model(999).ok());
}

TEST(Project, AssetsAreContentAddressedAndDurable) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    MediaPayload m;
    m.kind = "image/png";
    m.extension = "png";
    m.bytes = {'a', 'b', 'c'};
    auto a = p->addAsset(m);
    ASSERT_TRUE(a.ok()) << a.error();
    EXPECT_EQ(a->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(a->rel_path, "media/" + a->sha256 + ".png");
    EXPECT_EQ(readFile(p->assetPath(*a)), "abc");
    auto again = p->addAsset(m);
    EXPECT_EQ(again->id, a->id);
    // Streaming writer: same bytes in two pieces, same file.
    MediaPayload w;
    w.kind = "image/png";
    w.extension = "png";
    w.writer = [](const ByteSink& sink) {
        if (auto s = sink("a", 1); !s) return s;
        return sink("bc", 2);
    };
    EXPECT_EQ(p->addAsset(w)->id, a->id);
    // A failing writer leaves no file and no row behind.
    MediaPayload bad;
    bad.extension = "png";
    bad.writer = [](const ByteSink& sink) {
        (void)sink("partial", 7);
        return Status::error("encoder ran out of frames");
    };
    auto r = p->addAsset(bad);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("encoder ran out of frames"), std::string::npos);
    EXPECT_EQ(p->listAssets()->size(), 1u);
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path() / "media")) files += e.is_regular_file();
    EXPECT_EQ(files, 1);
}

TEST(Project, AtomicallyCommitsAllOrNothing) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto job = p->submitJob("generate", nlohmann::json::object());
    ASSERT_TRUE(job.ok());
    auto addTwo = [&](bool fail_after) {
        return p->atomically([&]() -> Status {
            for (int i = 0; i < 2; ++i) {
                GenerationRecord g;
                g.job_id = *job;
                g.prompt = "p" + std::to_string(i);
                g.state = GenerationState::kComplete;
                MediaPayload m;
                m.kind = "image/png";
                m.extension = "png";
                m.bytes = {static_cast<uint8_t>('a' + i), static_cast<uint8_t>(fail_after ? 'x' : 'y')};
                if (auto id = p->addGeneration(g, &m); !id) return Status::error(id.error());
            }
            if (auto s = p->updateJobState(*job, JobState::kRunning); !s) return s;
            return fail_after ? Status::error("the encoder failed") : Status();
        });
    };
    Status failed = addTwo(true);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.message(), "the encoder failed");
    EXPECT_TRUE(p->history()->empty());
    EXPECT_EQ(p->job(*job)->state, JobState::kQueued);
    EXPECT_TRUE(p->listAssets()->empty());
    // The failed body's media files are named by no row: recover removes them.
    auto report = p->recover();
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->orphan_files_removed, 2);

    ASSERT_TRUE(addTwo(false).ok());
    EXPECT_EQ(p->history()->size(), 2u);
    EXPECT_EQ(p->job(*job)->state, JobState::kRunning);
    EXPECT_TRUE(p->integrityCheck().ok());
}

TEST(Project, ScenesAndErasures) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto s = p->addScene({0, "room", "cube at (0,0,0)", nlohmann::json{{"objects", 1}}, 0});
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(p->scene(*s)->parsed["objects"], 1);
    EXPECT_EQ(p->scene(*s)->program, "cube at (0,0,0)");

    ErasureRecord e;
    e.concept_name = "van gogh";
    e.prompt_pairs = nlohmann::json::array({{{"anchor", "a painting"}, {"target", "a van gogh painting"}}});
    e.loss_curve = {1.5f, 0.75f, 0.25f};
    MediaPayload delta;
    delta.kind = "tensor/delta";
    delta.extension = "safetensors";
    delta.bytes = std::vector<uint8_t>(1000, 7);
    auto id = p->addErasure(e, &delta);
    ASSERT_TRUE(id.ok()) << id.error();
    auto back = p->erasure(*id);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->loss_curve, e.loss_curve);
    EXPECT_EQ(back->prompt_pairs, e.prompt_pairs);
    ASSERT_TRUE(back->delta_asset_id.has_value());
    EXPECT_EQ(p->asset(*back->delta_asset_id)->size_bytes, 1000);
    EXPECT_FALSE(p->addErasure(ErasureRecord{}).ok()) << "an erasure without a concept is rejected";
}

TEST(Project, ExportWritesMediaAndRecipe) {
    TempDir dir, out;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto model = p->addModel({0, "/m/janus", "janus", "h", 1, 0});
    GenerationRecord g;
    g.prompt = "a lighthouse at dusk";
    g.seed = 7;
    g.model_id = *model;
    g.tokens = {1, 2, 3};
    MediaPayload m;
    m.kind = "image/png";
    m.extension = "png";
    m.bytes = {9, 9, 9};
    auto id = p->addGeneration(g, &m);
    ASSERT_TRUE(id.ok()) << id.error();
    auto recipe = p->exportGeneration(*id, out.path());
    ASSERT_TRUE(recipe.ok()) << recipe.error();
    auto j = nlohmann::json::parse(readFile(*recipe));
    EXPECT_EQ(j["prompt"], "a lighthouse at dusk");
    EXPECT_EQ(j["seed"], 7);
    EXPECT_EQ(j["model"]["family"], "janus");
    EXPECT_EQ(readFile(out.path() / j["media"]["file"].get<std::string>()), std::string("\x09\x09\x09"));
    EXPECT_EQ(p->listExports()->size(), 1u);
    EXPECT_FALSE(p->exportGeneration(12345, out.path()).ok());
}
