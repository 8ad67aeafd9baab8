// Pictures of a video for lists: the thumbnail strip (a few frames side by side) the history shows
// and the project stores, and the code-digit picture of a latent grid. GUI or worker threads (QImage
// only, no widgets).
#pragma once

#include <QImage>
#include <cstdint>
#include <vector>

namespace tessera::widgets {

// `count` frames spread evenly over `frames` (first and last included), each scaled to `height`
// pixels, side by side. Null when there are no frames.
QImage videoThumbnailStrip(const std::vector<QImage>& frames, int count = 4, int height = 48);

// lat_w × lat_h picture of a code grid: each cell's code painted by its first three FSQ digits (the
// engine's lumosCodeDigitColours), masked cells (-1) grey. Not a decode.
QImage codeDigitImage(const std::vector<int32_t>& codes, int lat_h, int lat_w);

} // namespace tessera::widgets
