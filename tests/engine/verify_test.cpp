// Reference-set verification: every golden tensor a set carries is compared, and a Janus set without
// some paths' goldens verifies the rest and says what it did not find. Sets are copies of janus_tiny
// with golden.safetensors rewritten (tensors dropped from the header, or one appended).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

namespace fs = std::filesystem;

namespace tessera {

namespace {

const fs::path kJanusTiny = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "janus_tiny";

struct TempCopy {
    fs::path dir;
    explicit TempCopy(const std::string& tag) {
        dir = fs::temp_directory_path() / ("tessera-verify-" + tag + "-" + std::to_string(::getpid())) / "janus_tiny";
        fs::remove_all(dir.parent_path());
        fs::create_directories(dir.parent_path());
        fs::copy(kJanusTiny, dir, fs::copy_options::recursive);
    }
    ~TempCopy() {
        std::error_code ec;
        fs::remove_all(dir.parent_path(), ec);
    }
};

// Rewrites dir/golden.safetensors: `edit` changes the header JSON; `extra` bytes are appended to the data.
void rewriteGoldens(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit, size_t extra = 0) {
    const fs::path path = dir / "golden.safetensors";
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes.size(), 8u);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8); // little-endian on every machine Tessera builds for
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
    std::string data = bytes.substr(8 + n) + std::string(extra, '\0');
    edit(header);
    const std::string text = header.dump();
    const uint64_t len = text.size();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << text << data;
}

Expected<VerifyReport> verify(const fs::path& dir) {
    auto be = createBackend("cpu", 1);
    if (!be) return be.status();
    return verifyReferenceSet(dir.string(), **be);
}

bool hasCheck(const VerifyReport& r, const std::string& name) {
    for (const auto& c : r.checks)
        if (c.name == name) return true;
    return false;
}

} // namespace

TEST(Verify, TheShippedJanusSetComparesAllItsGoldens) {
    auto r = verify(kJanusTiny);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->passed());
    EXPECT_TRUE(r->notes.empty());
    for (const char* c : {"decoded_pixels", "gen_logits", "und_logits"}) EXPECT_TRUE(hasCheck(*r, c)) << c;
}

TEST(Verify, AGoldenNoCheckReadsFailsTheSet) {
    TempCopy copy("unknown");
    rewriteGoldens(copy.dir, [](nlohmann::json& h) {
        size_t end = 0;
        for (auto& [name, t] : h.items())
            if (name != "__metadata__") end = std::max(end, t["data_offsets"][1].get<size_t>());
        h["attention_probs"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {end, end + 8}}};
    }, 8);
    auto r = verify(copy.dir);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->passed());
    ASSERT_TRUE(hasCheck(*r, "unknown golden attention_probs"));
    for (const auto& c : r->checks) {
        if (c.name != "unknown golden attention_probs") {
            EXPECT_TRUE(c.passed) << c.name;
        }
    }
}

TEST(Verify, AJanusSetWithoutUnderstandingGoldensVerifiesGenerationAndSaysWhatIsMissing) {
    TempCopy copy("gen-only");
    rewriteGoldens(copy.dir, [](nlohmann::json& h) {
        for (const char* n : {"und_input_ids", "und_pixel_values", "und_logits"}) h.erase(n);
    });
    auto r = verify(copy.dir);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->passed());
    EXPECT_TRUE(hasCheck(*r, "decoded_pixels"));
    EXPECT_TRUE(hasCheck(*r, "gen_logits"));
    EXPECT_FALSE(hasCheck(*r, "und_logits"));
    ASSERT_EQ(r->notes.size(), 1u);
    EXPECT_NE(r->notes[0].find("und_logits"), std::string::npos) << r->notes[0];
    EXPECT_NE(r->notes[0].find("understanding"), std::string::npos) << r->notes[0];
}

TEST(Verify, HalfAPathsGoldensIsAnError) {
    TempCopy copy("half");
    rewriteGoldens(copy.dir, [](nlohmann::json& h) { h.erase("und_logits"); });
    auto r = verify(copy.dir);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("understanding goldens are incomplete"), std::string::npos) << r.error();
}

} // namespace tessera
