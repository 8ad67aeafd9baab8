// Fuzz target: arbitrary bytes as a PNG file, through readPng (pixels and text chunks) and the recipe
// reader behind `inspect` and `replay`. Any crash, sanitizer report, hang or allocation past the
// fuzzer's limit is a finding; errors returned as Status are the expected outcome for most inputs.
#include "tessera/engine/image.h"
#include "tessera/engine/recipe.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// readPng takes a path: the input goes into one memory-backed file, reached through /proc/self/fd.
int inputFd() {
    static const int fd = ::memfd_create("tessera-fuzz-png", MFD_CLOEXEC);
    return fd;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const int fd = inputFd();
    if (fd < 0 || ::ftruncate(fd, 0) != 0) return 0;
    if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
    std::map<std::string, std::string> text;
    auto img = tessera::readPng("/proc/self/fd/" + std::to_string(fd), &text);
    if (!img) return 0;
    volatile size_t sink = img->rgb.size();
    auto recipe = tessera::Recipe::fromPngText(text);
    if (recipe) {
        // What inspect prints and replay relies on.
        sink = sink + recipe->parametersLine().size() + recipe->tokens.size();
        if (recipe->image_index < 0 || recipe->image_index >= recipe->images) __builtin_trap();
    }
    (void)sink;
    return 0;
}
