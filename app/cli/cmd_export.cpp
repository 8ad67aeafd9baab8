// `tessera-cli export`: a folder (or glob) of PNG frames -> MP4, WebM, GIF, WebP or a PNG sequence,
// with the recipe in the container's metadata (tessera::media).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <glob.h>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "tessera/engine/image.h"
#include "tessera/media/video.h"

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

const char* kUsage =
    "Usage: tessera-cli export --frames DIR|GLOB --out FILE|DIR/ [options]\n\n"
    "Writes PNG frames (a folder's *.png in name order, or a quoted glob such as 'out/f_*.png') as a\n"
    "video through the FFmpeg libraries. The file appears only when complete; Ctrl-C cancels and\n"
    "leaves nothing behind. The recipe is stored in the container (docs/VIDEO.md says where).\n\n"
    "Options:\n"
    "  --frames DIR|GLOB    the input frames, all of one size\n"
    "  --out PATH           FILE.mp4 (H.264), FILE.webm (VP9), FILE.gif, FILE.webp (animated) or DIR/\n"
    "                       (a PNG sequence in a new or empty folder)\n"
    "  --format F           mp4 | webm | gif | webp | png (default: from --out)\n"
    "  --fps N[/D]          frame rate, e.g. 24 or 30000/1001 (default 25)\n"
    "  --quality Q          0..100, higher is better (default: each format's own)\n"
    "  --size WxH           output size; 0 for one side keeps the aspect ratio (e.g. 512x0)\n"
    "  --recipe FILE.json   the recipe to store (default: the first frame's Tessera recipe, if any)\n"
    "  --quiet              no progress on stderr\n";

std::atomic<bool> g_cancel{false};
extern "C" void onInterrupt(int) { g_cancel.store(true); }

Expected<std::vector<std::string>> listFrames(const std::string& spec) {
    std::vector<std::string> files;
    std::error_code ec;
    if (fs::is_directory(spec, ec)) {
        for (const auto& e : fs::directory_iterator(spec, ec)) {
            std::string ext = e.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
            if (ext == ".png" && e.is_regular_file(ec)) files.push_back(e.path().string());
        }
        if (ec) return Status::error("cannot list " + spec + ": " + ec.message());
        std::sort(files.begin(), files.end());
    } else {
        glob_t g{};
        const int rc = ::glob(spec.c_str(), 0, nullptr, &g);
        if (rc == 0)
            for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]); // glob sorts
        globfree(&g);
    }
    if (files.empty()) return Status::error("no PNG frames found at " + spec);
    return files;
}

bool parseFps(const std::string& text, media::Rational& fps) {
    const auto slash = text.find('/');
    auto num = parseInt(text.substr(0, slash), 1, 1000000);
    auto den = slash == std::string::npos ? std::optional<long long>(1) : parseInt(text.substr(slash + 1), 1, 1000000);
    if (!num || !den) return false;
    fps = media::Rational{static_cast<int>(*num), static_cast<int>(*den)};
    return fps.value() <= 1000;
}

// "WxH", 0 keeping the aspect ratio on that side; not both 0.
bool parseExportSize(const std::string& text, int& w, int& h) {
    int pw = 0, ph = 0;
    if (!parseSize(text, 0, 16384, pw, ph) || (pw == 0 && ph == 0)) return false;
    w = pw;
    h = ph;
    return true;
}

} // namespace

int cmdExport(int argc, char** argv) {
    CLI::App app;
    std::string frames_spec, out, format, fps_text, size_text, recipe_path;
    int quality = -1;
    bool quiet = false;
    app.add_option("--frames", frames_spec);
    app.add_option("--out", out);
    app.add_option("--format", format);
    app.add_option("--fps", fps_text);
    addInt(app, "--quality", quality, 0, 100);
    app.add_option("--size", size_text);
    app.add_option("--recipe", recipe_path);
    app.add_flag("--quiet", quiet);
    if (auto rc = parseCommandLine(app, "export", kUsage, argc, argv)) return *rc;
    auto usageError = [](const std::string& what) {
        std::fprintf(stderr, "tessera-cli export: %s (see --help)\n", what.c_str());
        return 2;
    };
    if (frames_spec.empty()) return usageError("--frames is required");
    if (out.empty()) return usageError("--out is required");
    media::VideoExportOptions options;
    options.quality = quality;
    if (!format.empty()) {
        auto f = media::parseFormatName(format);
        if (!f) return usageError("--format '" + format + "' is not one of mp4, webm, gif, webp, png");
        options.format = *f;
    } else {
        auto f = media::formatFromPath(out);
        if (!f) return usageError("cannot tell the format from --out '" + out + "'; give --format");
        options.format = *f;
    }
    if (!fps_text.empty() && !parseFps(fps_text, options.fps))
        return usageError("--fps '" + fps_text + "' is not N or N/D with a rate up to 1000");
    if (!size_text.empty() && !parseExportSize(size_text, options.width, options.height))
        return usageError("--size '" + size_text + "' is not WxH (0..16384, one side may be 0)");

    auto files = listFrames(frames_spec);
    if (!files) {
        std::fprintf(stderr, "tessera-cli export: %s\n", files.error().c_str());
        return 1;
    }
    std::map<std::string, std::string> first_text;
    auto first = readPng(files->front(), &first_text);
    if (!first) {
        std::fprintf(stderr, "tessera-cli export: %s\n", first.error().c_str());
        return 1;
    }
    if (!recipe_path.empty()) {
        std::ifstream f(recipe_path, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (!f.good() && !f.eof()) {
            std::fprintf(stderr, "tessera-cli export: cannot read %s\n", recipe_path.c_str());
            return 1;
        }
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (!f.is_open() || j.is_discarded()) {
            std::fprintf(stderr, "tessera-cli export: %s is not a readable JSON file\n", recipe_path.c_str());
            return 1;
        }
        options.metadata[media::kRecipeKey] = j.dump();
    } else if (auto it = first_text.find(media::kRecipeKey); it != first_text.end()) {
        options.metadata[media::kRecipeKey] = it->second;
    }

    media::VideoWriter writer;
    g_cancel.store(false);
    writer.setCancelFlag(&g_cancel);
    const size_t total = files->size();
    if (!quiet)
        writer.setProgress([total](int64_t n) {
            std::fprintf(stderr, "\rexport: frame %lld/%zu", static_cast<long long>(n), total);
            std::fflush(stderr);
        });
    auto previous = std::signal(SIGINT, onInterrupt);
    auto restore = [&] { std::signal(SIGINT, previous); };
    Status s = writer.open(out, options, first->width, first->height);
    for (size_t i = 0; s.ok() && i < total; ++i) {
        if (g_cancel.load()) break; // the writer reports it on the next call
        auto img = i == 0 ? std::move(first) : readPng((*files)[i]);
        if (!img) {
            writer.cancel();
            s = Status::error(img.error());
            break;
        }
        s = writer.addFrame(*img);
    }
    if (s.ok()) s = writer.finish();
    restore();
    if (!quiet) std::fprintf(stderr, "\n");
    if (!s) {
        std::fprintf(stderr, "tessera-cli export: %s\n", s.message().c_str());
        return g_cancel.load() ? 130 : 1;
    }
    std::printf("wrote %s (%s, %zu frames, %dx%d, %d/%d fps%s)\n", out.c_str(), media::formatName(options.format), total,
                writer.width(), writer.height(), options.fps.num, options.fps.den,
                options.metadata.count(media::kRecipeKey) ? ", with recipe" : "");
    return 0;
}

} // namespace tessera::cli
