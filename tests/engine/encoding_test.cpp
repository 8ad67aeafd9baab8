#include <gtest/gtest.h>

#include <filesystem>

#include "tessera/engine/image.h"
#include "util/encoding.h"

namespace tessera {

TEST(Sha256, KnownDigests) {
    util::Sha256 a;
    EXPECT_EQ(a.hexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    util::Sha256 b;
    b.update("abc", 3);
    EXPECT_EQ(b.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    util::Sha256 c;
    std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    c.update(m.data(), m.size());
    EXPECT_EQ(c.hexDigest(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Base64, Rfc4648Vectors) {
    auto enc = [](std::string s) { return util::base64Encode(std::vector<uint8_t>(s.begin(), s.end())); };
    EXPECT_EQ(enc(""), "");
    EXPECT_EQ(enc("f"), "Zg==");
    EXPECT_EQ(enc("fo"), "Zm8=");
    EXPECT_EQ(enc("foo"), "Zm9v");
    EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
    auto dec = util::base64Decode("Zm9vYmE=");
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(std::string(dec->begin(), dec->end()), "fooba");
    EXPECT_FALSE(util::base64Decode("Zm9v*").ok());
}

TEST(TokenStream, RoundTripsAndRejectsGarbage) {
    std::vector<int32_t> t = {0, 1, 16383, -1, 42, 42, 42};
    auto back = util::unpackTokens(util::packTokens(t));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, t);
    EXPECT_FALSE(util::unpackTokens("Zm9vYmFy").ok());
}

TEST(Png, TextChunksAndPixelsRoundTrip) {
    auto dir = std::filesystem::temp_directory_path() / "tessera_png_test";
    std::filesystem::create_directories(dir);
    ImageRgb8 img;
    img.width = 3;
    img.height = 2;
    for (int i = 0; i < 18; ++i) img.rgb.push_back(static_cast<uint8_t>(i * 14));
    const std::string path = (dir / "a.png").string();
    ASSERT_TRUE(writePng(path, img, {{"parameters", "a red cube ✓"}, {"tessera", "{\"seed\":1}"}}).ok());
    std::map<std::string, std::string> text;
    auto back = readPng(path, &text);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->rgb, img.rgb);
    EXPECT_EQ(text["parameters"], "a red cube ✓");
    EXPECT_EQ(text["tessera"], "{\"seed\":1}");
    EXPECT_FALSE(readPng((dir / "missing.png").string()).ok());
    std::filesystem::remove_all(dir);
}

} // namespace tessera
