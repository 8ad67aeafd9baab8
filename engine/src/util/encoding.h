// Small encodings used by recipes: SHA-256, base64, zlib-compressed token streams.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/engine/status.h"

namespace tessera::util {

// SHA-256 through OpenSSL's libcrypto.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t n);
    std::string hexDigest(); // finalises
private:
    void* ctx_; // EVP_MD_CTX
};

std::string base64Encode(const std::vector<uint8_t>& data);
Expected<std::vector<uint8_t>> base64Decode(std::string_view text);

// int32 tokens -> zlib(little-endian int32) -> base64; and back.
std::string packTokens(const std::vector<int32_t>& tokens);
Expected<std::vector<int32_t>> unpackTokens(std::string_view packed);

} // namespace tessera::util
