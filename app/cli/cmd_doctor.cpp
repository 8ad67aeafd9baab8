// `tessera-cli doctor`: what this machine offers Tessera.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "tessera/engine/engine.h"
#include "tessera/projects/sqlite_info.h"
#include "tessera/renderers/vulkan_info.h"

namespace tessera::cli {

int cmdDoctor(int argc, char** argv) {
    CLI::App app;
    if (auto rc = parseCommandLine(app, "doctor",
                                   "Usage: tessera-cli doctor\n\nPrints the compute backends (CPU features, CUDA devices), the Vulkan\n"
                                   "devices, FFmpeg encoders, the Qt platform the studio would use, and library versions.\n",
                                   argc, argv))
        return *rc;
    std::printf("Tessera %s\n\n", engineVersion());

    CpuInfo cpu = cpuInfo();
    std::printf("Compute\n  CPU: %s, %d hardware threads, features:", cpu.model.c_str(), cpu.hardware_threads);
    for (const auto& f : cpu.features) std::printf(" %s", f.c_str());
    std::printf("\n  backends available:");
    for (const auto& b : availableBackends()) std::printf(" %s", b.c_str());
    std::printf("\n");
    auto gpus = cudaDevices();
    const BackendChoice choice = autoBackend();
    if (gpus.empty()) std::printf("  CUDA devices: none\n");
    for (const auto& g : gpus)
        std::printf("  CUDA device: %s, %.1f GiB, compute %d.%d\n", g.name.c_str(),
                    static_cast<double>(g.memory_bytes) / (1 << 30), g.compute_major, g.compute_minor);
    if (!choice.cuda_unavailable.empty()) std::printf("  cuda: %s\n", choice.cuda_unavailable.c_str());
    std::printf("  a job with --backend auto runs on: %s%s\n", choice.name.c_str(),
                choice.name == "cuda" && !gpus.empty() ? (" (" + gpus.front().name + ")").c_str() : "");

    std::string vk_error;
    auto vk = renderers::listVulkanDevices(&vk_error);
    std::printf("\nVulkan (scene renderer)\n");
    if (vk.empty()) std::printf("  no device: %s\n", vk_error.c_str());
    for (const auto& d : vk) {
        bool lavapipe = d.type == "cpu" || d.name.find("llvmpipe") != std::string::npos;
        std::printf("  %s (%s%s), Vulkan %s\n", d.name.c_str(), d.type.c_str(), lavapipe ? ", lavapipe: runs on the CPU" : "",
                    d.api_version.c_str());
    }

    std::printf("\nFFmpeg (export)\n  libavcodec %s, libavformat %s, libavutil %s\n  encoders:", AV_STRINGIFY(LIBAVCODEC_VERSION),
                AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVUTIL_VERSION));
    for (const char* name : {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1", "gif", "png", "h264_nvenc"}) {
        const AVCodec* c = avcodec_find_encoder_by_name(name);
        std::printf(" %s%s", name, c ? "" : "(missing)");
    }
    std::printf("\n");

    const char* display = std::getenv("DISPLAY");
    const char* wayland = std::getenv("WAYLAND_DISPLAY");
    const char* forced = std::getenv("QT_QPA_PLATFORM");
    std::printf("\nStudio (Qt 6)\n  platform: %s\n", forced ? forced : (wayland ? "wayland" : (display ? "xcb" : "none (no display: `./tessera run` runs headless)")));

    std::printf("\nLibraries\n  SQLite %s (FTS5 %s)\n", projects::sqliteVersion().c_str(),
                projects::sqliteHasFts5() ? "yes" : "no");
    return 0;
}

} // namespace tessera::cli
