// The BPE model of tokenizer.json: vocabulary, ranked merges, unknown-token and byte-fallback rules.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tessera::tok {

class BpeModel {
public:
    // Throws tessera::Error naming what is malformed or unsupported.
    static BpeModel fromJson(const nlohmann::json& model);

    // Appends the ids of one pre-tokenized piece.
    void tokenize(std::string_view piece, std::vector<int32_t>& out) const;

    int32_t tokenId(std::string_view token) const; // -1 when absent
    const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

private:
    struct Merge {
        uint32_t rank;
        int32_t new_id;
    };
    static uint64_t pairKey(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    void mergeAll(std::vector<int32_t>& symbols) const;

    std::unordered_map<std::string, int32_t> vocab_;
    std::unordered_map<uint64_t, Merge> merges_;
    int32_t unk_id_ = -1;
    bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
    std::string continuing_prefix_, end_suffix_;
    std::array<int32_t, 256> byte_ids_{};
};

} // namespace tessera::tok
