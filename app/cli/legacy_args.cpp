// The older key/value argument parser, used by the batch commands only (see cli.h).
#include <algorithm>
#include <stdexcept>

#include "cli/cli.h"

namespace tessera::cli {

Args::Args(int argc, char** argv, std::vector<std::string> flags) {
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0 && a.size() > 2) {
            std::string key = a.substr(2), value;
            auto eq = key.find('=');
            if (eq != std::string::npos) {
                value = key.substr(eq + 1);
                key = key.substr(0, eq);
            } else if (std::find(flags.begin(), flags.end(), key) == flags.end() && i + 1 < argc) {
                value = argv[++i];
            } else {
                value = "1";
            }
            options_[key] = value;
        } else {
            positional_.push_back(a);
        }
    }
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
    auto it = options_.find(key);
    return it == options_.end() ? fallback : it->second;
}

long long Args::getInt(const std::string& key, long long fallback) const {
    auto it = options_.find(key);
    if (it == options_.end()) return fallback;
    try {
        size_t used = 0;
        long long v = std::stoll(it->second, &used);
        if (used != it->second.size()) throw std::invalid_argument("trailing");
        return v;
    } catch (const std::exception&) {
        throw std::runtime_error("--" + key + " expects an integer, got '" + it->second + "'");
    }
}

double Args::getDouble(const std::string& key, double fallback) const {
    auto it = options_.find(key);
    if (it == options_.end()) return fallback;
    try {
        size_t used = 0;
        double v = std::stod(it->second, &used);
        if (used != it->second.size()) throw std::invalid_argument("trailing");
        return v;
    } catch (const std::exception&) {
        throw std::runtime_error("--" + key + " expects a number, got '" + it->second + "'");
    }
}

std::vector<std::string> Args::unknown(const std::vector<std::string>& known) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : options_)
        if (std::find(known.begin(), known.end(), k) == known.end()) out.push_back("--" + k);
    return out;
}

} // namespace tessera::cli
