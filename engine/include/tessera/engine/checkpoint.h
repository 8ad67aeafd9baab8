// Checkpoints as users download them: safetensors (single or sharded) + config.json.
//
// Files are memory-mapped; tensors are bound by name. Every structural problem in a file is reported
// as a Status naming the file and the tensor — a broken download never crashes the studio. (A file
// truncated by another process *after* it was opened can still fault on access: the mapping cannot
// guard against that.)
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"
#include "tessera/engine/tensor.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera {

namespace platform {
class MappedFile;
}

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    size_t begin = 0; // byte offsets into the data section
    size_t end = 0;
};

// Header of a safetensors file: validated, with offsets relative to the data section.
struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;
    std::map<std::string, std::string> metadata;
    size_t data_offset = 0; // 8 + header length
};

// Parses and validates a safetensors header from the first bytes of a file of `file_size` bytes.
// Checks: length prefix, JSON syntax, known dtypes, shapes, offsets inside the file, sizes matching
// dtype × shape, no overlapping tensors. Never reads past `size`; never throws.
Expected<SafetensorsHeader> parseSafetensorsHeader(const unsigned char* data, size_t size, size_t file_size);

class SafetensorsFile {
public:
    static Expected<std::shared_ptr<SafetensorsFile>> open(const std::string& path);

    const std::string& path() const { return path_; }
    const SafetensorsHeader& header() const { return header_; }
    const TensorInfo* find(const std::string& name) const;
    const void* data(const TensorInfo& info) const;
    // Keeps the mapping alive for tensors adopted without copying.
    std::shared_ptr<const void> keepAlive() const;

private:
    std::string path_;
    SafetensorsHeader header_;
    std::map<std::string, size_t> index_;
    std::shared_ptr<platform::MappedFile> file_;
};

// Reads config.json in both transformers 4.x and 5.x styles. parse() validates the fields the
// accessors rely on; afterwards accessors throw nothing but tessera::Error (for values a model needs
// and the file gets wrong), whatever the JSON held.
class ModelConfig {
public:
    static Expected<ModelConfig> parse(const std::string& json_text,
                                       const std::string& source = "config.json");
    static Expected<ModelConfig> load(const std::string& path);

    const nlohmann::json& json() const { return json_; }
    // The architecture name: architectures[0], or model_type when absent.
    std::string architecture() const;
    std::string modelType() const;
    // Text-model settings: nested text_config when present, else the top level.
    const nlohmann::json& text() const;
    // RoPE theta: rope_theta (4.x) or rope_parameters.rope_theta (5.x); default when neither. Throws
    // Error when the value is present but not a positive number.
    double ropeTheta(double fallback = 10000.0) const;
    // tie_word_embeddings, checking the top level first (Janus keeps it there) then text_config.
    bool tieWordEmbeddings(bool fallback) const;

    // Typed accessors on the text config with clear errors ("config.json: hidden_size missing").
    int64_t textInt(const char* key) const;
    int64_t textInt(const char* key, int64_t fallback) const;
    double textFloat(const char* key, double fallback) const;
    // Booleans such as attention_bias; use this rather than json().value(), which throws a JSON
    // type error (not tessera::Error) on a value of the wrong type.
    bool textBool(const char* key, bool fallback) const;

private:
    // An empty object, not null, so a config-less checkpoint (openFiles) answers every accessor.
    nlohmann::json json_ = nlohmann::json::object();
    std::string source_ = "config.json";
};

class Checkpoint {
public:
    // A folder with config.json and model.safetensors or model.safetensors.index.json (+ shards). Shards
    // must be plain file names inside the folder, and each tensor must sit in the shard the index names.
    static Expected<Checkpoint> open(const std::string& dir);
    // Just safetensors files, no config (golden sets).
    static Expected<Checkpoint> openFiles(const std::vector<std::string>& paths);

    const std::string& dir() const { return dir_; }
    const ModelConfig& config() const { return config_; }
    bool has(const std::string& name) const;
    const TensorInfo* find(const std::string& name) const;
    std::vector<std::string> names() const;
    // Total bytes of all tensors.
    size_t totalBytes() const;
    // Loads a tensor onto a backend (zero-copy for f32 on the CPU backend). `matrix`: the tensor is
    // only used as a matmul weight or embedding table, so a backend may keep its bf16/f16 as stored
    // (Backend::adoptMatrix; zero-copy for those on the CPU backend too).
    Expected<Tensor> load(const std::string& name, Backend& backend, bool matrix = false) const;

private:
    struct Entry {
        std::shared_ptr<SafetensorsFile> file;
        const TensorInfo* info;
    };
    std::string dir_;
    ModelConfig config_;
    std::map<std::string, Entry> entries_;
};

// Binds a family's tensors by name, collecting every problem before reporting: all missing tensors
// are listed together, and shape mismatches name the tensor and both shapes.
class WeightBinder {
public:
    WeightBinder(const Checkpoint& ckpt, Backend& backend) : ckpt_(ckpt), backend_(backend) {}
    // Required tensor with an expected shape (empty shape = any).
    Tensor get(const std::string& name, const Shape& expected = {});
    // A matmul weight or embedding table: kept in the checkpoint's dtype where the backend can.
    Tensor matrix(const std::string& name, const Shape& expected = {});
    // Returns an undefined tensor when absent.
    Tensor optional(const std::string& name, const Shape& expected = {});
    // Bytes of everything bound so far as it is resident on the backend (after any widening).
    size_t residentBytes() const { return resident_bytes_; }
    bool has(const std::string& name) const { return ckpt_.has(name); }
    Status finish() const;

private:
    Tensor bind(const std::string& name, const Shape& expected, bool matrix);
    const Checkpoint& ckpt_;
    Backend& backend_;
    // Only the first few are kept for the message: a config asking for a billion layers must not
    // exhaust memory here.
    std::vector<std::string> missing_;
    std::vector<std::string> problems_;
    size_t missing_count_ = 0;
    size_t problem_count_ = 0;
    size_t resident_bytes_ = 0;
};

} // namespace tessera
