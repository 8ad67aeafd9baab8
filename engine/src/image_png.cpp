// PNG read/write with text chunks (the recipe), written atomically.
#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include "tessera/engine/image.h"

namespace tessera {

namespace {

struct FileCloser {
    void operator()(FILE* f) const {
        if (f) std::fclose(f);
    }
};

} // namespace

Status writePng(const std::string& path, const ImageRgb8& image, const std::map<std::string, std::string>& text) {
    if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
        return Status::error("writePng: image has no pixels or a wrong buffer size");
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) return Status::error("cannot write " + tmp + ": " + std::strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        return Status::error("libpng: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        f.reset();
        std::remove(tmp.c_str());
        return Status::error("libpng failed writing " + path + " (disk full?)");
    }
    png_init_io(png, f.get());
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_text> chunks;
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
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) return Status::error("cannot open " + path + ": " + std::strerror(errno));
    unsigned char sig[8];
    if (std::fread(sig, 1, 8, f.get()) != 8 || png_sig_cmp(sig, 0, 8) != 0) return Status::error(path + " is not a PNG file");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return Status::error("libpng: out of memory");
    }
    ImageRgb8 img;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        return Status::error(path + ": corrupt PNG");
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
    img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
    std::vector<png_bytep> rows(static_cast<size_t>(img.height));
    for (int y = 0; y < img.height; ++y) rows[static_cast<size_t>(y)] = img.rgb.data() + static_cast<size_t>(y) * img.width * 3;
    png_read_image(png, rows.data());
    png_read_end(png, info);
    if (text) {
        png_textp chunks = nullptr;
        int n = png_get_text(png, info, &chunks, nullptr);
        for (int i = 0; i < n; ++i) (*text)[chunks[i].key] = std::string(chunks[i].text, chunks[i].itxt_length ? chunks[i].itxt_length : chunks[i].text_length);
    }
    png_destroy_read_struct(&png, &info, nullptr);
    return img;
}

} // namespace tessera
