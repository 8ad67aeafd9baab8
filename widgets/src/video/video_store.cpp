#include "video/video_store.h"

#include "tessera/media/video.h"
#include "tessera/widgets/video_strip.h"

#include <QBuffer>
#include <QTemporaryDir>
#include <cstring>
#include <fstream>
#include <iterator>

namespace tessera::widgets {

namespace pj = tessera::projects;

Status videoPayloads(const VideoClip& clip, pj::MediaPayload& video, pj::MediaPayload& strip) {
    if (clip.frames.empty()) return Status::error("the video has no frames");
    std::vector<ImageRgb8> frames;
    for (const QImage& f : clip.frames) {
        if (f.isNull()) return Status::error("the video is incomplete: a frame is missing");
        const QImage rgb = f.convertToFormat(QImage::Format_RGB888);
        ImageRgb8 img;
        img.width = rgb.width();
        img.height = rgb.height();
        img.rgb.resize(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
        for (int y = 0; y < img.height; ++y)
            std::memcpy(img.rgb.data() + static_cast<size_t>(y) * static_cast<size_t>(img.width) * 3,
                        rgb.constScanLine(y), static_cast<size_t>(img.width) * 3);
        frames.push_back(std::move(img));
    }
    QTemporaryDir tmp;
    if (!tmp.isValid()) return Status::error("cannot make a temporary folder for the video");
    const std::string path = tmp.filePath("clip.mp4").toStdString();
    media::VideoExportOptions o;
    o.fps = {std::max(1, clip.fps), 1};
    if (!clip.recipe.isEmpty()) o.metadata[media::kRecipeKey] = clip.recipe.toStdString();
    Status st = media::writeVideo(path, frames, o);
    if (!st.ok()) return st;
    std::ifstream in(path, std::ios::binary);
    video.kind = "video/mp4";
    video.extension = "mp4";
    video.bytes.assign(std::istreambuf_iterator<char>(in), {});
    if (video.bytes.empty()) return Status::error("cannot read back the encoded video");
    video.meta = {{"frames", clip.frames.size()}, {"fps", clip.fps}};
    QByteArray png;
    QBuffer buf(&png);
    buf.open(QIODevice::WriteOnly);
    if (!videoThumbnailStrip(clip.frames).save(&buf, "PNG"))
        return Status::error("cannot encode the thumbnail strip");
    strip.kind = "image/png";
    strip.extension = "png";
    strip.bytes.assign(png.begin(), png.end());
    return Status();
}

std::shared_ptr<VideoClip> storedClip(pj::Project& project, const pj::GenerationRecord& r) {
    if (r.kind != "video" || !r.asset_id) return nullptr;
    auto asset = project.asset(*r.asset_id);
    if (!asset || asset->state != pj::AssetState::kOk) return nullptr;
    auto frames = media::readVideoFrames(project.assetPath(*asset).string());
    if (!frames) return nullptr;
    auto clip = std::make_shared<VideoClip>();
    for (const ImageRgb8& f : *frames) {
        QImage img(f.rgb.data(), f.width, f.height, f.width * 3, QImage::Format_RGB888);
        clip->frames.push_back(img.copy());
    }
    clip->decoded = r.params.value("decoded", true);
    clip->fps = r.params.value("fps", 0);
    clip->latent_frames = r.params.value("latent_frames", 0);
    if (r.params.contains("latent_grid") && r.params["latent_grid"].is_array() &&
        r.params["latent_grid"].size() == 2) {
        clip->lat_h = r.params["latent_grid"][0].get<int>();
        clip->lat_w = r.params["latent_grid"][1].get<int>();
    }
    clip->codes = r.tokens;
    nlohmann::json recipe = r.params;
    recipe.erase("decoded");
    clip->recipe = QByteArray::fromStdString(recipe.dump());
    return clip;
}

} // namespace tessera::widgets
