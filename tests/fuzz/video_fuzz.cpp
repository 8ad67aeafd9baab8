// Fuzz target: arbitrary bytes as a video container (MP4, WebM, GIF, animated WebP) through
// probeVideo and readVideoFrames, the readers behind `inspect` and `generate-video --replay`. Anything
// that is not a readable video must come back as an error, never a crash, a hang or an exception;
// frames that do decode must have the size the probe reported.
#include "tessera/media/video.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace tessera;

namespace {

void check(const std::string& path) {
    auto info = media::probeVideo(path);
    if (!info.ok()) {
        if (info.error().empty()) std::abort();
        return;
    }
    auto frames = media::readVideoFrames(path, 3);
    if (!frames.ok()) {
        if (frames.error().empty()) std::abort();
        return;
    }
    for (const auto& f : *frames)
        if (f.width <= 0 || f.height <= 0 || f.rgb.size() != static_cast<size_t>(f.width) * f.height * 3) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string base = "/tmp/tessera-fuzz-video-" + std::to_string(getpid());
    for (const char* ext : {".mp4", ".webm", ".gif", ".webp"}) {
        const std::string path = base + ext;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) std::abort();
        if (size && std::fwrite(data, 1, size, f) != size) std::abort();
        std::fclose(f);
        check(path);
        std::remove(path.c_str());
    }
    return 0;
}
