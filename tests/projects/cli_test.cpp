// `tessera-cli project …` end to end: the commands run on a project filled through the API and their
// --json output is checked. Fails when tessera-cli was not built in this build folder.
#include "media.h"
#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct Run {
    int code = -1;
    std::string out;
};

fs::path cliPath() {
    return fs::path(TESSERA_BINARY_DIR) / "bin" / "tessera-cli";
}

Run run(const std::string& args) {
    Run r;
    std::string cmd = cliPath().string() + " project " + args + " 2>/dev/null";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return r;
    std::array<char, 4096> buf;
    for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) r.out.append(buf.data(), n);
    int status = ::pclose(f);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

nlohmann::json runJson(const std::string& args) {
    Run r = run(args + " --json");
    EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << args << " printed no JSON:\n" << r.out;
    return j;
}

} // namespace

TEST(Cli, ProjectCommandsWorkOnARealProject) {
    ASSERT_TRUE(fs::exists(cliPath())) << "tessera-cli not built at " << cliPath();
    TempDir dir, out;
    std::string d = dir.path().string();
    auto created = runJson("create " + d);
    EXPECT_EQ(created["schema_version"], Project::latestSchemaVersion());
    EXPECT_NE(run("create " + d).code, 0) << "creating twice fails";

    int64_t root = 0, child = 0;
    {
        auto p = Project::open(dir.path());
        ASSERT_TRUE(p.ok()) << p.error();
        GenerationRecord g;
        g.prompt = "a lighthouse in a storm";
        g.seed = 99;
        g.tokens = {5, 6, 7, 8};
        g.tags = {"sea"};
        MediaPayload m;
        m.kind = "image/png";
        m.extension = "png";
        m.bytes = {1, 2, 3};
        root = *p->addGeneration(g, &m);
        child = *p->branch(root, 2, BranchSpec{100});
        ASSERT_TRUE(p->submitJob("generate", {{"prompt", "later"}}).ok());
    }

    auto list = runJson("list " + d);
    EXPECT_EQ(list["counts"]["generations"], 2);
    EXPECT_EQ(list["counts"]["jobs_pending"], 1);
    EXPECT_EQ(list["generations"][0]["id"], child); // newest first

    auto show = runJson("show " + d + " " + std::to_string(root));
    EXPECT_EQ(show["prompt"], "a lighthouse in a storm");
    EXPECT_EQ(show["token_count"], 4);
    ASSERT_EQ(show["branches"].size(), 1u);
    EXPECT_EQ(show["branches"][0]["id"], child);
    EXPECT_EQ(show["branches"][0]["branch_token"], 2);
    EXPECT_EQ(show["media"]["sha256"], "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81");

    auto hits = runJson("search " + d + " lighthouse");
    ASSERT_EQ(hits.size(), 2u);
    auto sea = runJson("search " + d + " sea");
    ASSERT_EQ(sea.size(), 1u);
    EXPECT_EQ(sea[0]["id"], root);

    auto exported = runJson("export " + d + " " + std::to_string(root) + " " + out.path().string());
    std::ifstream recipe(exported["recipe"].get<std::string>());
    auto r = nlohmann::json::parse(recipe, nullptr, false);
    ASSERT_FALSE(r.is_discarded());
    EXPECT_EQ(r["seed"], 99);
    EXPECT_TRUE(fs::exists(out.path() / r["media"]["file"].get<std::string>()));

    // A stray temporary file and an orphan, as a crash would leave them.
    std::ofstream(dir.path() / "media" / ".tmp-0000.part") << "half";
    std::ofstream(dir.path() / "media" / "orphan.part") << "orphan";
    const fs::path own = dir.path() / "media" / (detail::sha256File(dir.path() / "media" / "orphan.part") + ".png");
    fs::rename(dir.path() / "media" / "orphan.part", own);
    std::ofstream(dir.path() / "media" / "photo.jpg") << "someone else's";
    auto rec = runJson("recover " + d);
    EXPECT_EQ(rec["temp_files_removed"], 1);
    EXPECT_EQ(rec["orphan_files_removed"], 1);
    EXPECT_EQ(rec["foreign_files_kept"], 1);
    EXPECT_EQ(rec["integrity_ok"], true);
    EXPECT_FALSE(fs::exists(own));
    EXPECT_TRUE(fs::exists(dir.path() / "media" / "photo.jpg"));

    EXPECT_EQ(run("show " + d + " 12345").code, 1);
    EXPECT_EQ(run("show " + d + " abc").code, 2);
    EXPECT_EQ(run("list " + d + " --bogus").code, 2);
    EXPECT_EQ(run("list /nonexistent/tessera/project").code, 1);
    EXPECT_EQ(run("frobnicate " + d).code, 2);
    EXPECT_EQ(run("search --help").code, 0);
}
