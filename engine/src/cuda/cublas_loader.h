// cuBLAS, opened at run time. The CUDA backend calls it only after a device was found, and the
// library is found with dlopen rather than linked, so `tessera-cli` and the studio start on machines
// without the CUDA libraries or driver (where `doctor` explains what is missing).
//
// Thread affinity: a CublasLibrary is used by the backend's driving thread only.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime.h>

#include <string>

namespace tessera::cuda {

class CublasLibrary {
public:
    CublasLibrary() = default;
    ~CublasLibrary();
    CublasLibrary(const CublasLibrary&) = delete;
    CublasLibrary& operator=(const CublasLibrary&) = delete;

    // Opens libcublas and makes a handle bound to `stream`. Returns "" or why it failed.
    std::string open(cudaStream_t stream);

    // Row-major y[m, n] = x[m, k] · w[n, k]ᵀ with f32 output and f32 accumulation; x and w share
    // `type` (CUDA_R_32F, CUDA_R_16BF or CUDA_R_16F). ldy: row stride of y. Returns "" or the error.
    std::string gemmXWt(int64_t m, int64_t n, int64_t k, const void* x, const void* w, cudaDataType type, float* y,
                        int64_t ldy);
    // Row-major c[rows, cols] (row stride ldc) = a[rows, inner] · b[inner, cols] (row stride ldb), f32.
    std::string sgemmRowMajor(int64_t rows, int64_t cols, int64_t inner, const float* a, const float* b, int64_t ldb,
                              float* c, int64_t ldc);

private:
    using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
    using DestroyFn = cublasStatus_t (*)(cublasHandle_t);
    using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
    using GemmExFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const void*, const void*, cudaDataType, int, const void*, cudaDataType, int,
                                        const void*, void*, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
    void* lib_ = nullptr;
    cublasHandle_t handle_ = nullptr;
    CreateFn create_ = nullptr;
    DestroyFn destroy_ = nullptr;
    SetStreamFn set_stream_ = nullptr;
    GemmExFn gemm_ex_ = nullptr;
};

} // namespace tessera::cuda
