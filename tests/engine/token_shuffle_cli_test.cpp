// `tessera-cli generate --model DIR` on a Token-Shuffle checkpoint (the tiny random one of the
// documented schema): the estimate, a 128² run whose PNG carries the recipe and the window/schedule
// record, its replay (identical tokens and pixels; an edited recipe is caught), speculative decoding
// over windows and its replay, --project storage, and Token-Shuffle options refused for Janus
// checkpoints.
#include "engine/token_shuffle_test_util.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/image.h"
#include "tessera/engine/recipe.h"

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
    const bench::TokenShuffleShape s = test::tinyTokenShuffleShape(256, 8); // 128²
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

    // The PNG replays to identical tokens and pixels (a fresh run from its recipe alone).
    const std::string again = (dir / "again.png").string();
    CliRun rp = cli("replay " + png + " --threads 1 --out " + again);
    EXPECT_EQ(rp.status, 0) << rp.out;
    EXPECT_NE(rp.out.find("tokens  64/64 identical"), std::string::npos) << rp.out;
    EXPECT_NE(rp.out.find("pixels  identical"), std::string::npos) << rp.out;
    // A recipe whose tokens were changed no longer replays.
    {
        auto rec = Recipe::fromPngText(text);
        ASSERT_TRUE(rec.ok()) << rec.error();
        ASSERT_EQ(rec->tokens.size(), 64u);
        rec->tokens[5] = (rec->tokens[5] + 1) % 256;
        std::map<std::string, std::string> edited = text;
        for (const auto& [k, v] : rec->toPngText()) edited[k] = v;
        const std::string bad = (dir / "edited.png").string();
        ASSERT_TRUE(writePng(bad, *img, edited).ok());
        CliRun rb = cli("replay " + bad + " --out " + (dir / "again2.png").string());
        EXPECT_EQ(rb.status, 1) << rb.out;
        EXPECT_NE(rb.out.find("tokens  63/64 identical  MISMATCH"), std::string::npos) << rb.out;
    }

    // --project stores the run like a Janus one: the model as family token-shuffle, the tokens in
    // decode order with one statistic each, the window and schedule in the params.
    const std::string proj = (dir / "proj").string();
    CliRun gp = cli("generate" + model +
                    " --prompt 'a cat' --seed 4 --cfg-schedule cosine --threads 2 --json --out " +
                    (dir / "p.png").string() + " --project " + proj);
    ASSERT_EQ(gp.status, 0) << gp.out;
    auto gpj = nlohmann::json::parse(gp.out);
    ASSERT_EQ(gpj["generation_ids"].size(), 1u);
    EXPECT_EQ(gpj["tokens"], gj["tokens"]); // same seed and settings
    CliRun show = cli("project show " + proj + " " + std::to_string(gpj["generation_ids"][0].get<int64_t>()) +
                      " --json");
    ASSERT_EQ(show.status, 0) << show.out;
    auto sj = nlohmann::json::parse(show.out);
    EXPECT_EQ(sj["model"]["family"], "token-shuffle");
    EXPECT_EQ(sj["params"]["method"], "token-shuffle");
    EXPECT_EQ(sj["params"]["window"], 2);
    EXPECT_EQ(sj["params"]["cfg_schedule"], "cosine");
    EXPECT_EQ(sj["params"]["token_order"], "window");
    EXPECT_EQ(sj["token_count"], 64);
    EXPECT_TRUE(sj.contains("token_stats_mean")); // one statistic per token was stored
    std::map<std::string, std::string> stored_text;
    ASSERT_TRUE(readPng(sj["media"]["path"].get<std::string>(), &stored_text).ok());
    auto stored = Recipe::fromPngText(stored_text);
    ASSERT_TRUE(stored.ok()) << stored.error();
    EXPECT_EQ(nlohmann::json(stored->tokens), gj["tokens"][0]); // decode order, as generate reports

    // Speculative Jacobi decoding over windows: the JSON reports it, each window's four cells became
    // final in one LM step, the recipe records it, and the PNG replays to the same tokens.
    const std::string spng = (dir / "sjd.png").string();
    CliRun sg = cli("generate" + model + " --prompt 'a cat' --seed 8 --threads 1 --decode sjd --sjd-window 3 " +
                    "--sjd-init spatial --json --out " + spng);
    ASSERT_EQ(sg.status, 0) << sg.out;
    auto sgj = nlohmann::json::parse(sg.out);
    EXPECT_EQ(sgj["decode"], "sjd");
    EXPECT_EQ(sgj["sjd_window"], 3);
    EXPECT_EQ(sgj["sjd_init"], "spatial");
    EXPECT_LE(sgj["steps"].get<int>(), 16);
    ASSERT_EQ(sgj["step_of_cell"].size(), 1u);
    const auto step_of_cell = sgj["step_of_cell"][0].get<std::vector<int>>();
    ASSERT_EQ(step_of_cell.size(), 64u);
    for (int c = 0; c < 64; ++c) {
        const int window_corner = (c / 8 / 2 * 2) * 8 + (c % 8) / 2 * 2;
        EXPECT_EQ(step_of_cell[static_cast<size_t>(c)], step_of_cell[static_cast<size_t>(window_corner)]) << c;
        EXPECT_GE(step_of_cell[static_cast<size_t>(c)], 0) << c;
    }
    std::map<std::string, std::string> stext;
    ASSERT_TRUE(readPng(spng, &stext).ok());
    auto srec = Recipe::fromPngText(stext);
    ASSERT_TRUE(srec.ok()) << srec.error();
    EXPECT_EQ(srec->decode.strategy, DecodeStrategy::Sjd);
    EXPECT_EQ(srec->decode.window, 3);
    EXPECT_EQ(srec->decode.init, SjdInit::Spatial);
    CliRun srp = cli("replay " + spng + " --threads 2 --out " + (dir / "sjd_again.png").string());
    EXPECT_EQ(srp.status, 0) << srp.out;
    EXPECT_NE(srp.out.find("tokens  64/64 identical"), std::string::npos) << srp.out;

    // Token-Shuffle options on a Janus checkpoint (the default Janus model) are a usage error.
    EXPECT_EQ(cli("generate --prompt x --grid 8 --out " + (dir / "j.png").string()).status, 2);
    // A window that does not divide the grid is a clear error, not a crash.
    EXPECT_EQ(cli("generate" + model + " --prompt x --grid 7 --out " + (dir / "k.png").string()).status, 1);
    fs::remove_all(dir);
}

} // namespace
} // namespace tessera
