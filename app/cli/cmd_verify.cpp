// `tessera-cli verify DIR`: run a reference set and print max |Δ| per golden with PASS/FAIL.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

namespace tessera::cli {

int cmdVerify(int argc, char** argv) {
    const char* usage = "Usage: tessera-cli verify DIR... [--backend cpu|cuda|auto] [--threads N]\n\n"
                        "Runs each reference set (checkpoint + golden.safetensors, or tokenizer.json +\n"
                        "golden.json) and prints the max |delta| per golden tensor with PASS/FAIL.\n"
                        "Exit status 0 only when every check of every set is within tolerance.\n";
    CLI::App app;
    std::vector<std::string> dirs;
    std::string backend_name = "cpu";
    int threads = 0;
    app.add_option("DIR", dirs);
    app.add_option("--backend", backend_name);
    addInt(app, "--threads", threads, 0, 4096);
    if (auto rc = parseCommandLine(app, "verify", usage, argc, argv)) return *rc;
    if (dirs.empty()) {
        std::fprintf(stderr, "%s", usage);
        return 2;
    }
    auto backend = createBackend(backend_name, threads);
    if (!backend) {
        std::fprintf(stderr, "error: %s\n", backend.error().c_str());
        return 1;
    }
    bool all_ok = true;
    for (const auto& dir : dirs) {
        auto report = verifyReferenceSet(dir, **backend);
        if (!report) {
            std::printf("%s: ERROR %s\n", dir.c_str(), report.error().c_str());
            all_ok = false;
            continue;
        }
        std::printf("%s (%s)\n", dir.c_str(), report->kind.c_str());
        for (const auto& c : report->checks) {
            std::printf("  %-24s max|d| %-12.3g tol %-8.1g %s %s\n", c.name.c_str(), c.max_abs_diff, c.tolerance,
                        c.passed ? "PASS" : "FAIL", c.detail.c_str());
        }
        for (const auto& n : report->notes) std::printf("  note: %s\n", n.c_str());
        std::printf("  %s\n", report->passed() ? "PASS" : "FAIL");
        all_ok = all_ok && report->passed();
    }
    return all_ok ? 0 : 1;
}

} // namespace tessera::cli
