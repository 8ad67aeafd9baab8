// Safetensors parsing and validation; memory-mapped tensor access.
//
// The header is untrusted input: every number in it is range-checked before it is used as a size or
// an offset, so a damaged or hostile file yields a Status, never an out-of-bounds read.
#include "platform/mapped_file.h"
#include "tessera/engine/checkpoint.h"

#include <algorithm>
#include <limits>

namespace tessera {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20; // the format's own limit is 100 MB
constexpr size_t kMaxRank = 8;
// Element counts and byte sizes must fit in int64 (Shape, Tensor::bytes) whatever the dtype.
constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 16;

Status headerError(const std::string& what) {
    return Status::error("safetensors header: " + what);
}

// A JSON number usable as a size or offset: a non-negative integer (nlohmann stores those unsigned).
bool asIndex(const nlohmann::json& v, uint64_t& out) {
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        out = static_cast<uint64_t>(v.get<int64_t>());
        return true;
    }
    return false;
}

Expected<TensorInfo> parseTensor(const std::string& name, const nlohmann::json& v, uint64_t data_bytes) {
    if (!v.is_object()) return headerError("tensor " + name + " is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || sh == v.end() || off == v.end())
        return headerError("tensor " + name + " lacks dtype, shape or data_offsets");
    if (!dt->is_string()) return headerError("tensor " + name + ": dtype is not a string");
    const std::string& dtype_name = dt->get_ref<const std::string&>();
    auto dtype = dtypeFromSafetensors(dtype_name);
    if (!dtype) {
        return headerError("tensor " + name + ": unsupported dtype " + dtype_name +
                           " (supported: F32, BF16, F16, I64, I32, U8, BOOL)");
    }
    if (!sh->is_array() || sh->size() > kMaxRank)
        return headerError("tensor " + name + ": shape is not an array of rank <= 8");

    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    // Zero-sized dimensions make numel 0, but the other dimensions must still be sane: code downstream
    // multiplies trailing dimensions on their own.
    uint64_t numel = 1, nonzero = 1;
    for (const auto& d : *sh) {
        uint64_t dv = 0;
        if (!asIndex(d, dv))
            return headerError("tensor " + name + ": shape entries must be non-negative integers");
        if (dv != 0 && nonzero > kMaxElements / dv)
            return headerError("tensor " + name + ": shape overflows");
        if (dv != 0) nonzero *= dv;
        numel *= dv;
        info.shape.push_back(static_cast<int64_t>(dv));
    }
    uint64_t b = 0, e = 0;
    if (!off->is_array() || off->size() != 2 || !asIndex((*off)[0], b) || !asIndex((*off)[1], e))
        return headerError("tensor " + name + ": data_offsets must be two non-negative integers");
    if (b > e) {
        return headerError("tensor " + name + ": data_offsets begin after end (" + std::to_string(b) + " > " +
                           std::to_string(e) + ")");
    }
    if (e > data_bytes) {
        return headerError("tensor " + name + ": data_offsets [" + std::to_string(b) + ", " +
                           std::to_string(e) + ") run past the data section (" + std::to_string(data_bytes) +
                           " bytes; truncated file?)");
    }
    const uint64_t needed = numel * dtypeSize(info.dtype);
    if (e - b != needed) {
        return headerError("tensor " + name + ": " + std::to_string(e - b) + " bytes stored, but " +
                           dtypeName(info.dtype) + " " + shapeString(info.shape) + " needs " +
                           std::to_string(needed));
    }
    info.begin = static_cast<size_t>(b);
    info.end = static_cast<size_t>(e);
    return info;
}

// Tensors must not share bytes. Empty tensors hold no bytes, so they may sit anywhere (writers place
// them at the current offset, i.e. at the start of the next tensor).
Status checkOverlaps(const std::vector<TensorInfo>& tensors) {
    std::vector<const TensorInfo*> order;
    for (const auto& t : tensors)
        if (t.end > t.begin) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    for (size_t i = 1; i < order.size(); ++i) {
        if (order[i]->begin < order[i - 1]->end)
            return headerError("tensors " + order[i - 1]->name + " and " + order[i]->name + " overlap");
    }
    return Status();
}

} // namespace

Expected<SafetensorsHeader> parseSafetensorsHeader(const unsigned char* data, size_t size, size_t file_size) {
    if (size > file_size) return headerError("more bytes given than the file holds");
    if (size < 8 || file_size < 8) return headerError("file is shorter than the 8-byte length prefix");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n > kMaxHeaderBytes)
        return headerError("declared header length " + std::to_string(n) + " exceeds 100 MB");
    if (n > file_size - 8) {
        return headerError("declared header length " + std::to_string(n) +
                           " runs past the end of the file (" + std::to_string(file_size) +
                           " bytes; truncated download?)");
    }
    if (n > size - 8) return headerError("header not fully available");
    try {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(data + 8, data + 8 + n);
        } catch (const nlohmann::json::exception& e) {
            return headerError(std::string("malformed JSON: ") + e.what());
        }
        if (!j.is_object()) return headerError("top level is not a JSON object");

        SafetensorsHeader h;
        h.data_offset = 8 + static_cast<size_t>(n);
        const uint64_t data_bytes = file_size - h.data_offset;
        h.tensors.reserve(j.size());
        for (auto it = j.begin(); it != j.end(); ++it) {
            const std::string& name = it.key();
            const auto& v = it.value();
            if (name == "__metadata__") {
                if (!v.is_object()) return headerError("__metadata__ is not an object");
                for (auto m = v.begin(); m != v.end(); ++m)
                    if (m.value().is_string()) h.metadata[m.key()] = m.value().get<std::string>();
                continue;
            }
            auto info = parseTensor(name, v, data_bytes);
            if (!info) return info.status();
            h.tensors.push_back(std::move(*info));
        }
        Status s = checkOverlaps(h.tensors);
        if (!s) return s;
        return h;
    } catch (const std::exception& e) {
        // Out of memory on a huge header, or anything else unexpected: still a bad file, not a crash.
        return headerError(std::string("cannot be read: ") + e.what());
    }
}

Expected<std::shared_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
    auto mapped = platform::MappedFile::open(path);
    if (!mapped) return mapped.status();
    auto header = parseSafetensorsHeader((*mapped)->data(), (*mapped)->size(), (*mapped)->size());
    if (!header) return Status::error(path + ": " + header.error());
    auto f = std::make_shared<SafetensorsFile>();
    f->path_ = path;
    f->header_ = std::move(*header);
    f->file_ = std::move(*mapped);
    for (size_t i = 0; i < f->header_.tensors.size(); ++i) f->index_[f->header_.tensors[i].name] = i;
    return f;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

const void* SafetensorsFile::data(const TensorInfo& info) const {
    return file_->data() + header_.data_offset + info.begin;
}

std::shared_ptr<const void> SafetensorsFile::keepAlive() const {
    return file_;
}

} // namespace tessera
