// Sections: SHA-256 (FIPS 180-4), locks, durable writes.
#include "media.h"

#include "db.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tessera::projects::detail {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- SHA-256

namespace {

const uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t rotr(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

std::string errnoText() {
    return std::strerror(errno);
}

} // namespace

Sha256::Sha256()
    : h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::block(const uint8_t* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
        w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) |
               uint32_t(p[4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
        uint32_t t1 =
            h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRoundConstants[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
}

void Sha256::update(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    total_ += size;
    while (size > 0) {
        size_t n = std::min(size, sizeof(buf_) - buf_len_);
        std::memcpy(buf_ + buf_len_, p, n);
        buf_len_ += n;
        p += n;
        size -= n;
        if (buf_len_ == 64) {
            block(buf_);
            buf_len_ = 0;
        }
    }
}

std::string Sha256::hexDigest() {
    uint64_t bits = total_ * 8;
    uint8_t pad = 0x80;
    update(&pad, 1);
    uint8_t zero = 0;
    while (buf_len_ != 56) update(&zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(bits >> (56 - 8 * i));
    update(len, 8);
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (uint32_t v : h_)
        for (int s = 28; s >= 0; s -= 4) out += kHex[(v >> s) & 0xf];
    return out;
}

std::string sha256File(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw DbError("cannot read " + file.string() + ": " + errnoText());
    Sha256 h;
    uint8_t buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::string why = errnoText();
            ::close(fd);
            throw DbError("cannot read " + file.string() + ": " + why);
        }
        if (n == 0) break;
        h.update(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return h.hexDigest();
}

// ---------------------------------------------------------------- locks

MediaLock::MediaLock(const fs::path& project_dir, bool exclusive) {
    fs::path file = project_dir / kWriteLockFile;
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw DbError("cannot open the lock file " + file.string() + ": " + errnoText());
    while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno == EINTR) continue;
        std::string why = errnoText();
        ::close(fd_);
        throw DbError("cannot lock " + file.string() + ": " + why);
    }
}

MediaLock::~MediaLock() {
    if (fd_ >= 0) ::close(fd_); // closing releases the flock
}

// ---------------------------------------------------------------- durable writes

void syncDirectory(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw DbError("cannot open folder " + dir.string() + ": " + errnoText());
    int rc = ::fsync(fd);
    std::string why = rc != 0 ? errnoText() : "";
    ::close(fd);
    if (rc != 0) throw DbError("cannot flush folder " + dir.string() + ": " + why);
}

bool isTempName(const std::string& name) {
    return name.rfind(kTempPrefix, 0) == 0;
}

std::string sanitizeExtension(const std::string& ext) {
    std::string out;
    for (char c : ext)
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out += c;
        else if (c >= 'A' && c <= 'Z')
            out += static_cast<char>(c - 'A' + 'a');
    if (out.empty() || out.size() > 12) out = "bin";
    return out;
}

WrittenMedia writeMediaDurably(const fs::path& project_dir, const MediaPayload& media) {
    fs::path media_dir = project_dir / kMediaDir;
    std::error_code ec;
    fs::create_directories(media_dir, ec);
    thread_local std::mt19937_64 rng(std::random_device{}());
    char tag[32];
    std::snprintf(tag, sizeof(tag), "%016llx", static_cast<unsigned long long>(rng()));
    fs::path temp = media_dir / (std::string(kTempPrefix) + tag + ".part");

    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) throw DbError("cannot create " + temp.string() + ": " + errnoText());
    auto abandon = [&](const std::string& why) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw UsageError("writing media into " + media_dir.string() + " failed: " + why);
    };
    Sha256 hash;
    int64_t size = 0;
    std::string write_error;
    ByteSink sink = [&](const void* data, size_t n) -> Status {
        const auto* p = static_cast<const uint8_t*>(data);
        hash.update(p, n);
        size += static_cast<int64_t>(n);
        while (n > 0) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                write_error = errnoText();
                return Status::error(write_error);
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
        return {};
    };
    Status st;
    if (media.writer) {
        try {
            st = media.writer(sink);
        } catch (const std::exception& e) {
            st = Status::error(e.what());
        }
    } else {
        st = sink(media.bytes.data(), media.bytes.size());
    }
    if (!st.ok()) abandon(st.message());
    if (::fsync(fd) != 0) abandon("fsync: " + errnoText());
    if (::close(fd) != 0) {
        ::unlink(temp.c_str());
        throw DbError("closing " + temp.string() + ": " + errnoText());
    }
    WrittenMedia out;
    out.sha256 = hash.hexDigest();
    out.size_bytes = size;
    out.rel_path = std::string(kMediaDir) + "/" + out.sha256 + "." + sanitizeExtension(media.extension);
    fs::path final_path = project_dir / out.rel_path;
    // Same name means same bytes (content addressed), so replacing an existing file is harmless.
    if (::rename(temp.c_str(), final_path.c_str()) != 0) {
        std::string why = errnoText();
        ::unlink(temp.c_str());
        throw DbError("cannot move media into place at " + final_path.string() + ": " + why);
    }
    syncDirectory(media_dir);
    return out;
}

} // namespace tessera::projects::detail
