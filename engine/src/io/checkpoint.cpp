// Checkpoint folders (config.json + single or sharded safetensors), config parsing, weight binding.
//
// Sections: file helpers · ModelConfig · Checkpoint · WeightBinder.
#include "tessera/engine/checkpoint.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace tessera {

// ---- file helpers ------------------------------------------------------------------------------------

namespace {

// Problems a WeightBinder keeps for its message; the rest are only counted.
constexpr size_t kShownProblems = 12;

// config.json and index files are a few KB; anything this large is not one of them.
constexpr uintmax_t kMaxJsonFileBytes = 64u << 20;

Expected<std::string> readJsonFile(const fs::path& path, const std::string& hint) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return Status::error("cannot read " + path.string() + ": no such file" + hint);
    if (!fs::is_regular_file(path, ec))
        return Status::error("cannot read " + path.string() + ": not a regular file");
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) return Status::error("cannot read " + path.string() + ": " + ec.message());
    if (size > kMaxJsonFileBytes)
        return Status::error(path.string() + ": " + std::to_string(size) +
                             " bytes is too large for a JSON file");
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path.string() + hint);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A shard named by an index must be a plain file name inside the checkpoint folder.
bool isPlainFileName(const std::string& name) {
    if (name.empty() || name == "." || name == "..") return false;
    for (char ch : name)
        if (ch == '/' || ch == '\\' || ch == '\0') return false;
    return name.find("..") == std::string::npos;
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

} // namespace

// ---- ModelConfig -------------------------------------------------------------------------------------

Expected<ModelConfig> ModelConfig::parse(const std::string& text, const std::string& source) {
    ModelConfig c;
    c.source_ = source;
    try {
        c.json_ = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return Status::error(source + ": malformed JSON: " + e.what());
    } catch (const std::exception& e) {
        return Status::error(source + ": cannot be read: " + e.what());
    }
    if (!c.json_.is_object()) return Status::error(source + ": top level is not a JSON object");
    // Validate every field the accessors hand out as a reference or a typed value, so they cannot meet
    // a type they do not expect later.
    const nlohmann::json* tc = member(c.json_, "text_config");
    if (tc && !tc->is_object() && !tc->is_null())
        return Status::error(source + ": text_config is not an object");
    if (const nlohmann::json* a = member(c.json_, "architectures")) {
        if (!a->is_null() && (!a->is_array() || (!a->empty() && !(*a)[0].is_string())))
            return Status::error(source + ": architectures is not a list of names");
    }
    for (const nlohmann::json* j : {static_cast<const nlohmann::json*>(&c.json_), tc}) {
        const nlohmann::json* mt = j ? member(*j, "model_type") : nullptr;
        if (mt && !mt->is_string()) return Status::error(source + ": model_type is not a string");
    }
    return c;
}

Expected<ModelConfig> ModelConfig::load(const std::string& path) {
    auto text = readJsonFile(path, " (is this a checkpoint folder?)");
    if (!text) return text.status();
    return parse(*text, path);
}

std::string ModelConfig::architecture() const {
    const nlohmann::json* a = member(json_, "architectures");
    if (a && a->is_array() && !a->empty() && (*a)[0].is_string()) return (*a)[0].get<std::string>();
    return modelType();
}

std::string ModelConfig::modelType() const {
    const nlohmann::json* mt = member(json_, "model_type");
    return mt && mt->is_string() ? mt->get<std::string>() : std::string();
}

const nlohmann::json& ModelConfig::text() const {
    const nlohmann::json* tc = member(json_, "text_config");
    return tc && tc->is_object() ? *tc : json_;
}

double ModelConfig::ropeTheta(double fallback) const {
    auto checked = [&](const nlohmann::json& v, const char* where) {
        const double theta = v.get<double>();
        if (!(theta > 0.0) || !std::isfinite(theta))
            throw Error(source_ + ": " + where + " must be a positive number, not " + std::to_string(theta));
        return theta;
    };
    for (const nlohmann::json* j : {&text(), &json_}) {
        const nlohmann::json* rt = member(*j, "rope_theta");
        if (rt && rt->is_number()) return checked(*rt, "rope_theta");
        const nlohmann::json* rp = member(*j, "rope_parameters");
        const nlohmann::json* prt = rp ? member(*rp, "rope_theta") : nullptr;
        if (prt && prt->is_number()) return checked(*prt, "rope_parameters.rope_theta");
    }
    return fallback;
}

bool ModelConfig::tieWordEmbeddings(bool fallback) const {
    for (const nlohmann::json* j : {&json_, &text()}) {
        const nlohmann::json* tie = member(*j, "tie_word_embeddings");
        if (tie && tie->is_boolean()) return tie->get<bool>();
    }
    return fallback;
}

int64_t ModelConfig::textInt(const char* key) const {
    const nlohmann::json* v = member(text(), key);
    if (!v || v->is_null()) throw Error(source_ + ": " + key + " missing");
    return textInt(key, 0);
}

int64_t ModelConfig::textInt(const char* key, int64_t fallback) const {
    const nlohmann::json* v = member(text(), key);
    if (!v || v->is_null()) return fallback;
    if (v->is_number_unsigned()) {
        const uint64_t u = v->get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw Error(source_ + ": " + key + " is out of range (" + std::to_string(u) + ")");
        return static_cast<int64_t>(u);
    }
    if (!v->is_number_integer()) throw Error(source_ + ": " + key + " is not an integer");
    return v->get<int64_t>();
}

double ModelConfig::textFloat(const char* key, double fallback) const {
    const nlohmann::json* v = member(text(), key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_number()) throw Error(source_ + ": " + key + " is not a number");
    return v->get<double>();
}

bool ModelConfig::textBool(const char* key, bool fallback) const {
    const nlohmann::json* v = member(text(), key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_boolean()) throw Error(source_ + ": " + key + " is not true or false");
    return v->get<bool>();
}

// ---- Checkpoint --------------------------------------------------------------------------------------

Expected<Checkpoint> Checkpoint::openFiles(const std::vector<std::string>& paths) {
    Checkpoint c;
    for (const auto& p : paths) {
        auto f = SafetensorsFile::open(p);
        if (!f) return f.status();
        for (const auto& t : (*f)->header().tensors) {
            auto prev = c.entries_.find(t.name);
            if (prev != c.entries_.end()) {
                return Status::error("tensor " + t.name + " appears in both " + prev->second.file->path() +
                                     " and " + p);
            }
            c.entries_[t.name] = Entry{*f, &t};
        }
    }
    return c;
}

Expected<Checkpoint> Checkpoint::open(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::error(dir + " is not a folder");
    auto config = ModelConfig::load((fs::path(dir) / "config.json").string());
    if (!config) return config.status();
    std::vector<std::string> files;
    const fs::path index = fs::path(dir) / "model.safetensors.index.json";
    const fs::path single = fs::path(dir) / "model.safetensors";
    std::map<std::string, std::string> weight_map;
    if (fs::exists(index, ec)) {
        auto text = readJsonFile(index, "");
        if (!text) return text.status();
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(*text);
        } catch (const std::exception& e) {
            return Status::error(index.string() + ": malformed JSON: " + e.what());
        }
        const nlohmann::json* wm = member(j, "weight_map");
        if (!wm || !wm->is_object()) return Status::error(index.string() + ": no weight_map object");
        if (wm->empty()) return Status::error(index.string() + ": weight_map lists no tensors");
        std::set<std::string> shard_names;
        for (auto it = wm->begin(); it != wm->end(); ++it) {
            if (!it.value().is_string())
                return Status::error(index.string() + ": weight_map entry for " + it.key() +
                                     " is not a file name");
            const std::string& shard = it.value().get_ref<const std::string&>();
            if (!isPlainFileName(shard))
                return Status::error(index.string() + ": shard name '" + shard + "' leaves the folder");
            if (shard_names.insert(shard).second) {
                const fs::path sp = fs::path(dir) / shard;
                if (!fs::is_regular_file(sp, ec)) {
                    return Status::error(index.string() + ": shard " + shard + " (holding " + it.key() +
                                         ") does not exist in " + dir + " (incomplete download?)");
                }
                files.push_back(sp.string());
            }
            weight_map[it.key()] = shard;
        }
    } else if (fs::exists(single, ec)) {
        files.push_back(single.string());
    } else {
        return Status::error(dir + ": no model.safetensors or model.safetensors.index.json");
    }
    auto c = openFiles(files);
    if (!c) return c.status();
    for (const auto& [name, shard] : weight_map) {
        auto it = c->entries_.find(name);
        if (it == c->entries_.end() || fs::path(it->second.file->path()).filename() != shard)
            return Status::error(index.string() + ": tensor " + name + " is listed in " + shard +
                                 " but not found there");
    }
    c->dir_ = dir;
    c->config_ = std::move(*config);
    return c;
}

bool Checkpoint::has(const std::string& name) const {
    return entries_.count(name) != 0;
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : it->second.info;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [n, e] : entries_) out.push_back(n);
    return out;
}

size_t Checkpoint::totalBytes() const {
    size_t total = 0;
    for (const auto& [n, e] : entries_) total += e.info->end - e.info->begin;
    return total;
}

Expected<Tensor> Checkpoint::load(const std::string& name, Backend& backend, bool matrix) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) return Status::error("tensor " + name + " not found in " + dir_);
    const auto& e = it->second;
    try {
        const void* src = e.file->data(*e.info);
        const size_t bytes = e.info->end - e.info->begin;
        // The format does not promise aligned data (a header of odd length shifts everything); backends
        // read elements as their own type, so hand them an aligned copy instead.
        if (reinterpret_cast<uintptr_t>(src) % dtypeSize(e.info->dtype) != 0) {
            std::vector<uint64_t> aligned((bytes + sizeof(uint64_t) - 1) / sizeof(uint64_t));
            if (bytes) std::memcpy(aligned.data(), src, bytes);
            return matrix ? backend.uploadMatrix(aligned.data(), e.info->dtype, e.info->shape)
                          : backend.upload(aligned.data(), e.info->dtype, e.info->shape);
        }
        return matrix ? backend.adoptMatrix(e.file->keepAlive(), src, e.info->dtype, e.info->shape)
                      : backend.adopt(e.file->keepAlive(), src, e.info->dtype, e.info->shape);
    } catch (const std::exception& ex) {
        return Status::error("loading " + name + ": " + ex.what());
    }
}

// ---- WeightBinder ------------------------------------------------------------------------------------

Tensor WeightBinder::bind(const std::string& name, const Shape& expected, bool matrix) {
    const TensorInfo* info = ckpt_.find(name);
    if (!info) {
        if (missing_count_++ < kShownProblems) missing_.push_back(name);
        return {};
    }
    auto problem = [&](std::string what) {
        if (problem_count_++ < kShownProblems) problems_.push_back(std::move(what));
        return Tensor();
    };
    if (!expected.empty() && info->shape != expected) {
        return problem("tensor " + name + " has shape " + shapeString(info->shape) + ", config expects " +
                       shapeString(expected));
    }
    if (info->dtype != DType::F32 && info->dtype != DType::BF16 && info->dtype != DType::F16)
        return problem("tensor " + name + " has dtype " + dtypeName(info->dtype) + ", expected a float type");
    auto t = ckpt_.load(name, backend_, matrix);
    if (!t) return problem(t.error());
    resident_bytes_ += t->bytes();
    return *t;
}

Tensor WeightBinder::get(const std::string& name, const Shape& expected) {
    return bind(name, expected, false);
}

Tensor WeightBinder::matrix(const std::string& name, const Shape& expected) {
    return bind(name, expected, true);
}

Tensor WeightBinder::optional(const std::string& name, const Shape& expected) {
    return ckpt_.has(name) ? bind(name, expected, false) : Tensor();
}

Status WeightBinder::finish() const {
    if (missing_count_ == 0 && problem_count_ == 0) return Status();
    std::string msg;
    if (missing_count_) {
        msg = std::to_string(missing_count_) + " tensor(s) missing from the checkpoint:";
        for (const auto& m : missing_) msg += " " + m;
        if (missing_count_ > missing_.size())
            msg += " … (" + std::to_string(missing_count_ - missing_.size()) + " more)";
    }
    for (const auto& p : problems_) msg += (msg.empty() ? "" : "; ") + p;
    if (problem_count_ > problems_.size())
        msg += "; … (" + std::to_string(problem_count_ - problems_.size()) + " more problems)";
    return Status::error(msg);
}

} // namespace tessera
