// Lumos-1's sequence builder, unconditional branch, frame mask and history mask against the official
// code's own helpers (run by tools/reference/lumos_sequence_oracle.py; outputs, with the commit and
// torch version, in tests/data/lumos_official/sequence.json).
#include "tessera/engine/lumos.h"
#include "tessera/engine/mm_rope.h"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tessera {

namespace {

nlohmann::json official() {
    std::ifstream in(std::string(TESSERA_TEST_DATA_DIR) + "/lumos_official/sequence.json");
    EXPECT_TRUE(in.good());
    return nlohmann::json::parse(in);
}

std::vector<int64_t> cat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

} // namespace

TEST(LumosOfficial, FramesAppendLikeTheOfficialMaskAppend) {
    const auto j = official();
    const auto prefix = lumosPrefix({5, 6, 7}, 1, 2);
    EXPECT_EQ(prefix, j["prefix"].get<std::vector<int64_t>>());
    const auto masked = lumosFrameSegment(nullptr, 4, 8, 32, 64);
    EXPECT_EQ(cat(prefix, masked), j["one_frame"].get<std::vector<int64_t>>());
    std::vector<int32_t> codes(32);
    for (int i = 0; i < 32; ++i) codes[static_cast<size_t>(i)] = i;
    const auto two = cat(cat(prefix, lumosFrameSegment(codes.data(), 4, 8, 32, 64)), masked);
    EXPECT_EQ(two, j["two_frames"].get<std::vector<int64_t>>());
    auto b = lumosBranches(two);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->uncond, j["uncond"].get<std::vector<int64_t>>());
    const auto allowed = frameCausalMask(two);
    const auto want = j["allowed"].get<std::vector<int64_t>>();
    ASSERT_EQ(allowed.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(static_cast<int64_t>(allowed[i]), want[i]) << i;
}

TEST(LumosOfficial, CommittedFrameAndHistoryPatternsMatch) {
    const auto j = official();
    std::vector<int32_t> codes(32);
    for (int i = 0; i < 32; ++i) codes[static_cast<size_t>(i)] = i;
    auto frame = lumosFrameSegment(codes.data(), 4, 8, 32, 64);
    for (int64_t k : lumosHistoryMask(36, 0.7)) frame[static_cast<size_t>(3 + k)] = LumosVocab::kMask;
    EXPECT_EQ(frame, j["committed_frame0"].get<std::vector<int64_t>>());
    int cases = 0;
    for (const auto& [key, value] : j["history_patterns"].items()) {
        const auto colon = key.find(':');
        const int64_t length = std::stoll(key.substr(0, colon));
        const double ratio = std::stod(key.substr(colon + 1));
        EXPECT_EQ(lumosHistoryMask(length, ratio), value.get<std::vector<int64_t>>()) << key;
        ++cases;
    }
    EXPECT_EQ(cases, 6);
}

} // namespace tessera
