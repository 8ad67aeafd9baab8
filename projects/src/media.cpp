// Sections: SHA-256 (OpenSSL), locks, durable writes.
#include "media.h"

#include "db.h"

#include <openssl/evp.h>

#include <cerrno>
#include <stdexcept>
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

std::string errnoText() {
    return std::strerror(errno);
}

} // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL could not start a SHA-256 digest");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t size) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::hexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0xf];
    }
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
