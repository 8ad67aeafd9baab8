#include "util/encoding.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <cstring>

namespace tessera::util {

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
        throw Error("OpenSSL could not start a SHA-256 digest");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t n) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n); }

std::string Sha256::hexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

std::string base64Encode(const std::vector<uint8_t>& data) {
    std::string out;
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
    }
    if (i < data.size()) {
        uint32_t v = uint32_t(data[i]) << 16;
        if (i + 1 < data.size()) v |= uint32_t(data[i + 1]) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < data.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Expected<std::vector<uint8_t>> base64Decode(std::string_view text) {
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char ch : text) {
        if (ch == '=' || ch == '\n' || ch == '\r') continue;
        const char* p = std::strchr(kB64, ch);
        if (!p || ch == '\0') return Status::error("invalid base64 character");
        acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>(acc >> bits));
        }
    }
    return out;
}

std::string packTokens(const std::vector<int32_t>& tokens) {
    std::vector<uint8_t> raw(tokens.size() * 4);
    for (size_t i = 0; i < tokens.size(); ++i)
        for (int b = 0; b < 4; ++b) raw[i * 4 + static_cast<size_t>(b)] = static_cast<uint8_t>(static_cast<uint32_t>(tokens[i]) >> (8 * b));
    uLongf n = compressBound(static_cast<uLong>(raw.size()));
    std::vector<uint8_t> z(n);
    compress2(z.data(), &n, raw.data(), static_cast<uLong>(raw.size()), 9);
    z.resize(n);
    return base64Encode(z);
}

Expected<std::vector<int32_t>> unpackTokens(std::string_view packed) {
    auto z = base64Decode(packed);
    if (!z) return z.status();
    std::vector<uint8_t> raw(1 << 16);
    for (;;) {
        uLongf n = static_cast<uLongf>(raw.size());
        int r = uncompress(raw.data(), &n, z->data(), static_cast<uLong>(z->size()));
        if (r == Z_BUF_ERROR && raw.size() < (64u << 20)) {
            raw.resize(raw.size() * 4);
            continue;
        }
        if (r != Z_OK) return Status::error("token stream is corrupt (zlib error " + std::to_string(r) + ")");
        raw.resize(n);
        break;
    }
    if (raw.size() % 4) return Status::error("token stream length is not a multiple of 4 bytes");
    std::vector<int32_t> out(raw.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
        uint32_t v = 0;
        for (int b = 0; b < 4; ++b) v |= uint32_t(raw[i * 4 + static_cast<size_t>(b)]) << (8 * b);
        out[i] = static_cast<int32_t>(v);
    }
    return out;
}

} // namespace tessera::util
