// 8-bit RGB images and PNG files carrying their recipe in text chunks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tessera/engine/status.h"

namespace tessera {

struct ImageRgb8 {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb; // width*height*3, row-major
};

// Writes a PNG with tEXt/iTXt chunks (key → UTF-8 text), atomically: to a temporary name, flushed,
// then renamed over `path`.
Status writePng(const std::string& path, const ImageRgb8& image, const std::map<std::string, std::string>& text = {});
// Reads pixels and text chunks.
Expected<ImageRgb8> readPng(const std::string& path, std::map<std::string, std::string>* text = nullptr);

// One picture's 8-bit RGB (`pixels` of them, row-major RGB as read) as three channel-major planes in
// [-1, 1], v / 127.5 - 1: what the VQ tokenizers read. Writes 3·pixels values to `planes`.
void rgb8ToSignedPlanes(const uint8_t* rgb, size_t pixels, float* planes);

} // namespace tessera
