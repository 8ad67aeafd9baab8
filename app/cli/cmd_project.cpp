// `tessera-cli project …`: create, list, show, search, export and recover project folders.
#include <cstdio>

#include "cli/cli.h"

namespace tessera::cli {

int cmdProject(int argc, char** argv) {
    (void)argc;
    (void)argv;
    std::fprintf(stderr, "tessera-cli project: not available yet\n");
    return 2;
}

} // namespace tessera::cli
