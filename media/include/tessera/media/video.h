// Video files through the FFmpeg libraries (libavcodec/libavformat/libswscale) and libwebp's demuxer:
// writing frames to MP4 (H.264), WebM (VP9), animated GIF, animated WebP or a PNG sequence with the
// recipe in the container's metadata; probing and decoding such files back.
//
// Where the metadata lives (docs/VIDEO.md has the details):
//   MP4        mov metadata items written with `use_metadata_tags` (any key survives)
//   WebM       Matroska segment tags (the demuxer reads their names back upper-cased; probeVideo
//              lower-cases them, which is why keys are restricted to [a-z0-9_])
//   GIF, WebP  the muxers carry no metadata: a sidecar `<file>.recipe.json` (one JSON object,
//              key -> string) is written next to the file and renamed into place with it
//   PNG        a folder of frame_000000.png, frame_000001.png, … each carrying every key as a text
//              chunk, plus `tessera_fps` holding the frame rate ("25/1")
//
// Threads: a VideoWriter is used from one thread at a time; the cancel flag it is given may be set
// from any thread. probeVideo and readVideoFrames are reentrant.
// Failure modes: every call returns a Status or Expected with a message naming the file and what
// went wrong (unwritable folder, full disk, unknown format, undecodable file); nothing aborts.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tessera/engine/image.h"
#include "tessera/engine/status.h"

namespace tessera::media {

enum class VideoFormat { Mp4H264, WebmVp9, Gif, Webp, PngSequence };

// "mp4", "webm", "gif", "webp", "png" (the PNG sequence).
const char* formatName(VideoFormat format);
std::optional<VideoFormat> parseFormatName(const std::string& name);
// From an output path: .mp4, .webm, .gif, .webp; a path ending in '/' or an existing folder is a
// PNG sequence. nullopt when none fits.
std::optional<VideoFormat> formatFromPath(const std::string& path);

struct Rational {
    int num = 25, den = 1;
    double value() const { return den ? static_cast<double>(num) / den : 0.0; }
    bool operator==(const Rational&) const = default;
};

// The metadata key the recipe (a JSON document) is stored under, as in Tessera's PNGs.
inline constexpr const char* kRecipeKey = "tessera";
// Written into every frame of a PNG sequence: its frame rate as "num/den".
inline constexpr const char* kPngFpsKey = "tessera_fps";

struct VideoExportOptions {
    VideoFormat format = VideoFormat::Mp4H264;
    Rational fps{25, 1}; // frames per second, num/den; both positive
    // 0..100, higher is better; -1 picks each format's default. Mapped per codec: H.264 crf
    // 51..0, VP9 crf 63..0, WebP quality 0..100 (100 = lossless). GIF has a fixed 3-3-2 palette with
    // error diffusion and ignores it; PNG is lossless.
    int quality = -1;
    // Output size. 0/0 keeps the source size; one of them 0 derives it from the other, keeping the
    // aspect ratio; both given is that exact size. MP4 and WebM (4:2:0 chroma) round odd
    // dimensions down to even.
    int width = 0, height = 0;
    // Container metadata: keys [a-z0-9_]+, values any UTF-8 text. The recipe goes under kRecipeKey.
    std::map<std::string, std::string> metadata;
};

// Called after each frame is written, with the number of frames written so far.
using VideoProgress = std::function<void(int64_t frames_written)>;

// Writes frames to a temporary name in the output's folder and renames it into place in finish():
// until then (and after cancel() or any error) no file or folder exists under the output path, and
// the temporary is removed.
class VideoWriter {
public:
    VideoWriter();
    ~VideoWriter(); // cancels when not finished
    VideoWriter(const VideoWriter&) = delete;
    VideoWriter& operator=(const VideoWriter&) = delete;

    // Checked between frames (in addFrame and before finish's flush): once set, the writer cancels
    // and the call returns an error saying so. Not owned; must outlive the writer.
    void setCancelFlag(const std::atomic<bool>* cancel);
    void setProgress(VideoProgress progress);

    // Frames will be src_width x src_height RGB; options say what to write. An existing file at
    // `path` is replaced at finish(); an existing non-empty folder (PNG sequence) is an error.
    Status open(const std::string& path, const VideoExportOptions& options, int src_width, int src_height);
    // The image must have the size given to open().
    Status addFrame(const ImageRgb8& frame);
    // Flushes the encoder, closes the file and renames it (and a sidecar) into place.
    Status finish();
    // Drops everything written so far; no output remains. Safe to call at any time.
    void cancel();

    // The output size after scaling (valid after open()).
    int width() const;
    int height() const;
    int64_t framesWritten() const;

    struct Impl;

private:
    Impl* impl_;
};

// Writes all frames in one call (the size of the first frame is the source size).
Status writeVideo(const std::string& path, const std::vector<ImageRgb8>& frames, const VideoExportOptions& options,
                  const std::atomic<bool>* cancel = nullptr, VideoProgress progress = {});

struct VideoInfo {
    VideoFormat format = VideoFormat::Mp4H264;
    int64_t frames = 0; // counted, not estimated from the header
    int width = 0, height = 0;
    Rational fps;
    std::string codec; // "h264", "vp9", "gif", "webp", "png"
    double duration_s = 0;
    std::map<std::string, std::string> metadata; // keys lower-cased; sidecar keys for GIF/WebP
};

// What a file (or PNG-sequence folder) written by VideoWriter holds; works on other MP4/WebM/GIF/WebP
// files too.
Expected<VideoInfo> probeVideo(const std::string& path);
// Decodes up to max_frames frames (all when max_frames <= 0) to RGB at the stored size.
Expected<std::vector<ImageRgb8>> readVideoFrames(const std::string& path, int64_t max_frames = 0);

} // namespace tessera::media
