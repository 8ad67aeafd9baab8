// Media files: durable writes into <project>/media, sha256, and the locks that keep a recovery scan
// from deleting another process's write in flight.
#pragma once

#include "tessera/projects/records.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace tessera::projects::detail {

inline constexpr const char* kMediaDir = "media";
inline constexpr const char* kTempPrefix = ".tmp-";
inline constexpr const char* kWriteLockFile = ".media.lock";

// SHA-256 through OpenSSL's libcrypto.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    std::string hexDigest(); // finishes the hash

private:
    void* ctx_; // EVP_MD_CTX
};

std::string sha256File(const std::filesystem::path& file); // throws on read errors

// An flock on <project>/.media.lock: writers hold it shared from the temporary file until their row
// is committed; the recovery scan holds it exclusive. The kernel drops it when a process dies.
class MediaLock {
public:
    MediaLock(const std::filesystem::path& project_dir, bool exclusive);
    MediaLock(const MediaLock&) = delete;
    MediaLock& operator=(const MediaLock&) = delete;
    ~MediaLock();

private:
    int fd_ = -1;
};

struct WrittenMedia {
    std::string rel_path; // "media/<sha256>.<ext>"
    std::string sha256;
    int64_t size_bytes = 0;
};

// Writes the payload to media/.tmp-*, fsyncs it, renames it to media/<sha256>.<ext> and fsyncs the
// folder. The caller holds a shared MediaLock until the row that names the file is committed.
WrittenMedia writeMediaDurably(const std::filesystem::path& project_dir, const MediaPayload& media);

// fsync a directory so that a rename or creation in it survives power loss.
void syncDirectory(const std::filesystem::path& dir);

bool isTempName(const std::string& file_name);
std::string sanitizeExtension(const std::string& ext);

} // namespace tessera::projects::detail
