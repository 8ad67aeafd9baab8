// Command-line parsing for every tessera-cli command: CLI11 plus strict number options.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <vector>

#include "cli/cli.h"

namespace tessera::cli {

namespace {

bool allDigits(const std::string& s, size_t from) {
    if (s.size() <= from) return false;
    for (size_t i = from; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

std::string rangeText(long long min, long long max) {
    return std::to_string(min) + " to " + std::to_string(max);
}

} // namespace

std::optional<long long> parseInt(const std::string& text, long long min, long long max) {
    if (!allDigits(text, text.rfind('-', 0) == 0 ? 1 : 0)) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno == ERANGE || *end != '\0' || v < min || v > max) return std::nullopt;
    return v;
}

std::optional<uint64_t> parseUint64(const std::string& text) {
    if (!allDigits(text, 0)) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (errno == ERANGE || *end != '\0') return std::nullopt;
    return static_cast<uint64_t>(v);
}

std::optional<double> parseNumber(const std::string& text, double min, double max) {
    // Decimal spellings only: digits, one point, an exponent; no nan, inf or hexadecimal floats.
    if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string::npos) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < min || v > max)
        return std::nullopt;
    return v;
}

bool parseSize(const std::string& text, long long min_side, long long max_side, int& width, int& height) {
    const auto x = text.find('x');
    if (x == std::string::npos) return false;
    auto w = parseInt(text.substr(0, x), min_side, max_side);
    auto h = parseInt(text.substr(x + 1), min_side, max_side);
    if (!w || !h) return false;
    width = static_cast<int>(*w);
    height = static_cast<int>(*h);
    return true;
}

CLI::Option* addIntOption(CLI::App& app, const std::string& name, std::function<void(long long)> set, long long min,
                          long long max) {
    return app.add_option_function<std::string>(name, [set, name, min, max](const std::string& text) {
        auto v = parseInt(text, min, max);
        if (!v) throw CLI::ValidationError(name, "expects an integer from " + rangeText(min, max) + ", got '" + text + "'");
        set(*v);
    });
}

CLI::Option* addSeed(CLI::App& app, const std::string& name, uint64_t& target) {
    return app.add_option_function<std::string>(name, [&target, name](const std::string& text) {
        auto v = parseUint64(text);
        if (!v) throw CLI::ValidationError(name, "expects a whole number from 0 to 18446744073709551615, got '" + text + "'");
        target = *v;
    });
}

CLI::Option* addNumberOption(CLI::App& app, const std::string& name, std::function<void(double)> set, double min,
                             double max) {
    return app.add_option_function<std::string>(name, [set, name, min, max](const std::string& text) {
        auto v = parseNumber(text, min, max);
        if (!v) {
            char range[96];
            std::snprintf(range, sizeof range, "%g to %g", min, max);
            throw CLI::ValidationError(name, "expects a finite number from " + std::string(range) + ", got '" + text + "'");
        }
        set(*v);
    });
}

std::optional<int> parseCommandLine(CLI::App& app, const std::string& command, const std::string& usage, int argc,
                                    char** argv) {
    // --help prints the command's own usage text (kept as it always was), whatever else is given.
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") break;
        if (a == "--help" || a == "-h") {
            std::printf("%s", usage.c_str());
            return 0;
        }
    }
    app.set_help_flag();
    app.allow_extras(false);
    app.positionals_at_end(false);
    // CLI11 lets an option that needs a value take the next option as that value ("--out --json"
    // would write a file named --json): an option followed by nothing or by another option is an
    // error here; --out=--json still says it literally.
    auto takesValue = [&](const std::string& arg) {
        if (arg.rfind("--", 0) != 0 || arg.find('=') != std::string::npos) return false;
        for (const CLI::Option* o : app.get_options()) {
            if (o->get_expected_min() < 1) continue;
            for (const std::string& n : o->get_lnames())
                if (arg == "--" + n) return true;
        }
        return false;
    };
    auto known = [&](const std::string& arg) {
        const std::string name = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
        for (const CLI::Option* o : app.get_options())
            for (const std::string& n : o->get_lnames())
                if (name == n) return true;
        return false;
    };
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") break;
        if (a.size() > 2 && a.rfind("--", 0) == 0 && !known(a)) {
            std::fprintf(stderr, "tessera-cli %s: error: unknown option %s (see tessera-cli %s --help)\n", command.c_str(),
                         a.substr(0, a.find('=')).c_str(), command.c_str());
            return 2;
        }
        if (!takesValue(a)) continue;
        const bool missing = i + 1 == argc;
        const std::string next = missing ? "" : argv[i + 1];
        if (missing || (next.size() > 2 && next.rfind("--", 0) == 0)) {
            std::fprintf(stderr, "tessera-cli %s: error: %s needs a value%s (see tessera-cli %s --help)\n", command.c_str(),
                         a.c_str(), missing ? "" : (", got the option " + next + "; write " + a + "=" + next + " to mean it").c_str(),
                         command.c_str());
            return 2;
        }
        ++i; // the value, whatever it looks like
    }
    // CLI11 takes the arguments last-first.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 0; --i) args.emplace_back(argv[i]);
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "tessera-cli %s: error: %s (see tessera-cli %s --help)\n", command.c_str(), e.what(),
                     command.c_str());
        return 2;
    }
    return std::nullopt;
}

bool validUtf8(const std::string& text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

std::string dataDir() {
    if (const char* env = std::getenv("TESSERA_DATA_DIR")) return env;
    return std::string(TESSERA_SOURCE_DIR) + "/tests/data";
}

std::string modelsDir() {
    if (const char* env = std::getenv("TESSERA_MODELS_DIR")) return env;
    return std::string(TESSERA_SOURCE_DIR) + "/resources/models";
}

namespace {
std::string builtInModel(const char* name) {
    const std::string dir = modelsDir() + "/" + name;
    std::error_code ec;
    return std::filesystem::exists(dir + "/config.json", ec) ? dir : std::string();
}
} // namespace

std::string defaultModelDir() {
    std::string dir = builtInModel("shapes-janus");
    return dir.empty() ? dataDir() + "/reference/janus_tiny" : dir;
}

std::string defaultIgllmDir() { return builtInModel("shapes-igllm"); }

} // namespace tessera::cli
