// Checkpoint folders (config.json + single or sharded safetensors), config parsing, weight binding.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tessera/engine/checkpoint.h"

namespace fs = std::filesystem;

namespace tessera {

// ---- ModelConfig -------------------------------------------------------------------------------------

Expected<ModelConfig> ModelConfig::parse(const std::string& text, const std::string& source) {
    ModelConfig c;
    c.source_ = source;
    try {
        c.json_ = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        return Status::error(source + ": malformed JSON: " + e.what());
    }
    if (!c.json_.is_object()) return Status::error(source + ": top level is not a JSON object");
    if (c.json_.contains("text_config") && !c.json_["text_config"].is_object())
        return Status::error(source + ": text_config is not an object");
    if (c.json_.contains("architectures") &&
        (!c.json_["architectures"].is_array() || (!c.json_["architectures"].empty() && !c.json_["architectures"][0].is_string())))
        return Status::error(source + ": architectures is not a list of names");
    if (c.json_.contains("model_type") && !c.json_["model_type"].is_string())
        return Status::error(source + ": model_type is not a string");
    return c;
}

Expected<ModelConfig> ModelConfig::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path + " (is this a checkpoint folder?)");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

std::string ModelConfig::architecture() const {
    if (json_.contains("architectures") && !json_["architectures"].empty()) return json_["architectures"][0].get<std::string>();
    return modelType();
}

std::string ModelConfig::modelType() const {
    return json_.contains("model_type") ? json_["model_type"].get<std::string>() : std::string();
}

const nlohmann::json& ModelConfig::text() const {
    if (json_.contains("text_config")) return json_["text_config"];
    return json_;
}

double ModelConfig::ropeTheta(double fallback) const {
    for (const nlohmann::json* j : {&text(), &json_}) {
        if (j->contains("rope_theta") && (*j)["rope_theta"].is_number()) return (*j)["rope_theta"].get<double>();
        if (j->contains("rope_parameters") && (*j)["rope_parameters"].is_object()) {
            const auto& rp = (*j)["rope_parameters"];
            if (rp.contains("rope_theta") && rp["rope_theta"].is_number()) return rp["rope_theta"].get<double>();
        }
    }
    return fallback;
}

bool ModelConfig::tieWordEmbeddings(bool fallback) const {
    for (const nlohmann::json* j : {&json_, &text()}) {
        if (j->contains("tie_word_embeddings") && (*j)["tie_word_embeddings"].is_boolean())
            return (*j)["tie_word_embeddings"].get<bool>();
    }
    return fallback;
}

int64_t ModelConfig::textInt(const char* key) const {
    const auto& t = text();
    if (!t.contains(key) || !t[key].is_number_integer())
        throw Error(source_ + ": " + key + " missing or not an integer");
    return t[key].get<int64_t>();
}

int64_t ModelConfig::textInt(const char* key, int64_t fallback) const {
    const auto& t = text();
    if (!t.contains(key) || t[key].is_null()) return fallback;
    if (!t[key].is_number_integer()) throw Error(source_ + ": " + key + " is not an integer");
    return t[key].get<int64_t>();
}

double ModelConfig::textFloat(const char* key, double fallback) const {
    const auto& t = text();
    if (!t.contains(key) || t[key].is_null()) return fallback;
    if (!t[key].is_number()) throw Error(source_ + ": " + key + " is not a number");
    return t[key].get<double>();
}

// ---- Checkpoint --------------------------------------------------------------------------------------

Expected<Checkpoint> Checkpoint::openFiles(const std::vector<std::string>& paths) {
    Checkpoint c;
    for (const auto& p : paths) {
        auto f = SafetensorsFile::open(p);
        if (!f) return f.status();
        for (const auto& t : (*f)->header().tensors) {
            if (c.entries_.count(t.name)) return Status::error("tensor " + t.name + " appears in more than one shard");
            c.entries_[t.name] = Entry{*f, &t};
        }
    }
    return c;
}

Expected<Checkpoint> Checkpoint::open(const std::string& dir) {
    if (!fs::is_directory(dir)) return Status::error(dir + " is not a folder");
    auto config = ModelConfig::load((fs::path(dir) / "config.json").string());
    if (!config) return config.status();
    std::vector<std::string> files;
    fs::path index = fs::path(dir) / "model.safetensors.index.json";
    fs::path single = fs::path(dir) / "model.safetensors";
    std::map<std::string, std::string> weight_map;
    if (fs::exists(index)) {
        std::ifstream in(index);
        nlohmann::json j;
        try {
            in >> j;
        } catch (const std::exception& e) {
            return Status::error(index.string() + ": malformed JSON: " + e.what());
        }
        if (!j.contains("weight_map") || !j["weight_map"].is_object())
            return Status::error(index.string() + ": no weight_map object");
        std::set<std::string> shard_names;
        for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
            if (!it.value().is_string()) return Status::error(index.string() + ": weight_map entry is not a file name");
            std::string shard = it.value().get<std::string>();
            if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
                return Status::error(index.string() + ": shard name " + shard + " leaves the folder");
            shard_names.insert(shard);
            weight_map[it.key()] = shard;
        }
        for (const auto& s : shard_names) files.push_back((fs::path(dir) / s).string());
    } else if (fs::exists(single)) {
        files.push_back(single.string());
    } else {
        return Status::error(dir + ": no model.safetensors or model.safetensors.index.json");
    }
    auto c = openFiles(files);
    if (!c) return c.status();
    for (const auto& [name, shard] : weight_map) {
        auto it = c->entries_.find(name);
        if (it == c->entries_.end())
            return Status::error(index.string() + ": tensor " + name + " is listed in " + shard + " but not found there");
    }
    c->dir_ = dir;
    c->config_ = std::move(*config);
    return c;
}

bool Checkpoint::has(const std::string& name) const { return entries_.count(name) != 0; }

const TensorInfo* Checkpoint::find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : it->second.info;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& [n, e] : entries_) out.push_back(n);
    return out;
}

size_t Checkpoint::totalBytes() const {
    size_t total = 0;
    for (const auto& [n, e] : entries_) total += e.info->end - e.info->begin;
    return total;
}

Expected<Tensor> Checkpoint::load(const std::string& name, Backend& backend) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) return Status::error("tensor " + name + " not found in " + dir_);
    const auto& e = it->second;
    try {
        return backend.adopt(e.file->keepAlive(), e.file->data(*e.info), e.info->dtype, e.info->shape);
    } catch (const std::exception& ex) {
        return Status::error("loading " + name + ": " + ex.what());
    }
}

// ---- WeightBinder ------------------------------------------------------------------------------------

Tensor WeightBinder::bind(const std::string& name, const Shape& expected) {
    const TensorInfo* info = ckpt_.find(name);
    if (!expected.empty() && info->shape != expected) {
        problems_.push_back("tensor " + name + " has shape " + shapeString(info->shape) + ", config expects " +
                            shapeString(expected));
        return {};
    }
    if (info->dtype != DType::F32 && info->dtype != DType::BF16 && info->dtype != DType::F16) {
        problems_.push_back("tensor " + name + " has dtype " + dtypeName(info->dtype) + ", expected a float type");
        return {};
    }
    auto t = ckpt_.load(name, backend_);
    if (!t) {
        problems_.push_back(t.error());
        return {};
    }
    return *t;
}

Tensor WeightBinder::get(const std::string& name, const Shape& expected) {
    if (!ckpt_.has(name)) {
        missing_.push_back(name);
        return {};
    }
    return bind(name, expected);
}

Tensor WeightBinder::optional(const std::string& name, const Shape& expected) {
    return ckpt_.has(name) ? bind(name, expected) : Tensor();
}

Status WeightBinder::finish() const {
    if (missing_.empty() && problems_.empty()) return Status();
    std::string msg;
    if (!missing_.empty()) {
        msg = std::to_string(missing_.size()) + " tensor(s) missing from the checkpoint:";
        size_t shown = 0;
        for (const auto& m : missing_) {
            if (++shown > 12) {
                msg += " … (" + std::to_string(missing_.size() - 12) + " more)";
                break;
            }
            msg += " " + m;
        }
    }
    for (const auto& p : problems_) msg += (msg.empty() ? "" : "; ") + p;
    return Status::error(msg);
}

} // namespace tessera
