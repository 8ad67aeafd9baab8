#include "tessera/engine/tensor.h"

#include <cstring>
#include <sstream>

#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"

namespace tessera {

size_t dtypeSize(DType dtype) {
    switch (dtype) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
    }
    return 0;
}

const char* dtypeName(DType dtype) {
    switch (dtype) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
    }
    return "?";
}

std::optional<DType> dtypeFromSafetensors(std::string_view name) {
    if (name == "F32") return DType::F32;
    if (name == "BF16") return DType::BF16;
    if (name == "F16") return DType::F16;
    if (name == "I64") return DType::I64;
    if (name == "I32") return DType::I32;
    if (name == "U8" || name == "BOOL") return DType::U8;
    return std::nullopt;
}

int64_t shapeNumel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shapeString(const Shape& shape) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
    os << ']';
    return os.str();
}

Tensor::Tensor(std::shared_ptr<Buffer> buffer, size_t offset_bytes, DType dtype, Shape shape)
    : buffer_(std::move(buffer)), offset_bytes_(offset_bytes), dtype_(dtype), shape_(std::move(shape)) {
    TS_ASSERT(!buffer_ || offset_bytes_ + bytes() <= buffer_->bytes(), "tensor exceeds its buffer");
}

int64_t Tensor::dim(int i) const {
    int r = rank();
    if (i < 0) i += r;
    TS_ASSERT(i >= 0 && i < r, "dimension index out of range");
    return shape_[static_cast<size_t>(i)];
}

Tensor Tensor::reshape(Shape shape) const {
    int64_t known = 1;
    int infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            TS_ASSERT(infer < 0, "reshape: more than one -1");
            infer = static_cast<int>(i);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) shape[static_cast<size_t>(infer)] = known ? numel() / known : 0;
    TS_ASSERT(shapeNumel(shape) == numel(), "reshape: element count differs");
    return Tensor(buffer_, offset_bytes_, dtype_, std::move(shape));
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
    TS_ASSERT(rank() >= 1 && begin >= 0 && begin <= end && end <= shape_[0], "rows: range out of bounds");
    int64_t row_elems = shape_[0] ? numel() / shape_[0] : 0;
    Shape s = shape_;
    s[0] = end - begin;
    return Tensor(buffer_, offset_bytes_ + static_cast<size_t>(begin * row_elems) * dtypeSize(dtype_), dtype_,
                  std::move(s));
}

float bf16ToF32(uint16_t v) {
    uint32_t bits = static_cast<uint32_t>(v) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32ToBf16(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40); // NaN
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u); // round to nearest even
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16ToF32(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32ToF16(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    uint32_t sign = (bits >> 16) & 0x8000u;
    int32_t exp = static_cast<int32_t>((bits >> 23) & 0xffu) - 127 + 15;
    uint32_t mant = bits & 0x7fffffu;
    if (((bits >> 23) & 0xffu) == 0xffu) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return static_cast<uint16_t>(sign);
        mant |= 0x800000u;
        uint32_t shift = static_cast<uint32_t>(14 - exp);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
    return static_cast<uint16_t>(half);
}

// ---- Backend helpers shared by every backend -------------------------------------------------------

Tensor Backend::zeros(DType dtype, const Shape& shape) {
    std::vector<char> z(static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype), 0);
    return upload(z.data(), dtype, shape);
}

void Backend::setKvCacheDtype(DType dtype) {
    TS_CHECK(dtype == DType::F32, std::string("the ") + info().name + " backend keeps KV caches in f32 only");
}

Tensor Backend::groupNormFrames(const Tensor&, int64_t, int, const Tensor&, const Tensor&, float) {
    throw Error(std::string("groupNormFrames is not implemented on the ") + info().name + " backend");
}

Tensor Backend::temporalConv(const Tensor&, int64_t, const Tensor&, const Tensor*) {
    throw Error(std::string("temporalConv is not implemented on the ") + info().name + " backend");
}

void Backend::setActivationDtype(DType dtype) {
    TS_CHECK(dtype == DType::F32, std::string("the ") + info().name + " backend takes f32 activations only");
}

Tensor Backend::adopt(std::shared_ptr<const void>, const void* host, DType dtype, const Shape& shape) {
    return upload(host, dtype, shape);
}

std::vector<float> Backend::readF32(const Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.numel()));
    if (t.dtype() == DType::BF16 || t.dtype() == DType::F16) {
        std::vector<uint16_t> raw(out.size());
        read(t, raw.data());
        const bool bf = t.dtype() == DType::BF16;
        for (size_t i = 0; i < raw.size(); ++i) out[i] = bf ? bf16ToF32(raw[i]) : f16ToF32(raw[i]);
        return out;
    }
    TS_ASSERT(t.dtype() == DType::F32, "readF32 on a non-float tensor");
    read(t, out.data());
    return out;
}

std::vector<int64_t> Backend::readI64(const Tensor& t) {
    TS_ASSERT(t.dtype() == DType::I64, "readI64 on a non-i64 tensor");
    std::vector<int64_t> out(static_cast<size_t>(t.numel()));
    read(t, out.data());
    return out;
}

Tensor Backend::fromF32(const std::vector<float>& values, const Shape& shape) {
    TS_ASSERT(static_cast<int64_t>(values.size()) == shapeNumel(shape), "fromF32: size mismatch");
    return upload(values.data(), DType::F32, shape);
}

Tensor Backend::fromI64(const std::vector<int64_t>& values, const Shape& shape) {
    TS_ASSERT(static_cast<int64_t>(values.size()) == shapeNumel(shape), "fromI64: size mismatch");
    return upload(values.data(), DType::I64, shape);
}

} // namespace tessera
