#include "tessera/widgets/video_strip.h"

#include "tessera/engine/lumos.h"

#include <QPainter>
#include <algorithm>

namespace tessera::widgets {

QImage videoThumbnailStrip(const std::vector<QImage>& frames, int count, int height) {
    if (frames.empty() || frames.front().isNull() || count <= 0 || height <= 0) return {};
    count = std::min<int>(count, static_cast<int>(frames.size()));
    const QImage& first = frames.front();
    const int tile_w = std::max(1, first.width() * height / std::max(1, first.height()));
    QImage strip(tile_w * count, height, QImage::Format_RGB888);
    strip.fill(Qt::black);
    QPainter p(&strip);
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    for (int k = 0; k < count; ++k) {
        const size_t i =
            count == 1 ? 0 : static_cast<size_t>(k) * (frames.size() - 1) / static_cast<size_t>(count - 1);
        p.drawImage(QRect(k * tile_w, 0, tile_w, height), frames[i]);
    }
    return strip;
}

QImage codeDigitImage(const std::vector<int32_t>& codes, int lat_h, int lat_w) {
    if (lat_h <= 0 || lat_w <= 0 || codes.size() != static_cast<size_t>(lat_h) * static_cast<size_t>(lat_w))
        return {};
    const std::vector<uint8_t> rgb = lumosCodeDigitColours(codes);
    QImage img(rgb.data(), lat_w, lat_h, lat_w * 3, QImage::Format_RGB888);
    return img.copy();
}

} // namespace tessera::widgets
