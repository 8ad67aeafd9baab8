// VideoWriter: frames -> encoder -> muxer into a temporary file, renamed into place at finish().
//
// Sections: format names and paths · options checking · the FFmpeg encoder (MP4, WebM, GIF, WebP) ·
// the PNG sequence · VideoWriter · writeVideo.
#include "tessera/media/video.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <numeric>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "ffmpeg_util.h"

namespace fs = std::filesystem;

namespace tessera::media {

// ---- format names and paths ------------------------------------------------------------------------

const char* formatName(VideoFormat format) {
    switch (format) {
    case VideoFormat::Mp4H264: return "mp4";
    case VideoFormat::WebmVp9: return "webm";
    case VideoFormat::Gif: return "gif";
    case VideoFormat::Webp: return "webp";
    case VideoFormat::PngSequence: return "png";
    }
    return "?";
}

std::optional<VideoFormat> parseFormatName(const std::string& name) {
    for (auto f : {VideoFormat::Mp4H264, VideoFormat::WebmVp9, VideoFormat::Gif, VideoFormat::Webp,
                   VideoFormat::PngSequence})
        if (name == formatName(f)) return f;
    if (name == "h264") return VideoFormat::Mp4H264;
    if (name == "vp9") return VideoFormat::WebmVp9;
    if (name == "png-sequence") return VideoFormat::PngSequence;
    return std::nullopt;
}

std::optional<VideoFormat> formatFromPath(const std::string& path) {
    if (path.empty()) return std::nullopt;
    std::error_code ec;
    if (path.back() == '/' || fs::is_directory(path, ec)) return VideoFormat::PngSequence;
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".mp4" || ext == ".m4v") return VideoFormat::Mp4H264;
    if (ext == ".webm" || ext == ".mkv") return VideoFormat::WebmVp9;
    if (ext == ".gif") return VideoFormat::Gif;
    if (ext == ".webp") return VideoFormat::Webp;
    return std::nullopt;
}

namespace {

// ---- options checking ------------------------------------------------------------------------------

bool validKey(const std::string& key) {
    if (key.empty()) return false;
    for (unsigned char c : key)
        if (!(std::islower(c) || std::isdigit(c) || c == '_')) return false;
    return true;
}

Status checkOptions(const VideoExportOptions& o, int src_w, int src_h) {
    if (src_w <= 0 || src_h <= 0)
        return Status::error("video export: frame size " + std::to_string(src_w) + "x" + std::to_string(src_h) +
                             " is empty");
    if (o.fps.num <= 0 || o.fps.den <= 0)
        return Status::error("video export: frame rate " + std::to_string(o.fps.num) + "/" + std::to_string(o.fps.den) +
                             " must be positive");
    if (o.fps.value() > 1000) return Status::error("video export: frame rate above 1000 fps");
    if (o.quality < -1 || o.quality > 100)
        return Status::error("video export: quality " + std::to_string(o.quality) + " is outside 0..100");
    if (o.width < 0 || o.height < 0 || o.width > 16384 || o.height > 16384)
        return Status::error("video export: output size must be within 0..16384");
    for (const auto& [k, v] : o.metadata)
        if (!validKey(k)) return Status::error("video export: metadata key '" + k + "' must be [a-z0-9_]+");
    return {};
}

void outputSize(const VideoExportOptions& o, int src_w, int src_h, int& w, int& h) {
    w = o.width;
    h = o.height;
    if (!w && !h) {
        w = src_w;
        h = src_h;
    } else if (!h) {
        h = std::max(1, static_cast<int>(std::lround(static_cast<double>(w) * src_h / src_w)));
    } else if (!w) {
        w = std::max(1, static_cast<int>(std::lround(static_cast<double>(h) * src_w / src_h)));
    }
    if (o.format == VideoFormat::Mp4H264 || o.format == VideoFormat::WebmVp9) {
        w = std::max(2, w & ~1);
        h = std::max(2, h & ~1);
    }
}

std::string tempSibling(const fs::path& out) {
    static std::atomic<int> counter{0};
    const std::string name = out.filename().string();
    return (out.parent_path() / ("." + name + ".part-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
        .string();
}

Status writeTextFile(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) return Status::error("cannot create " + path + ": " + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) return Status::error("cannot write " + path + " (disk full?)");
    f.close();
    if (!f) return Status::error("cannot write " + path + " (disk full?)");
    return {};
}

} // namespace

// ---- the FFmpeg encoder ----------------------------------------------------------------------------

struct VideoWriter::Impl {
    const std::atomic<bool>* cancel_flag = nullptr;
    VideoProgress progress;
    VideoExportOptions options;
    std::string out_path, temp_path, sidecar_temp, sidecar_path;
    int src_w = 0, src_h = 0, out_w = 0, out_h = 0;
    int64_t frames = 0;
    bool opened = false;

    // FFmpeg state (not used for the PNG sequence).
    AVFormatContext* fmt = nullptr;
    AVCodecContext* enc = nullptr;
    AVStream* stream = nullptr;
    SwsContext* sws = nullptr;
    AVFrame* frame = nullptr;
    AVPacket* packet = nullptr;
    bool header_written = false;

    void releaseFfmpeg() {
        if (fmt) {
            if (fmt->pb) avio_closep(&fmt->pb);
            avformat_free_context(fmt);
            fmt = nullptr;
        }
        avcodec_free_context(&enc);
        sws_freeContext(sws);
        sws = nullptr;
        av_frame_free(&frame);
        av_packet_free(&packet);
        stream = nullptr;
        header_written = false;
    }

    void discard() {
        releaseFfmpeg();
        std::error_code ec;
        if (!temp_path.empty()) fs::remove_all(temp_path, ec);
        if (!sidecar_temp.empty()) fs::remove(sidecar_temp, ec);
        temp_path.clear();
        sidecar_temp.clear();
        opened = false;
    }

    Status fail(const std::string& message) {
        discard();
        return Status::error(message);
    }

    Status openFfmpeg() {
        const char* muxer = nullptr;
        const char* codec_name = nullptr;
        AVPixelFormat pix = AV_PIX_FMT_YUV420P;
        switch (options.format) {
        case VideoFormat::Mp4H264: muxer = "mp4"; codec_name = "libx264"; break;
        case VideoFormat::WebmVp9: muxer = "webm"; codec_name = "libvpx-vp9"; break;
        case VideoFormat::Gif: muxer = "gif"; codec_name = "gif"; pix = AV_PIX_FMT_RGB8; break;
        case VideoFormat::Webp: muxer = "webp"; codec_name = "libwebp_anim"; pix = AV_PIX_FMT_BGRA; break;
        case VideoFormat::PngSequence: return Status::error("internal: PNG sequence through FFmpeg");
        }
        av_log_set_level(AV_LOG_ERROR); // libx264/libvpx chatter on stderr would bury the CLI progress line
        const AVCodec* codec = avcodec_find_encoder_by_name(codec_name);
        if (!codec)
            return Status::error(std::string("video export: this FFmpeg has no ") + codec_name +
                                 " encoder (Debian's libavcodec59 has it)");
        int rc = avformat_alloc_output_context2(&fmt, nullptr, muxer, temp_path.c_str());
        if (rc < 0 || !fmt) return Status::error(std::string("video export: no ") + muxer + " muxer: " + avError(rc));
        enc = avcodec_alloc_context3(codec);
        if (!enc) return Status::error("video export: out of memory");
        enc->width = out_w;
        enc->height = out_h;
        enc->pix_fmt = pix;
        enc->time_base = AVRational{options.fps.den, options.fps.num};
        enc->framerate = AVRational{options.fps.num, options.fps.den};
        enc->sample_aspect_ratio = AVRational{1, 1};
        if (pix == AV_PIX_FMT_YUV420P) {
            // BT.601, limited range: what the readers (and swscale's defaults) assume for untagged video.
            enc->colorspace = AVCOL_SPC_SMPTE170M;
            enc->color_primaries = AVCOL_PRI_SMPTE170M;
            enc->color_trc = AVCOL_TRC_SMPTE170M;
            enc->color_range = AVCOL_RANGE_MPEG;
        }
        if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        AVDictionary* codec_opts = nullptr;
        const int q = options.quality;
        switch (options.format) {
        case VideoFormat::Mp4H264:
            av_dict_set_int(&codec_opts, "crf", q < 0 ? 20 : std::lround(51.0 - 0.51 * q), 0);
            av_dict_set(&codec_opts, "preset", "medium", 0);
            break;
        case VideoFormat::WebmVp9:
            av_dict_set_int(&codec_opts, "crf", q < 0 ? 31 : std::lround(63.0 - 0.63 * q), 0);
            av_dict_set(&codec_opts, "b", "0", 0); // constant quality
            av_dict_set(&codec_opts, "deadline", "good", 0);
            av_dict_set(&codec_opts, "cpu-used", "4", 0);
            av_dict_set(&codec_opts, "row-mt", "1", 0);
            break;
        case VideoFormat::Webp:
            av_dict_set_int(&codec_opts, "quality", q < 0 ? 80 : q, 0);
            if (q == 100) av_dict_set(&codec_opts, "lossless", "1", 0);
            break;
        default: break;
        }
        rc = avcodec_open2(enc, codec, &codec_opts);
        av_dict_free(&codec_opts);
        if (rc < 0) return Status::error(std::string("video export: cannot open the ") + codec_name + " encoder: " + avError(rc));
        stream = avformat_new_stream(fmt, nullptr);
        if (!stream) return Status::error("video export: out of memory");
        stream->time_base = enc->time_base;
        stream->avg_frame_rate = enc->framerate;
        rc = avcodec_parameters_from_context(stream->codecpar, enc);
        if (rc < 0) return Status::error("video export: " + avError(rc));
        for (const auto& [k, v] : options.metadata) av_dict_set(&fmt->metadata, k.c_str(), v.c_str(), 0);

        rc = avio_open(&fmt->pb, temp_path.c_str(), AVIO_FLAG_WRITE);
        if (rc < 0) return Status::error("video export: cannot create " + temp_path + ": " + avError(rc));
        AVDictionary* mux_opts = nullptr;
        if (options.format == VideoFormat::Mp4H264) av_dict_set(&mux_opts, "movflags", "use_metadata_tags", 0);
        if (options.format == VideoFormat::Gif || options.format == VideoFormat::Webp)
            av_dict_set(&mux_opts, "loop", "0", 0);
        rc = avformat_write_header(fmt, &mux_opts);
        av_dict_free(&mux_opts);
        if (rc < 0) return Status::error("video export: cannot write the " + std::string(muxer) + " header to " + temp_path + ": " + avError(rc));
        header_written = true;

        sws = makeScaler(src_w, src_h, AV_PIX_FMT_RGB24, out_w, out_h, pix,
                         options.format == VideoFormat::Gif ? "ed" : nullptr);
        frame = av_frame_alloc();
        packet = av_packet_alloc();
        if (!sws || !frame || !packet) return Status::error("video export: cannot set up the colour conversion");
        frame->format = pix;
        frame->width = out_w;
        frame->height = out_h;
        rc = av_frame_get_buffer(frame, 0);
        if (rc < 0) return Status::error("video export: " + avError(rc));
        return {};
    }

    // Sends one frame (nullptr flushes) and writes every packet the encoder has ready.
    Status encode(AVFrame* f) {
        int rc = avcodec_send_frame(enc, f);
        if (rc < 0) return Status::error("video export: the encoder refused a frame: " + avError(rc));
        for (;;) {
            rc = avcodec_receive_packet(enc, packet);
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) return Status::error("video export: encoding failed: " + avError(rc));
            av_packet_rescale_ts(packet, enc->time_base, stream->time_base);
            packet->stream_index = stream->index;
            rc = av_interleaved_write_frame(fmt, packet);
            if (rc < 0) return Status::error("video export: cannot write to " + temp_path + ": " + avError(rc) + " (disk full?)");
        }
    }

    Status addFfmpegFrame(const ImageRgb8& img) {
        int rc = av_frame_make_writable(frame);
        if (rc < 0) return Status::error("video export: " + avError(rc));
        const uint8_t* src[1] = {img.rgb.data()};
        const int src_stride[1] = {img.width * 3};
        sws_scale(sws, src, src_stride, 0, img.height, frame->data, frame->linesize);
        frame->pts = frames;
        return encode(frame);
    }

    Status finishFfmpeg() {
        Status s = encode(nullptr);
        if (!s) return s;
        int rc = av_write_trailer(fmt);
        if (rc < 0) return Status::error("video export: cannot finish " + temp_path + ": " + avError(rc) + " (disk full?)");
        const bool io_error = fmt->pb->error < 0;
        rc = avio_closep(&fmt->pb);
        if (io_error || rc < 0) return Status::error("video export: cannot write " + temp_path + " (disk full?)");
        return {};
    }

    // ---- the PNG sequence --------------------------------------------------------------------------

    std::map<std::string, std::string> pngText() const {
        auto text = options.metadata;
        text[kPngFpsKey] = std::to_string(options.fps.num) + "/" + std::to_string(options.fps.den);
        return text;
    }

    Status addPngFrame(const ImageRgb8& img) {
        char name[32];
        std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(frames));
        ImageRgb8 scaled;
        const ImageRgb8* out = &img;
        if (out_w != src_w || out_h != src_h) {
            if (!sws) sws = makeScaler(src_w, src_h, AV_PIX_FMT_RGB24, out_w, out_h, AV_PIX_FMT_RGB24, nullptr);
            if (!sws) return Status::error("video export: cannot set up the scaler");
            scaled.width = out_w;
            scaled.height = out_h;
            scaled.rgb.resize(static_cast<size_t>(out_w) * out_h * 3);
            const uint8_t* src[1] = {img.rgb.data()};
            const int src_stride[1] = {img.width * 3};
            uint8_t* dst[1] = {scaled.rgb.data()};
            const int dst_stride[1] = {out_w * 3};
            sws_scale(sws, src, src_stride, 0, img.height, dst, dst_stride);
            out = &scaled;
        }
        Status s = writePng((fs::path(temp_path) / name).string(), *out, pngText());
        if (!s) return Status::error("video export: " + s.message());
        return {};
    }
};

// ---- VideoWriter -----------------------------------------------------------------------------------

VideoWriter::VideoWriter() : impl_(new Impl) {}
VideoWriter::~VideoWriter() {
    impl_->discard();
    delete impl_;
}

void VideoWriter::setCancelFlag(const std::atomic<bool>* cancel) { impl_->cancel_flag = cancel; }
void VideoWriter::setProgress(VideoProgress progress) { impl_->progress = std::move(progress); }
int VideoWriter::width() const { return impl_->out_w; }
int VideoWriter::height() const { return impl_->out_h; }
int64_t VideoWriter::framesWritten() const { return impl_->frames; }

Status VideoWriter::open(const std::string& path, const VideoExportOptions& options, int src_width, int src_height) {
    Impl& d = *impl_;
    d.discard();
    d.frames = 0;
    if (Status s = checkOptions(options, src_width, src_height); !s) return s;
    if (path.empty()) return Status::error("video export: no output path");
    d.options = options;
    d.src_w = src_width;
    d.src_h = src_height;
    outputSize(options, src_width, src_height, d.out_w, d.out_h);

    fs::path out(path);
    if (!out.has_filename()) out = out.parent_path(); // "dir/" names the folder itself
    d.out_path = out.string();
    const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
        return Status::error("video export: folder " + parent.string() + " does not exist (or is not a folder)");
    const bool is_dir = fs::is_directory(out, ec);
    if (options.format == VideoFormat::PngSequence) {
        if (fs::exists(out, ec) && !is_dir)
            return Status::error("video export: " + d.out_path + " exists and is not a folder");
        if (is_dir && !fs::is_empty(out, ec))
            return Status::error("video export: folder " + d.out_path + " is not empty; a PNG sequence needs a new or empty folder");
    } else if (is_dir) {
        return Status::error("video export: " + d.out_path + " is a folder");
    }
    d.temp_path = tempSibling(out);
    if (options.format == VideoFormat::PngSequence) {
        if (!fs::create_directory(d.temp_path, ec))
            return d.fail("video export: cannot create a folder in " + parent.string() + ": " + ec.message());
    } else {
        if (Status s = d.openFfmpeg(); !s) return d.fail(s.message());
    }
    d.opened = true;
    return {};
}

Status VideoWriter::addFrame(const ImageRgb8& frame) {
    Impl& d = *impl_;
    if (!d.opened) return Status::error("video export: addFrame without a successful open()");
    if (d.cancel_flag && d.cancel_flag->load()) return d.fail("video export: cancelled");
    if (frame.width != d.src_w || frame.height != d.src_h ||
        frame.rgb.size() != static_cast<size_t>(d.src_w) * d.src_h * 3)
        return d.fail("video export: frame " + std::to_string(d.frames) + " is " + std::to_string(frame.width) + "x" +
                      std::to_string(frame.height) + ", the video is " + std::to_string(d.src_w) + "x" +
                      std::to_string(d.src_h));
    Status s = d.options.format == VideoFormat::PngSequence ? d.addPngFrame(frame) : d.addFfmpegFrame(frame);
    if (!s) return d.fail(s.message());
    ++d.frames;
    if (d.progress) d.progress(d.frames);
    return {};
}

Status VideoWriter::finish() {
    Impl& d = *impl_;
    if (!d.opened) return Status::error("video export: finish without a successful open()");
    if (d.cancel_flag && d.cancel_flag->load()) return d.fail("video export: cancelled");
    if (d.frames == 0) return d.fail("video export: no frames were given");
    if (d.options.format != VideoFormat::PngSequence) {
        if (Status s = d.finishFfmpeg(); !s) return d.fail(s.message());
    }
    d.releaseFfmpeg();
    std::error_code ec;
    if (d.options.format == VideoFormat::Gif || d.options.format == VideoFormat::Webp) {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& [k, v] : d.options.metadata) j[k] = v;
        d.sidecar_path = d.out_path + ".recipe.json";
        d.sidecar_temp = tempSibling(d.sidecar_path);
        if (Status s = writeTextFile(d.sidecar_temp, j.dump(2) + "\n"); !s) return d.fail("video export: " + s.message());
        fs::rename(d.sidecar_temp, d.sidecar_path, ec);
        if (ec) return d.fail("video export: cannot rename into " + d.sidecar_path + ": " + ec.message());
        d.sidecar_temp.clear();
    }
    fs::rename(d.temp_path, d.out_path, ec);
    if (ec) {
        if (!d.sidecar_path.empty()) fs::remove(d.sidecar_path, ec);
        return d.fail("video export: cannot rename the finished file to " + d.out_path + ": " + ec.message());
    }
    d.temp_path.clear();
    d.opened = false;
    return {};
}

void VideoWriter::cancel() { impl_->discard(); }

// ---- writeVideo ------------------------------------------------------------------------------------

Status writeVideo(const std::string& path, const std::vector<ImageRgb8>& frames, const VideoExportOptions& options,
                  const std::atomic<bool>* cancel, VideoProgress progress) {
    if (frames.empty()) return Status::error("video export: no frames were given");
    VideoWriter w;
    w.setCancelFlag(cancel);
    w.setProgress(std::move(progress));
    if (Status s = w.open(path, options, frames[0].width, frames[0].height); !s) return s;
    for (const auto& f : frames)
        if (Status s = w.addFrame(f); !s) return s;
    return w.finish();
}

} // namespace tessera::media
