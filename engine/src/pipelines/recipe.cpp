#include "tessera/engine/recipe.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/encoding.h"

namespace fs = std::filesystem;

namespace tessera {

std::string Recipe::parametersLine() const {
    std::ostringstream os;
    os << prompt << "\nSteps: " << grid_h * grid_w << ", Sampler: " << method << " autoregressive, CFG scale: " << sampler.cfg
       << ", Seed: " << seed << ", Temperature: " << sampler.temperature << ", Top-k: " << sampler.top_k
       << ", Top-p: " << sampler.top_p << ", Min-p: " << sampler.min_p << ", Size: " << grid_w << "x" << grid_h
       << " tokens, Model hash: " << model_hash.substr(0, 10) << ", Model: " << model_name << ", Batch size: " << images
       << ", Batch pos: " << image_index << ", Backend: " << backend << ", Precision: " << precision
       << ", Version: Tessera";
    if (decode.strategy != DecodeStrategy::Plain)
        os << ", Decode: " << decodeStrategyName(decode.strategy) << " (window " << decode.window << ", "
           << sjdInitName(decode.init) << " init)";
    if (decode.lantern_k > 0) os << ", LANTERN (lossy): k " << decode.lantern_k << ", delta " << decode.lantern_delta;
    if (!overlay_path.empty())
        os << ", Overlay: " << fs::path(overlay_path).filename().string() << " (" << overlay_hash.substr(0, 10) << ")";
    if (cancelled) os << ", Cancelled after " << tokens.size() << " tokens";
    return os.str();
}

std::map<std::string, std::string> Recipe::toPngText() const {
    nlohmann::json j = {
        {"version", version},
        {"method", method},
        {"model", {{"name", model_name}, {"dir", model_dir}, {"hash", model_hash}, {"layout", model_layout}}},
        {"prompt", prompt},
        {"seed", seed},
        {"sampler",
         {{"temperature", sampler.temperature},
          {"top_k", sampler.top_k},
          {"top_p", sampler.top_p},
          {"min_p", sampler.min_p},
          {"cfg", sampler.cfg}}},
        {"images", images},
        {"image_index", image_index},
        {"grid", {grid_h, grid_w}},
        {"backend", backend},
        {"precision", precision},
        {"threads", threads},
        {"cancelled", cancelled},
        {"token_count", tokens.size()},
        {"tokens", util::packTokens(tokens)},
        {"token_encoding", "zlib+base64 int32le"},
    };
    if (!overlay_path.empty()) j["overlay"] = {{"path", overlay_path}, {"sha256", overlay_hash}};
    if (decode.strategy != DecodeStrategy::Plain)
        j["decode"] = {{"strategy", decodeStrategyName(decode.strategy)}, {"window", decode.window}, {"init", sjdInitName(decode.init)}};
    if (decode.strategy != DecodeStrategy::Plain && decode.lantern_k > 0) {
        j["decode"]["lantern_k"] = decode.lantern_k;
        j["decode"]["lantern_delta"] = decode.lantern_delta;
    }
    return {{"parameters", parametersLine()}, {"tessera", j.dump()}, {"Software", "Tessera"}};
}

namespace {

// Field readers that refuse what a plain get<T>() would convert silently (1.5 -> 1, 2^64 -> 0, -1 -> 2^64-1).
uint64_t unsignedField(const nlohmann::json& v, const char* name) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        throw std::runtime_error(std::string(name) + " must be a whole number from 0 to 2^64-1, got " + v.dump());
    return v.get<uint64_t>();
}

int intField(const nlohmann::json& v, const char* name, int min, int max) {
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
        throw std::runtime_error(std::string(name) + " must be a whole number from " + std::to_string(min) + " to " +
                                 std::to_string(max) + ", got " + v.dump());
    return static_cast<int>(v.get<int64_t>());
}

float finiteField(const nlohmann::json& v, const char* name) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || std::fabs(v.get<double>()) > 1e6)
        throw std::runtime_error(std::string(name) + " must be a finite number, got " + v.dump());
    return static_cast<float>(v.get<double>());
}

constexpr int kMaxGridSide = 1024;
constexpr int kMaxImages = 64;

} // namespace

Expected<Recipe> Recipe::fromPngText(const std::map<std::string, std::string>& text) {
    auto it = text.find("tessera");
    if (it == text.end()) return Status::error("no Tessera recipe in this file (no 'tessera' text chunk)");
    auto j = nlohmann::json::parse(it->second, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::error("malformed Tessera recipe: the 'tessera' chunk is not a JSON object");
    try {
        Recipe r;
        r.version = intField(j.at("version"), "version", 0, 1 << 30);
        if (r.version != 1) return Status::error("recipe version " + std::to_string(r.version) + " is newer than this Tessera");
        r.method = j.at("method").get<std::string>();
        r.model_name = j.at("model").at("name").get<std::string>();
        r.model_dir = j.at("model").at("dir").get<std::string>();
        r.model_hash = j.at("model").at("hash").get<std::string>();
        r.model_layout = j.at("model").value("layout", "");
        r.prompt = j.at("prompt").get<std::string>();
        r.seed = unsignedField(j.at("seed"), "seed");
        const auto& s = j.at("sampler");
        r.sampler.temperature = finiteField(s.at("temperature"), "sampler.temperature");
        r.sampler.top_k = intField(s.at("top_k"), "sampler.top_k", 0, 1 << 30);
        r.sampler.top_p = finiteField(s.at("top_p"), "sampler.top_p");
        r.sampler.min_p = finiteField(s.at("min_p"), "sampler.min_p");
        r.sampler.cfg = finiteField(s.at("cfg"), "sampler.cfg");
        if (j.contains("decode")) {
            const auto& d = j.at("decode");
            const auto strategy = decodeStrategyFromName(d.at("strategy").get<std::string>());
            const auto init = sjdInitFromName(d.value("init", "random"));
            if (!strategy) return Status::error("recipe names an unknown decode strategy '" + d.at("strategy").get<std::string>() + "'");
            if (!init) return Status::error("recipe names an unknown SJD initialisation '" + d.value("init", "") + "'");
            r.decode.strategy = *strategy;
            r.decode.init = *init;
            r.decode.window = intField(d.at("window"), "decode.window", 1, kMaxSjdWindow);
            if (d.contains("lantern_k")) {
                r.decode.lantern_k = intField(d.at("lantern_k"), "decode.lantern_k", 0, kMaxLanternK);
                r.decode.lantern_delta = finiteField(d.at("lantern_delta"), "decode.lantern_delta");
            }
        }
        if (j.contains("overlay")) {
            r.overlay_path = j.at("overlay").at("path").get<std::string>();
            r.overlay_hash = j.at("overlay").at("sha256").get<std::string>();
        }
        r.images = intField(j.at("images"), "images", 1, kMaxImages);
        r.image_index = intField(j.at("image_index"), "image_index", 0, r.images - 1);
        r.grid_h = intField(j.at("grid").at(0), "grid[0]", 1, kMaxGridSide);
        r.grid_w = intField(j.at("grid").at(1), "grid[1]", 1, kMaxGridSide);
        r.backend = j.at("backend").get<std::string>();
        r.precision = j.at("precision").get<std::string>();
        r.threads = j.contains("threads") ? intField(j.at("threads"), "threads", 0, 1 << 16) : 0;
        r.cancelled = j.value("cancelled", false);
        const uint64_t count = unsignedField(j.at("token_count"), "token_count");
        if (count > static_cast<uint64_t>(r.grid_h) * static_cast<uint64_t>(r.grid_w))
            return Status::error("recipe holds " + std::to_string(count) + " tokens, more than its " + std::to_string(r.grid_h) +
                                 "x" + std::to_string(r.grid_w) + " grid");
        auto tokens = util::unpackTokens(j.at("tokens").get<std::string>());
        if (!tokens) return tokens.status();
        r.tokens = std::move(*tokens);
        if (r.tokens.size() != count) return Status::error("recipe token count does not match its stream");
        return r;
    } catch (const std::exception& e) {
        return Status::error(std::string("malformed Tessera recipe: ") + e.what());
    }
}

Expected<std::string> modelIdentityHash(const std::string& dir) {
    util::Sha256 h;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const auto name = e.path().filename().string();
        if (name == "config.json" || name.ends_with(".safetensors") || name == "tokenizer.json") files.push_back(e.path());
    }
    if (ec) return Status::error("cannot list " + dir + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) return Status::error("cannot read " + f.string());
        const std::string name = f.filename().string();
        h.update(name.data(), name.size());
        const uint64_t size = fs::file_size(f, ec);
        h.update(&size, sizeof size);
        std::string head;
        if (f.extension() == ".safetensors") {
            unsigned char len[8] = {};
            in.read(reinterpret_cast<char*>(len), 8);
            uint64_t n = 0;
            for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
            head.resize(static_cast<size_t>(std::min<uint64_t>(n, 100u << 20)));
            in.read(head.data(), static_cast<std::streamsize>(head.size()));
        } else {
            std::stringstream ss;
            ss << in.rdbuf();
            head = ss.str();
        }
        h.update(head.data(), head.size());
    }
    if (files.empty()) return Status::error(dir + " holds no checkpoint files");
    return h.hexDigest();
}

Expected<std::string> fileHash(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    util::Sha256 h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) return Status::error("reading " + path + " failed");
    return h.hexDigest();
}

} // namespace tessera
