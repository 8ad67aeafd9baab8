// PNG read/write with text chunks (the recipe), written atomically.
#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/engine/image.h"

namespace tessera {

namespace {

// Bounds on what a PNG may ask for: Tessera's images are at most a few thousand pixels a side and
// their recipe a few hundred kilobytes; a file claiming more is refused, not allocated for.
constexpr png_uint_32 kMaxPngSide = 16384;
constexpr uint64_t kMaxPngPixels = uint64_t(8192) * 8192;
constexpr png_alloc_size_t kMaxPngChunkBytes = 16u << 20;
constexpr png_uint_32 kMaxPngChunks = 1000;

// libpng's messages, kept for the Status instead of printed.
struct PngMessages {
    std::string error;
};

[[noreturn]] void onPngError(png_structp png, png_const_charp message) {
    if (auto* m = static_cast<PngMessages*>(png_get_error_ptr(png))) m->error = message ? message : "";
    png_longjmp(png, 1);
}

void onPngWarning(png_structp, png_const_charp) {}

// Walks the chunk list before libpng sees it: a chunk claiming more bytes than the file holds, or a
// non-image chunk larger than kMaxPngChunkBytes, is refused here (libpng would allocate for its claimed
// length first). Leaves the file positioned just after the signature.
Status checkChunkSizes(FILE* f, const std::string& path, uint64_t file_size) {
    uint64_t at = 8;
    unsigned char head[8];
    while (at + 12 <= file_size) {
        if (std::fseek(f, static_cast<long>(at), SEEK_SET) != 0 || std::fread(head, 1, 8, f) != 8) break;
        const uint64_t length = (uint64_t(head[0]) << 24) | (uint64_t(head[1]) << 16) | (uint64_t(head[2]) << 8) | head[3];
        const std::string type(reinterpret_cast<const char*>(head + 4), 4);
        if (length > file_size - at - 12)
            return Status::error(path + ": chunk " + type + " claims " + std::to_string(length) + " bytes, more than the file holds");
        if (type != "IDAT" && length > kMaxPngChunkBytes)
            return Status::error(path + ": chunk " + type + " of " + std::to_string(length) + " bytes is larger than Tessera reads");
        at += 12 + length;
        if (type == "IEND") break;
    }
    std::fseek(f, 8, SEEK_SET);
    return Status();
}

struct FileCloser {
    void operator()(FILE* f) const {
        if (f) std::fclose(f);
    }
};

// Temporaries are "<path>.tmp-<pid>"; one whose process is gone was left by a crash and is removed
// before the next write of the same path.
constexpr const char* kTmpInfix = ".tmp-";

void removeStaleTemporaries(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string prefix = p.filename().string() + kTmpInfix;
    std::error_code ec;
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string pid_text = name.substr(prefix.size());
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
        const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
        if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) fs::remove(it->path(), ec);
    }
}

} // namespace

Status writePng(const std::string& path, const ImageRgb8& image, const std::map<std::string, std::string>& text) {
    if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
        return Status::error("writePng: image has no pixels or a wrong buffer size");
    // Only regular files are written: renaming over a device node or a FIFO would replace it.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        return Status::error("will not write " + path + ": it exists and is not a regular file");
    removeStaleTemporaries(path);
    const std::string tmp = path + kTmpInfix + std::to_string(::getpid());
    std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wbx"));
    if (!f) return Status::error("cannot write " + tmp + ": " + std::strerror(errno));
    PngMessages messages;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &messages, onPngError, onPngWarning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        return Status::error("libpng: out of memory");
    }
    std::vector<png_text> chunks; // before setjmp: see readPng
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        f.reset();
        std::remove(tmp.c_str());
        const int err = errno;
        return Status::error("cannot write " + path + ": " +
                             (err == ENOSPC || err == EFBIG || err == EDQUOT ? std::string(std::strerror(err))
                                                                             : messages.error.empty() ? "libpng failed" : messages.error) +
                             " (nothing was written)");
    }
    png_init_io(png, f.get());
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (const auto& [k, v] : text) {
        png_text t{};
        t.compression = PNG_ITXT_COMPRESSION_NONE; // iTXt: UTF-8 prompts survive
        t.key = const_cast<char*>(k.c_str());
        t.text = const_cast<char*>(v.c_str());
        t.itxt_length = v.size();
        chunks.push_back(t);
    }
    if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
    png_write_info(png, info);
    for (int y = 0; y < image.height; ++y)
        png_write_row(png, const_cast<png_bytep>(image.rgb.data() + static_cast<size_t>(y) * image.width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (std::fflush(f.get()) != 0 || ::fsync(::fileno(f.get())) != 0) {
        f.reset();
        std::remove(tmp.c_str());
        return Status::error("cannot flush " + tmp + ": " + std::strerror(errno));
    }
    f.reset();
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        return Status::error("cannot rename " + tmp + " to " + path + ": " + ec.message());
    }
    return Status();
}

Expected<ImageRgb8> readPng(const std::string& path, std::map<std::string, std::string>* text) {
    // Opened without blocking so that a FIFO or a device is refused instead of waited on.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return Status::error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::error(path + " is not a regular file");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::unique_ptr<FILE, FileCloser> f(::fdopen(fd, "rb"));
    if (!f) {
        ::close(fd);
        return Status::error("cannot open " + path + ": " + std::strerror(errno));
    }
    unsigned char sig[8];
    if (std::fread(sig, 1, 8, f.get()) != 8 || png_sig_cmp(sig, 0, 8) != 0) return Status::error(path + " is not a PNG file");
    if (Status s = checkChunkSizes(f.get(), path, static_cast<uint64_t>(st.st_size)); !s.ok()) return s;
    PngMessages messages;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &messages, onPngError, onPngWarning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return Status::error("libpng: out of memory");
    }
    // Sizes read from the file are bounded before anything is allocated for them.
    png_set_user_limits(png, kMaxPngSide, kMaxPngSide);
    png_set_chunk_malloc_max(png, kMaxPngChunkBytes);
    png_set_chunk_cache_max(png, kMaxPngChunks);
    // Everything libpng may longjmp past is declared before setjmp, so that the jump back lands in
    // its scope and its destructor runs (objects declared after setjmp would leak).
    ImageRgb8 img;
    std::vector<png_bytep> rows;
    std::map<std::string, std::string> chunks_read;
    std::string duplicate;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        return Status::error(path + ": corrupt PNG" + (messages.error.empty() ? "" : " (" + messages.error + ")"));
    }
    png_init_io(png, f.get());
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    img.width = static_cast<int>(png_get_image_width(png, info));
    img.height = static_cast<int>(png_get_image_height(png, info));
    if (static_cast<uint64_t>(img.width) * static_cast<uint64_t>(img.height) > kMaxPngPixels) {
        png_destroy_read_struct(&png, &info, nullptr);
        return Status::error(path + ": " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                             " pixels is more than Tessera reads");
    }
    img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
    rows.resize(static_cast<size_t>(img.height));
    for (int y = 0; y < img.height; ++y) rows[static_cast<size_t>(y)] = img.rgb.data() + static_cast<size_t>(y) * img.width * 3;
    png_read_image(png, rows.data());
    png_read_end(png, info);
    if (text) {
        png_textp chunks = nullptr;
        int n = png_get_text(png, info, &chunks, nullptr);
        for (int i = 0; i < n; ++i) {
            const std::string key = chunks[i].key ? chunks[i].key : "";
            std::string value(chunks[i].text ? chunks[i].text : "",
                              chunks[i].itxt_length ? chunks[i].itxt_length : chunks[i].text_length);
            if (!chunks_read.emplace(key, std::move(value)).second && duplicate.empty()) duplicate = key;
        }
    }
    png_destroy_read_struct(&png, &info, nullptr);
    // Two chunks with one key: which one is meant cannot be told, so neither is taken.
    if (!duplicate.empty()) return Status::error(path + " carries two '" + duplicate + "' text chunks");
    if (text) *text = std::move(chunks_read);
    return img;
}

void rgb8ToSignedPlanes(const uint8_t* rgb, size_t pixels, float* planes) {
    for (size_t p = 0; p < pixels; ++p)
        for (size_t c = 0; c < 3; ++c) planes[c * pixels + p] = rgb[p * 3 + c] / 127.5f - 1.0f;
}

} // namespace tessera
