// Safetensors parsing and validation; memory-mapped tensor access.
#include <algorithm>
#include <limits>

#include "platform/mapped_file.h"
#include "tessera/engine/checkpoint.h"

namespace tessera {

namespace {

constexpr size_t kMaxHeaderBytes = 100u << 20; // the format's own limit is 100 MB

Status headerError(const std::string& what) { return Status::error("safetensors header: " + what); }

} // namespace

Expected<SafetensorsHeader> parseSafetensorsHeader(const unsigned char* data, size_t size, size_t file_size) {
    if (size < 8 || file_size < 8) return headerError("file is shorter than the 8-byte length prefix");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n > kMaxHeaderBytes) return headerError("declared header length " + std::to_string(n) + " exceeds 100 MB");
    if (n > file_size - 8) {
        return headerError("declared header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(file_size) + " bytes; truncated download?)");
    }
    if (n > size - 8) return headerError("header not fully available");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(data + 8, data + 8 + n);
    } catch (const std::exception& e) {
        return headerError(std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object()) return headerError("top level is not a JSON object");

    SafetensorsHeader h;
    h.data_offset = 8 + static_cast<size_t>(n);
    const size_t data_bytes = file_size - h.data_offset;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) return headerError("__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m)
                if (m.value().is_string()) h.metadata[m.key()] = m.value().get<std::string>();
            continue;
        }
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            return headerError("tensor " + name + " lacks dtype, shape or data_offsets");
        const auto& dt = v["dtype"];
        const auto& sh = v["shape"];
        const auto& off = v["data_offsets"];
        if (!dt.is_string()) return headerError("tensor " + name + ": dtype is not a string");
        auto dtype = dtypeFromSafetensors(dt.get<std::string>());
        if (!dtype) return headerError("tensor " + name + ": unsupported dtype " + dt.get<std::string>());
        if (!sh.is_array() || sh.size() > 8) return headerError("tensor " + name + ": shape is not an array of rank <= 8");
        TensorInfo info;
        info.name = name;
        info.dtype = *dtype;
        uint64_t numel = 1;
        for (const auto& d : sh) {
            if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
                return headerError("tensor " + name + ": shape entries must be non-negative integers");
            uint64_t dv = d.get<uint64_t>();
            if (dv != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dv)
                return headerError("tensor " + name + ": shape overflows");
            numel *= dv;
            info.shape.push_back(static_cast<int64_t>(dv));
        }
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            return headerError("tensor " + name + ": data_offsets must be two non-negative integers");
        uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
        if (b > e) return headerError("tensor " + name + ": data_offsets begin after end");
        if (e > data_bytes) {
            return headerError("tensor " + name + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                               ") run past the data section (" + std::to_string(data_bytes) +
                               " bytes; truncated file?)");
        }
        if (e - b != numel * dtypeSize(info.dtype)) {
            return headerError("tensor " + name + ": " + std::to_string(e - b) + " bytes stored, but " +
                               dtypeName(info.dtype) + " " + shapeString(info.shape) + " needs " +
                               std::to_string(numel * dtypeSize(info.dtype)));
        }
        info.begin = static_cast<size_t>(b);
        info.end = static_cast<size_t>(e);
        h.tensors.push_back(std::move(info));
    }
    std::vector<const TensorInfo*> order;
    for (const auto& t : h.tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < order.size(); ++i) {
        if (order[i]->begin < order[i - 1]->end)
            return headerError("tensors " + order[i - 1]->name + " and " + order[i]->name + " overlap");
    }
    return h;
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

std::shared_ptr<const void> SafetensorsFile::keepAlive() const { return file_; }

} // namespace tessera
