// Device helpers shared by the kernels (CUDA translation units only): block reductions, 16-bit loads
// and the launch check every host launcher ends with.
#pragma once

#ifndef __CUDACC__
#error "device_common.cuh is for .cu files; host code includes the op headers"
#endif

#include <cuda_runtime.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

// Element types the kernels read: matches tessera::DType's F32 / BF16 / F16.
__device__ __forceinline__ float loadF32(const float* p, int64_t i) { return p[i]; }
// bf16 -> f32 is exact: the 16 bits are the top half of the f32.
__device__ __forceinline__ float bf16Bits(uint16_t v) { return __uint_as_float(static_cast<uint32_t>(v) << 16); }
__device__ __forceinline__ float f16Bits(uint16_t v) { return __half2float(__ushort_as_half(v)); }
__device__ __forceinline__ float load16(const uint16_t* p, int64_t i, bool bf) {
    return bf ? bf16Bits(p[i]) : f16Bits(p[i]);
}
// f32 -> bf16, round to nearest even, NaN kept quiet: the engine's f32ToBf16.
__device__ __forceinline__ uint16_t toBf16(float v) {
    const uint32_t bits = __float_as_uint(v);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
    return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float warpSum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warpSumD(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warpMax(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions; every thread of the block calls them and gets the result. blockDim.x must
// be a multiple of 32 (at most 1024). `scratch` holds 32 values of the type.
template <class T, class Op> __device__ T blockReduce(T v, T* scratch, Op op, T identity) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads(); // scratch may still be read by a previous reduction
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    const int warps = static_cast<int>(blockDim.x >> 5);
    T r = identity;
    for (int w = 0; w < warps; ++w) r = op(r, scratch[w]); // fixed order: same result in every thread
    return r;
}
struct SumOp {
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

inline unsigned blocksFor(int64_t n, int threads) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

inline cudaStream_t asStream(void* s) { return static_cast<cudaStream_t>(s); }

// The status of the launch just made (configuration errors show here; faults show at the next sync).
inline KernelStatus launched(const char* what) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {false, std::string(what) + ": " + cudaGetErrorString(e)};
    return {};
}

} // namespace tessera::kernels
