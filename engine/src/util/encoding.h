// Small encodings used by recipes: SHA-256, base64, zlib-compressed token streams.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/engine/status.h"

namespace tessera::util {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    std::string hexDigest(); // finalises
private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

std::string base64Encode(const std::vector<uint8_t>& data);
Expected<std::vector<uint8_t>> base64Decode(std::string_view text);

// int32 tokens -> zlib(little-endian int32) -> base64; and back.
std::string packTokens(const std::vector<int32_t>& tokens);
Expected<std::vector<int32_t>> unpackTokens(std::string_view packed);

} // namespace tessera::util
