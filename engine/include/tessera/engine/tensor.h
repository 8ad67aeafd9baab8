// Tensors: typed, shaped views onto memory owned by a backend.
//
// A Tensor shares ownership of its Buffer; copies are cheap handles onto the same memory. Model and
// pipeline code never dereference tensor memory: they issue ops on the tensor's Backend and read results
// back explicitly (Backend::read). Only backend implementations call data<T>().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

enum class DType : uint8_t { F32, BF16, F16, I64, I32, U8 };

size_t dtypeSize(DType dtype);
const char* dtypeName(DType dtype);
// Safetensors spelling ("F32", "BF16", "F16", "I64", "I32", "U8", "BOOL").
std::optional<DType> dtypeFromSafetensors(std::string_view name);

using Shape = std::vector<int64_t>;
int64_t shapeNumel(const Shape& shape);
std::string shapeString(const Shape& shape);

class Backend;

// A block of memory on one backend (host memory for the CPU backend, device memory for CUDA).
class Buffer {
public:
    Buffer(Backend& backend, size_t bytes) : backend_(&backend), bytes_(bytes) {}
    virtual ~Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    virtual void* data() = 0;
    size_t bytes() const { return bytes_; }
    Backend& backend() const { return *backend_; }

private:
    Backend* backend_;
    size_t bytes_;
};

// Contiguous, row-major tensor. Views (reshape, row ranges) share the buffer.
class Tensor {
public:
    Tensor() = default;
    Tensor(std::shared_ptr<Buffer> buffer, size_t offset_bytes, DType dtype, Shape shape);

    bool defined() const { return buffer_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    // Size of dimension i; negative i counts from the end.
    int64_t dim(int i) const;
    int64_t numel() const { return shapeNumel(shape_); }
    size_t bytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
    Backend& backend() const { return buffer_->backend(); }
    const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
    size_t offsetBytes() const { return offset_bytes_; }

    // Same memory, new shape (numel must match). One dimension may be -1.
    Tensor reshape(Shape shape) const;
    // Rows [begin, end) of dimension 0, sharing memory.
    Tensor rows(int64_t begin, int64_t end) const;

    // Raw memory: for backend implementations only.
    template <class T> T* data() const {
        return reinterpret_cast<T*>(static_cast<char*>(buffer_->data()) + offset_bytes_);
    }
    void* raw() const { return static_cast<char*>(buffer_->data()) + offset_bytes_; }

private:
    std::shared_ptr<Buffer> buffer_;
    size_t offset_bytes_ = 0;
    DType dtype_ = DType::F32;
    Shape shape_;
};

// bf16/f16 <-> f32 conversions used by loaders and the CPU backend.
float bf16ToF32(uint16_t v);
uint16_t f32ToBf16(float v);
float f16ToF32(uint16_t v);
uint16_t f32ToF16(float v);

} // namespace tessera
