// The one place the engine talks to the operating system about files: read-only memory maps.
#pragma once

#include "tessera/engine/status.h"

#include <cstddef>
#include <memory>
#include <string>

namespace tessera::platform {

class MappedFile {
public:
    // Maps the whole file read-only. Fails with a message naming the path and the OS error; folders,
    // FIFOs and devices are refused. An empty file maps to data() == nullptr, size() == 0.
    static Expected<std::shared_ptr<MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }

private:
    MappedFile() = default;
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace tessera::platform
