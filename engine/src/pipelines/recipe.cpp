#include "tessera/engine/recipe.h"

#include <algorithm>
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
    return {{"parameters", parametersLine()}, {"tessera", j.dump()}, {"Software", "Tessera"}};
}

Expected<Recipe> Recipe::fromPngText(const std::map<std::string, std::string>& text) {
    auto it = text.find("tessera");
    if (it == text.end()) return Status::error("no Tessera recipe in this file (no 'tessera' text chunk)");
    try {
        auto j = nlohmann::json::parse(it->second);
        Recipe r;
        r.version = j.at("version").get<int>();
        if (r.version != 1) return Status::error("recipe version " + std::to_string(r.version) + " is newer than this Tessera");
        r.method = j.at("method").get<std::string>();
        r.model_name = j.at("model").at("name").get<std::string>();
        r.model_dir = j.at("model").at("dir").get<std::string>();
        r.model_hash = j.at("model").at("hash").get<std::string>();
        r.model_layout = j.at("model").value("layout", "");
        r.prompt = j.at("prompt").get<std::string>();
        r.seed = j.at("seed").get<uint64_t>();
        const auto& s = j.at("sampler");
        r.sampler.temperature = s.at("temperature").get<float>();
        r.sampler.top_k = s.at("top_k").get<int>();
        r.sampler.top_p = s.at("top_p").get<float>();
        r.sampler.min_p = s.at("min_p").get<float>();
        r.sampler.cfg = s.at("cfg").get<float>();
        r.images = j.at("images").get<int>();
        r.image_index = j.at("image_index").get<int>();
        r.grid_h = j.at("grid").at(0).get<int>();
        r.grid_w = j.at("grid").at(1).get<int>();
        r.backend = j.at("backend").get<std::string>();
        r.precision = j.at("precision").get<std::string>();
        r.threads = j.value("threads", 0);
        r.cancelled = j.value("cancelled", false);
        auto tokens = util::unpackTokens(j.at("tokens").get<std::string>());
        if (!tokens) return tokens.status();
        r.tokens = std::move(*tokens);
        if (r.tokens.size() != j.at("token_count").get<size_t>()) return Status::error("recipe token count does not match its stream");
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

} // namespace tessera
