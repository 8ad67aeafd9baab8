// probeVideo and readVideoFrames: FFmpeg's demuxers and decoders for MP4, WebM and GIF; libwebp's
// animation decoder for WebP (FFmpeg 5.1 cannot decode animated WebP); libpng (through the engine)
// for PNG sequences.
//
// Sections: helpers · PNG sequence · WebP · FFmpeg · entry points.
#include "tessera/media/video.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <numeric>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <webp/demux.h>

#include "ffmpeg_util.h"

namespace fs = std::filesystem;

namespace tessera::media {

namespace {

// ---- helpers ---------------------------------------------------------------------------------------

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

Expected<std::string> readWholeFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::error("cannot open " + path + ": " + std::strerror(errno));
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) return Status::error("cannot read " + path);
    return data;
}

// Keys of the GIF/WebP sidecar; absent sidecar = no metadata, malformed = error.
Status readSidecar(const std::string& path, std::map<std::string, std::string>& out) {
    const std::string side = path + ".recipe.json";
    std::error_code ec;
    if (!fs::exists(side, ec)) return {};
    auto text = readWholeFile(side);
    if (!text) return text.status();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::error(side + " is not a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_string()) return Status::error(side + ": value of '" + it.key() + "' is not a string");
        out[lower(it.key())] = it.value().get<std::string>();
    }
    return {};
}

Rational parseRational(const std::string& s) {
    Rational r{0, 1};
    if (std::sscanf(s.c_str(), "%d/%d", &r.num, &r.den) != 2 || r.num <= 0 || r.den <= 0) return Rational{0, 1};
    return r;
}

bool isWebp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    char h[12] = {};
    f.read(h, sizeof h);
    return f.gcount() == 12 && !std::memcmp(h, "RIFF", 4) && !std::memcmp(h + 8, "WEBP", 4);
}

// ---- PNG sequence ----------------------------------------------------------------------------------

Expected<std::vector<std::string>> pngFrames(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("frame_", 0) == 0 && e.path().extension() == ".png") files.push_back(e.path().string());
    }
    if (ec) return Status::error("cannot list " + dir + ": " + ec.message());
    if (files.empty()) return Status::error(dir + " holds no frame_NNNNNN.png files");
    std::sort(files.begin(), files.end());
    return files;
}

Expected<VideoInfo> probePngSequence(const std::string& dir) {
    auto files = pngFrames(dir);
    if (!files) return files.status();
    VideoInfo info;
    info.format = VideoFormat::PngSequence;
    info.codec = "png";
    info.frames = static_cast<int64_t>(files->size());
    auto first = readPng(files->front(), &info.metadata);
    if (!first) return first.status();
    info.width = first->width;
    info.height = first->height;
    auto fps = info.metadata.find(kPngFpsKey);
    info.fps = fps == info.metadata.end() ? Rational{0, 1} : parseRational(fps->second);
    if (info.fps.num > 0) info.duration_s = static_cast<double>(info.frames) / info.fps.value();
    return info;
}

Expected<std::vector<ImageRgb8>> readPngSequence(const std::string& dir, int64_t max_frames) {
    auto files = pngFrames(dir);
    if (!files) return files.status();
    std::vector<ImageRgb8> out;
    for (const auto& f : *files) {
        if (max_frames > 0 && static_cast<int64_t>(out.size()) >= max_frames) break;
        auto img = readPng(f);
        if (!img) return img.status();
        out.push_back(std::move(*img));
    }
    return out;
}

// ---- WebP ------------------------------------------------------------------------------------------

// 8192 × 8192: four times the largest picture Tessera makes, 256 MiB as RGBA.
constexpr uint64_t kMaxWebpPixels = uint64_t{8192} * 8192;

struct WebpDecoderDeleter {
    void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

// Decodes (when `frames` is given) and measures an animated or still WebP.
Status decodeWebp(const std::string& path, VideoInfo& info, std::vector<ImageRgb8>* frames, int64_t max_frames) {
    auto data = readWholeFile(path);
    if (!data) return data.status();
    WebPData wd{reinterpret_cast<const uint8_t*>(data->data()), data->size()};
    WebPAnimDecoderOptions opts;
    if (!WebPAnimDecoderOptionsInit(&opts)) return Status::error("libwebp: version mismatch");
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    // The decoder allocates the whole canvas up front, and a few hundred bytes can claim a canvas of
    // 16M × 16M pixels: the header's size is checked first.
    {
        WebPDemuxer* demux = WebPDemux(&wd);
        if (!demux) return Status::error(path + " is not a readable WebP file");
        const uint64_t w = WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH), h = WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
        WebPDemuxDelete(demux);
        if (w == 0 || h == 0 || w * h > kMaxWebpPixels)
            return Status::error(path + ": a WebP canvas of " + std::to_string(w) + "x" + std::to_string(h) +
                                 " pixels is beyond what Tessera reads (at most " + std::to_string(kMaxWebpPixels) +
                                 " pixels)");
    }
    std::unique_ptr<WebPAnimDecoder, WebpDecoderDeleter> dec(WebPAnimDecoderNew(&wd, &opts));
    if (!dec) return Status::error(path + " is not a readable WebP file");
    WebPAnimInfo ai;
    if (!WebPAnimDecoderGetInfo(dec.get(), &ai)) return Status::error(path + ": cannot read the WebP header");
    info.format = VideoFormat::Webp;
    info.codec = "webp";
    info.width = static_cast<int>(ai.canvas_width);
    info.height = static_cast<int>(ai.canvas_height);
    info.frames = ai.frame_count;
    int prev_ms = 0, first_ms = 0;
    int64_t index = 0;
    while (WebPAnimDecoderHasMoreFrames(dec.get())) {
        uint8_t* rgba = nullptr;
        int ts_ms = 0; // end time of this frame
        if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &ts_ms)) return Status::error(path + ": WebP frame " + std::to_string(index) + " does not decode");
        if (index == 0) first_ms = ts_ms;
        if (frames && (max_frames <= 0 || index < max_frames)) {
            ImageRgb8 img;
            img.width = info.width;
            img.height = info.height;
            img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
            for (size_t p = 0; p < static_cast<size_t>(img.width) * img.height; ++p)
                for (int c = 0; c < 3; ++c) img.rgb[p * 3 + c] = rgba[p * 4 + c];
            frames->push_back(std::move(img));
        }
        prev_ms = ts_ms;
        ++index;
    }
    info.duration_s = prev_ms / 1000.0;
    // WebP stores whole-millisecond frame durations: the rate is 1000 / (first frame's duration).
    if (first_ms > 0) info.fps = Rational{1000, first_ms};
    const int g = std::gcd(info.fps.num, info.fps.den);
    if (g > 1) info.fps = Rational{info.fps.num / g, info.fps.den / g};
    return readSidecar(path, info.metadata);
}

// ---- FFmpeg ----------------------------------------------------------------------------------------

struct Demuxer {
    AVFormatContext* fmt = nullptr;
    AVCodecContext* dec = nullptr;
    int stream = -1;
    ~Demuxer() {
        avcodec_free_context(&dec);
        avformat_close_input(&fmt);
    }
};

Status openDemuxer(const std::string& path, Demuxer& d) {
    int rc = avformat_open_input(&d.fmt, path.c_str(), nullptr, nullptr);
    if (rc < 0) return Status::error("cannot open " + path + " as a video: " + avError(rc));
    rc = avformat_find_stream_info(d.fmt, nullptr);
    if (rc < 0) return Status::error(path + ": cannot read stream information: " + avError(rc));
    d.stream = av_find_best_stream(d.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (d.stream < 0) return Status::error(path + " has no video stream");
    return {};
}

VideoFormat formatOfDemuxer(const AVFormatContext* fmt, AVCodecID codec) {
    const std::string name = fmt->iformat->name;
    if (name.find("gif") != std::string::npos) return VideoFormat::Gif;
    if (name.find("matroska") != std::string::npos || codec == AV_CODEC_ID_VP9) return VideoFormat::WebmVp9;
    return VideoFormat::Mp4H264;
}

Expected<VideoInfo> probeFfmpeg(const std::string& path) {
    Demuxer d;
    if (Status s = openDemuxer(path, d); !s) return s;
    const AVStream* st = d.fmt->streams[d.stream];
    VideoInfo info;
    info.format = formatOfDemuxer(d.fmt, st->codecpar->codec_id);
    info.codec = avcodec_get_name(st->codecpar->codec_id);
    info.width = st->codecpar->width;
    info.height = st->codecpar->height;
    const AVDictionaryEntry* e = nullptr;
    while ((e = av_dict_get(d.fmt->metadata, "", e, AV_DICT_IGNORE_SUFFIX))) info.metadata[lower(e->key)] = e->value;
    // Count the frames: headers may hold none (GIF, WebM) or a guess.
    AVPacket* pkt = av_packet_alloc();
    if (!pkt) return Status::error("out of memory");
    int64_t end_pts = AV_NOPTS_VALUE, first_pts = AV_NOPTS_VALUE;
    int rc = 0;
    while ((rc = av_read_frame(d.fmt, pkt)) >= 0) {
        if (pkt->stream_index == d.stream) {
            ++info.frames;
            if (pkt->pts != AV_NOPTS_VALUE) {
                if (first_pts == AV_NOPTS_VALUE || pkt->pts < first_pts) first_pts = pkt->pts;
                const int64_t end = pkt->pts + std::max<int64_t>(pkt->duration, 0);
                if (end_pts == AV_NOPTS_VALUE || end > end_pts) end_pts = end;
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (rc != AVERROR_EOF) return Status::error(path + ": read error after " + std::to_string(info.frames) + " frames: " + avError(rc));
    if (end_pts != AV_NOPTS_VALUE) info.duration_s = static_cast<double>(end_pts - first_pts) * av_q2d(st->time_base);
    AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    if (info.format == VideoFormat::Gif && info.duration_s > 0) // centisecond delays: derive from the total
        av_reduce(&fr.num, &fr.den, std::llround(info.frames * 100.0), std::llround(info.duration_s * 100.0), 1 << 30);
    info.fps = Rational{fr.num, fr.den};
    if (info.format == VideoFormat::Gif)
        if (Status s = readSidecar(path, info.metadata); !s) return s;
    return info;
}

Expected<std::vector<ImageRgb8>> readFfmpeg(const std::string& path, int64_t max_frames) {
    Demuxer d;
    if (Status s = openDemuxer(path, d); !s) return s;
    const AVStream* st = d.fmt->streams[d.stream];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) return Status::error(path + ": no decoder for " + avcodec_get_name(st->codecpar->codec_id));
    d.dec = avcodec_alloc_context3(codec);
    if (!d.dec) return Status::error("out of memory");
    int rc = avcodec_parameters_to_context(d.dec, st->codecpar);
    if (rc >= 0) rc = avcodec_open2(d.dec, codec, nullptr);
    if (rc < 0) return Status::error(path + ": cannot open the decoder: " + avError(rc));

    std::vector<ImageRgb8> out;
    AVPacket* pkt = av_packet_alloc();
    AVFrame* frame = av_frame_alloc();
    SwsContext* sws = nullptr;
    int sws_fmt = -1, sws_w = 0, sws_h = 0;
    Status status;
    auto done = [&] { return max_frames > 0 && static_cast<int64_t>(out.size()) >= max_frames; };
    auto drain = [&]() -> bool {
        for (;;) {
            int r = avcodec_receive_frame(d.dec, frame);
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
            if (r < 0) {
                status = Status::error(path + ": frame " + std::to_string(out.size()) + " does not decode: " + avError(r));
                return false;
            }
            if (!done()) {
                if (!sws || sws_fmt != frame->format || sws_w != frame->width || sws_h != frame->height) {
                    sws_freeContext(sws);
                    sws = makeScaler(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
                                     frame->height, AV_PIX_FMT_RGB24, nullptr);
                    sws_fmt = frame->format;
                    sws_w = frame->width;
                    sws_h = frame->height;
                    if (!sws) {
                        status = Status::error(path + ": cannot convert its pixel format to RGB");
                        return false;
                    }
                }
                ImageRgb8 img;
                img.width = frame->width;
                img.height = frame->height;
                img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
                uint8_t* dst[1] = {img.rgb.data()};
                const int dst_stride[1] = {img.width * 3};
                sws_scale(sws, frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
                out.push_back(std::move(img));
            }
            av_frame_unref(frame);
        }
    };
    if (!pkt || !frame) status = Status::error("out of memory");
    while (status.ok() && !done() && (rc = av_read_frame(d.fmt, pkt)) >= 0) {
        if (pkt->stream_index == d.stream) {
            int r = avcodec_send_packet(d.dec, pkt);
            if (r < 0 && r != AVERROR(EAGAIN)) status = Status::error(path + ": bad packet: " + avError(r));
            else drain();
        }
        av_packet_unref(pkt);
    }
    if (status.ok() && !done()) {
        if (rc < 0 && rc != AVERROR_EOF) status = Status::error(path + ": read error: " + avError(rc));
        else if (avcodec_send_packet(d.dec, nullptr) >= 0) drain();
    }
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    if (!status) return status;
    return out;
}

} // namespace

// ---- entry points ----------------------------------------------------------------------------------

Expected<VideoInfo> probeVideo(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return probePngSequence(path);
    if (!fs::exists(path, ec)) return Status::error(path + " does not exist");
    if (!fs::is_regular_file(path, ec)) return Status::error(path + " is not a regular file");
    if (isWebp(path)) {
        VideoInfo info;
        if (Status s = decodeWebp(path, info, nullptr, 0); !s) return s;
        return info;
    }
    return probeFfmpeg(path);
}

Expected<std::vector<ImageRgb8>> readVideoFrames(const std::string& path, int64_t max_frames) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return readPngSequence(path, max_frames);
    if (!fs::exists(path, ec)) return Status::error(path + " does not exist");
    if (!fs::is_regular_file(path, ec)) return Status::error(path + " is not a regular file");
    if (isWebp(path)) {
        VideoInfo info;
        std::vector<ImageRgb8> frames;
        if (Status s = decodeWebp(path, info, &frames, max_frames); !s) return s;
        return frames;
    }
    return readFfmpeg(path, max_frames);
}

} // namespace tessera::media
