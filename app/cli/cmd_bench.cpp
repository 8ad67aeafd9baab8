// `tessera-cli bench`: benchmarks that print figures as JSON.
#include <cstdio>

#include "cli/cli.h"

namespace tessera::cli {

int cmdBench(int argc, char** argv) {
    Args args(argc, argv, {"help"});
    std::printf("Usage: tessera-cli bench decode [--preset NAME | --config FILE] [--batch B] [--steps N]\n");
    return args.has("help") ? 0 : 2;
}

} // namespace tessera::cli
