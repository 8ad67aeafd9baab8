// PNG files with a recipe, read and written as a hostile file system and hostile files would have it:
// FIFOs and device nodes, a chunk claiming 2 GB, duplicate recipe chunks, leftovers of a crashed write,
// and recipes whose numbers a plain JSON conversion would bend (2^64 -> 0, 1.5 -> 1, index past the batch).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <functional>
#include <random>
#include <csignal>

#include "tessera/engine/image.h"
#include "tessera/engine/recipe.h"

namespace fs = std::filesystem;

namespace tessera {

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        dir = fs::temp_directory_path() /
              ("tessera-png-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
               std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

ImageRgb8 tinyImage() {
    ImageRgb8 img;
    img.width = img.height = 4;
    img.rgb.assign(4 * 4 * 3, 77);
    return img;
}

Recipe goodRecipe() {
    Recipe r;
    r.model_name = "janus_tiny";
    r.model_dir = "/models/janus_tiny";
    r.model_hash = std::string(64, 'a');
    r.prompt = "a red cube";
    r.seed = 42;
    r.images = 2;
    r.image_index = 1;
    r.grid_h = r.grid_w = 2;
    r.backend = "cpu";
    r.precision = "f32";
    r.tokens = {1, 2, 3, 4};
    return r;
}

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeAll(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string chunk(const std::string& type, const std::string& data, uint32_t claimed_length) {
    std::string out;
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((claimed_length >> s) & 0xFF));
    out += type + data;
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), 4);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((crc >> s) & 0xFF));
    return out;
}

// A PNG written by writePng with `extra` inserted just before its IEND chunk.
std::string pngWithChunkBeforeEnd(const std::string& path, const std::string& extra) {
    EXPECT_TRUE(writePng(path, tinyImage(), goodRecipe().toPngText()).ok());
    std::string bytes = readAll(path);
    const size_t iend = bytes.size() - 12;
    EXPECT_EQ(bytes.substr(iend + 4, 4), "IEND");
    return bytes.substr(0, iend) + extra + bytes.substr(iend);
}

Expected<Recipe> recipeWith(const std::function<void(nlohmann::json&)>& edit) {
    auto text = goodRecipe().toPngText();
    auto j = nlohmann::json::parse(text["tessera"]);
    edit(j);
    text["tessera"] = j.dump();
    return Recipe::fromPngText(text);
}

} // namespace

TEST(Png, RoundTripsPixelsAndRecipe) {
    TempDir t;
    ASSERT_TRUE(writePng(t / "a.png", tinyImage(), goodRecipe().toPngText()).ok());
    std::map<std::string, std::string> text;
    auto img = readPng(t / "a.png", &text);
    ASSERT_TRUE(img.ok()) << img.error();
    EXPECT_EQ(img->rgb, tinyImage().rgb);
    auto r = Recipe::fromPngText(text);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->seed, 42u);
    EXPECT_EQ(r->tokens, goodRecipe().tokens);
}

TEST(Png, AFifoIsRefusedNotWaitedOn) {
    TempDir t;
    ASSERT_EQ(::mkfifo((t / "fifo.png").c_str(), 0600), 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto img = readPng(t / "fifo.png");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    ASSERT_FALSE(img.ok());
    EXPECT_NE(img.error().find("not a regular file"), std::string::npos) << img.error();
}

TEST(Png, WritingOntoAFifoOrDeviceIsRefusedAndLeavesItInPlace) {
    TempDir t;
    ASSERT_EQ(::mkfifo((t / "fifo.png").c_str(), 0600), 0);
    Status s = writePng(t / "fifo.png", tinyImage());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
    struct stat st {};
    ASSERT_EQ(::lstat((t / "fifo.png").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    // A symlink to /dev/null is refused as well (lstat: the link is not a regular file).
    fs::create_symlink("/dev/null", t.dir / "null.png");
    EXPECT_FALSE(writePng(t / "null.png", tinyImage()).ok());
    EXPECT_TRUE(fs::is_symlink(t.dir / "null.png"));
}

TEST(Png, AChunkClaimingTwoGigabytesIsNotAllocated) {
    TempDir t;
    // An iTXt chunk whose length field says 2^31 - 16 bytes, followed by only a few: an error, in a
    // child limited to 256 MB of address space so that an attempt to allocate for it cannot succeed.
    const std::string bytes = pngWithChunkBeforeEnd(t / "a.png", chunk("iTXt", std::string("junk\0\0\0\0\0{}", 11), 0x7FFFFFF0));
    writeAll(t / "big.png", bytes);
    ASSERT_LT(bytes.size(), 4096u);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        rlimit lim{256u << 20, 256u << 20};
        ::setrlimit(RLIMIT_AS, &lim);
        std::map<std::string, std::string> text;
        auto img = readPng(t / "big.png", &text);
        ::_exit(!img.ok() && img.error().find("more than the file holds") != std::string::npos && !text.count("junk") ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "readPng died by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Sizes from the file are bounded before use: a text chunk of 20 MB (real data this time) is more than
// any recipe and is not read into memory.
TEST(Png, TextChunksPastTheLimitAreNotRead) {
    TempDir t;
    const std::string data = std::string("junk\0\0\0\0\0", 9) + std::string(20u << 20, 'x');
    writeAll(t / "big.png", pngWithChunkBeforeEnd(t / "a.png", chunk("iTXt", data, static_cast<uint32_t>(data.size()))));
    std::map<std::string, std::string> text;
    auto img = readPng(t / "big.png", &text);
    EXPECT_EQ(text.count("junk"), 0u) << "a " << text["junk"].size() << "-byte chunk was read";
    ASSERT_FALSE(img.ok());
    EXPECT_NE(img.error().find("larger than Tessera reads"), std::string::npos) << img.error();
}

TEST(Png, TwoRecipeChunksAreAnErrorNotLastOneWins) {
    TempDir t;
    Recipe other = goodRecipe();
    other.seed = 7;
    const std::string second = other.toPngText()["tessera"];
    std::string data = "tessera";
    data += std::string("\0\0\0\0\0", 5) + second; // keyword, NUL, flag, method, language NUL, translated NUL
    writeAll(t / "dup.png", pngWithChunkBeforeEnd(t / "a.png", chunk("iTXt", data, static_cast<uint32_t>(data.size()))));
    std::map<std::string, std::string> text;
    auto img = readPng(t / "dup.png", &text);
    ASSERT_FALSE(img.ok());
    EXPECT_NE(img.error().find("two 'tessera' text chunks"), std::string::npos) << img.error();
}

TEST(Png, LeftoverTemporariesOfDeadProcessesAreRemovedOnTheNextWrite) {
    TempDir t;
    // A process that has exited: its pid is free (and, in a test run this short, not reused).
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const std::string stale = t / ("out.png.tmp-" + std::to_string(dead));
    const std::string live = t / ("out.png.tmp-" + std::to_string(::getppid())); // a process that runs
    const std::string unrelated = t / "other.png.tmp-1";
    for (const auto& p : {stale, live, unrelated}) writeAll(p, "partial");
    ASSERT_TRUE(writePng(t / "out.png", tinyImage()).ok());
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(live));
    EXPECT_TRUE(fs::exists(unrelated));
    EXPECT_TRUE(fs::exists(t / "out.png"));
}

TEST(Png, AFileSizeLimitGivesAClearErrorAndNoFile) {
    TempDir t;
    ImageRgb8 big;
    big.width = big.height = 256;
    big.rgb.resize(256 * 256 * 3);
    std::mt19937 rng(1);
    for (auto& v : big.rgb) v = static_cast<uint8_t>(rng()); // incompressible: about 192 KB on disk
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit lim{16384, 16384};
        ::setrlimit(RLIMIT_FSIZE, &lim);
        Status s = writePng(t / "big.png", big);
        ::_exit(!s.ok() && s.message().find("File too large") != std::string::npos ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_FALSE(fs::exists(t / "big.png"));
    for (const auto& e : fs::directory_iterator(t.dir)) ADD_FAILURE() << "left behind: " << e.path();
}

TEST(Recipe, NumbersAPlainConversionWouldBendAreRefused) {
    EXPECT_TRUE(recipeWith([](nlohmann::json&) {}).ok());
    EXPECT_TRUE(recipeWith([](nlohmann::json& j) { j["seed"] = 18446744073709551615ull; }).ok());
    for (const char* seed : {"18446744073709551616", "1.5", "-1", "\"7\""}) {
        auto r = recipeWith([&](nlohmann::json& j) { j["seed"] = nlohmann::json::parse(seed); });
        ASSERT_FALSE(r.ok()) << seed;
        EXPECT_NE(r.error().find("seed"), std::string::npos) << r.error();
    }
    for (int index : {2, -1, 1000000}) {
        auto r = recipeWith([&](nlohmann::json& j) { j["image_index"] = index; });
        ASSERT_FALSE(r.ok()) << index;
        EXPECT_NE(r.error().find("image_index"), std::string::npos) << r.error();
    }
    EXPECT_FALSE(recipeWith([](nlohmann::json& j) { j["images"] = 0; }).ok());
    EXPECT_FALSE(recipeWith([](nlohmann::json& j) { j["grid"] = {1 << 20, 1 << 20}; }).ok());
    EXPECT_FALSE(recipeWith([](nlohmann::json& j) { j["sampler"]["cfg"] = "nan"; }).ok());
    EXPECT_FALSE(recipeWith([](nlohmann::json& j) { j["sampler"]["cfg"] = 1e300; }).ok());
    EXPECT_FALSE(recipeWith([](nlohmann::json& j) { j["token_count"] = 5; }).ok());
    auto text = goodRecipe().toPngText();
    text["tessera"] = "[1, 2";
    EXPECT_FALSE(Recipe::fromPngText(text).ok());
}

} // namespace tessera
