#include "cuda/cublas_loader.h"

#include <dlfcn.h>

#include <climits>
#include <vector>

namespace tessera::cuda {

namespace {

std::string statusText(const char* what, cublasStatus_t s) {
    return std::string(what) + " failed (cuBLAS status " + std::to_string(static_cast<int>(s)) + ")";
}

} // namespace

CublasLibrary::~CublasLibrary() {
    if (handle_ && destroy_) destroy_(handle_);
    if (lib_) dlclose(lib_);
}

std::string CublasLibrary::open(cudaStream_t stream) {
    std::string tried;
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
        // The dynamic linker's search path first, then the toolkit this build was configured with.
        std::vector<std::string> candidates{name};
#ifdef TESSERA_CUDA_LIBDIR
        candidates.push_back(std::string(TESSERA_CUDA_LIBDIR) + "/" + name);
#endif
        for (const auto& c : candidates) {
            lib_ = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (lib_) break;
            const char* why = dlerror();
            tried += "\n  " + c + ": " + (why ? why : "not found");
        }
        if (lib_) break;
    }
    if (!lib_) return "cannot load cuBLAS (the CUDA toolkit's libcublas.so); tried:" + tried;
    create_ = reinterpret_cast<CreateFn>(dlsym(lib_, "cublasCreate_v2"));
    destroy_ = reinterpret_cast<DestroyFn>(dlsym(lib_, "cublasDestroy_v2"));
    set_stream_ = reinterpret_cast<SetStreamFn>(dlsym(lib_, "cublasSetStream_v2"));
    gemm_ex_ = reinterpret_cast<GemmExFn>(dlsym(lib_, "cublasGemmEx"));
    if (!create_ || !destroy_ || !set_stream_ || !gemm_ex_) return "cuBLAS lacks an expected entry point";
    if (cublasStatus_t s = create_(&handle_); s != CUBLAS_STATUS_SUCCESS) {
        handle_ = nullptr;
        return statusText("cublasCreate", s);
    }
    if (cublasStatus_t s = set_stream_(handle_, stream); s != CUBLAS_STATUS_SUCCESS)
        return statusText("cublasSetStream", s);
    return {};
}

std::string CublasLibrary::gemmXWt(int64_t m, int64_t n, int64_t k, const void* x, const void* w, cudaDataType type,
                                   float* y, int64_t ldy) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || ldy > INT_MAX) return "matmul dimensions exceed cuBLAS's int range";
    // Column-major view: yᵀ [n, m] = w_cm [k, n]ᵀ · x_cm [k, m].
    const float one = 1.0f, zero = 0.0f;
    const cublasStatus_t s = gemm_ex_(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                      static_cast<int>(k), &one, w, type, static_cast<int>(k), x, type,
                                      static_cast<int>(k), &zero, y, CUDA_R_32F, static_cast<int>(ldy),
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? std::string() : statusText("cublasGemmEx", s);
}

std::string CublasLibrary::sgemmRowMajor(int64_t rows, int64_t cols, int64_t inner, const float* a, const float* b,
                                         int64_t ldb, float* c, int64_t ldc) {
    if (rows > INT_MAX || cols > INT_MAX || inner > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        return "conv2d dimensions exceed cuBLAS's int range";
    // Column-major view: cᵀ [cols, rows] = bᵀ [cols, inner] · aᵀ [inner, rows].
    const float one = 1.0f, zero = 0.0f;
    const cublasStatus_t s = gemm_ex_(handle_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(cols), static_cast<int>(rows),
                                      static_cast<int>(inner), &one, b, CUDA_R_32F, static_cast<int>(ldb), a,
                                      CUDA_R_32F, static_cast<int>(inner), &zero, c, CUDA_R_32F, static_cast<int>(ldc),
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? std::string() : statusText("cublasGemmEx", s);
}

} // namespace tessera::cuda
