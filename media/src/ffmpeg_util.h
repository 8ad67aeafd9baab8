// FFmpeg headers and the few helpers the writer and the reader share. Private to media/.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <cstring>
#include <string>

namespace tessera::media {

inline std::string avError(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

// A scaler/converter with accurate rounding and full chroma interpolation; `dither` names swscale's
// dither mode ("ed" = error diffusion, for the GIF palette) or nullptr for the default. nullptr on failure.
inline SwsContext* makeScaler(int src_w, int src_h, AVPixelFormat src_fmt, int dst_w, int dst_h, AVPixelFormat dst_fmt,
                              const char* dither) {
    SwsContext* s = sws_alloc_context();
    if (!s) return nullptr;
    av_opt_set_int(s, "srcw", src_w, 0);
    av_opt_set_int(s, "srch", src_h, 0);
    av_opt_set_int(s, "src_format", src_fmt, 0);
    av_opt_set_int(s, "dstw", dst_w, 0);
    av_opt_set_int(s, "dsth", dst_h, 0);
    av_opt_set_int(s, "dst_format", dst_fmt, 0);
    av_opt_set_int(s, "sws_flags", SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, 0);
    if (dither) av_opt_set(s, "sws_dither", dither, 0);
    if (sws_init_context(s, nullptr, nullptr) < 0) {
        sws_freeContext(s);
        return nullptr;
    }
    return s;
}

} // namespace tessera::media
