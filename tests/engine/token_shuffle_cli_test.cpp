// `tessera-cli generate --model DIR` on a Token-Shuffle checkpoint (the tiny random one of the
// documented schema): the estimate, a 128² run whose PNG carries the recipe and the window/schedule
// record, and Token-Shuffle options refused for Janus checkpoints.
#include "tessera/engine/bench.h"
#include "tessera/engine/image.h"

#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {
namespace {

struct CliRun {
    int status = -1;
    std::string out;
};

CliRun cli(const std::string& args) {
    const std::string cmd =
        (fs::path(TESSERA_BINARY_DIR) / "bin" / "tessera-cli").string() + " " + args + " 2>/dev/null";
    CliRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

TEST(TokenShuffleCli, GenerateDispatchesOnTheConfig) {
    const fs::path dir = fs::temp_directory_path() / ("tessera_tshuffle_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    bench::TokenShuffleShape s;
    s.hidden = 64;
    s.heads = 4;
    s.kv_heads = 2;
    s.intermediate = 128;
    s.codebook = 256;
    s.window = 2;
    s.grid = 8; // 128²
    ASSERT_TRUE(
        bench::writeRandomTokenShuffleCheckpoint(
            s, (dir / "model").string(), std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny", 3)
            .ok());
    const std::string model = " --model " + (dir / "model").string();

    CliRun e = cli("generate" + model + " --prompt 'a cat' --grid 128 --estimate");
    ASSERT_EQ(e.status, 0) << e.out;
    auto ej = nlohmann::json::parse(e.out);
    EXPECT_EQ(ej["image_size"], 2048);
    EXPECT_EQ(ej["steps"], 4096);
    EXPECT_GT(ej["peak_bytes_bound"].get<int64_t>(), 0);

    const std::string png = (dir / "out.png").string();
    CliRun g = cli("generate" + model +
                   " --prompt 'a cat' --seed 4 --cfg-schedule cosine --threads 2 --json --out " + png);
    ASSERT_EQ(g.status, 0) << g.out;
    auto gj = nlohmann::json::parse(g.out);
    EXPECT_EQ(gj["method"], "token-shuffle");
    EXPECT_EQ(gj["window"], 2);
    EXPECT_EQ(gj["steps"], 16);
    EXPECT_EQ(gj["cfg_schedule"], "cosine");
    std::map<std::string, std::string> text;
    auto img = readPng(png, &text);
    ASSERT_TRUE(img.ok()) << img.error();
    EXPECT_EQ(img->width, 128);
    ASSERT_TRUE(text.count("tessera"));
    auto recipe = nlohmann::json::parse(text["tessera"]);
    EXPECT_EQ(recipe["method"], "token-shuffle");
    ASSERT_TRUE(text.count("tessera-token-shuffle"));
    auto ts = nlohmann::json::parse(text["tessera-token-shuffle"]);
    EXPECT_EQ(ts["window"], 2);
    EXPECT_EQ(ts["cfg_schedule"], "cosine");

    // Token-Shuffle options on a Janus checkpoint (the default janus_tiny) are a usage error.
    EXPECT_EQ(cli("generate --prompt x --grid 8 --out " + (dir / "j.png").string()).status, 2);
    // A window that does not divide the grid is a clear error, not a crash.
    EXPECT_EQ(cli("generate" + model + " --prompt x --grid 7 --out " + (dir / "k.png").string()).status, 1);
    fs::remove_all(dir);
}

} // namespace
} // namespace tessera
