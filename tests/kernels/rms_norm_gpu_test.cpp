#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "tessera/kernels/device.cuh"
#include "tessera/kernels/rms_norm.cuh"

TEST(RmsNormKernel, MatchesHostReference) {
    if (tessera::kernels::listDevices().empty()) GTEST_SKIP() << "no CUDA device";
    const int rows = 3, d = 300;
    std::vector<float> x(rows * d), w(d), y(rows * d);
    for (int i = 0; i < rows * d; ++i) x[static_cast<size_t>(i)] = std::sin(0.1f * static_cast<float>(i));
    for (int i = 0; i < d; ++i) w[static_cast<size_t>(i)] = 0.5f + 0.001f * static_cast<float>(i);
    float *dx, *dw, *dy;
    ASSERT_EQ(cudaMalloc(&dx, x.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, y.size() * 4), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
    auto st = tessera::kernels::rmsNormF32(dx, dw, dy, rows, d, 1e-5f, nullptr);
    ASSERT_TRUE(st.ok) << st.message;
    cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost);
    for (int r = 0; r < rows; ++r) {
        double ss = 0;
        for (int i = 0; i < d; ++i) ss += x[static_cast<size_t>(r * d + i)] * x[static_cast<size_t>(r * d + i)];
        const double inv = 1.0 / std::sqrt(ss / d + 1e-5);
        for (int i = 0; i < d; ++i)
            EXPECT_NEAR(y[static_cast<size_t>(r * d + i)], x[static_cast<size_t>(r * d + i)] * inv * w[static_cast<size_t>(i)], 1e-5);
    }
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
}

// The fused pre-norm residual step against a host computation of x + r and RMSNorm of the sum.
TEST(RmsNormKernel, FusedResidualAddMatchesHostReference) {
    if (tessera::kernels::listDevices().empty()) GTEST_SKIP() << "no CUDA device";
    const int rows = 4, d = 1000;
    std::vector<float> x(rows * d), r(rows * d), w(d), sum(rows * d), y(rows * d);
    for (int i = 0; i < rows * d; ++i) {
        x[static_cast<size_t>(i)] = std::sin(0.07f * static_cast<float>(i));
        r[static_cast<size_t>(i)] = std::cos(0.05f * static_cast<float>(i));
    }
    for (int i = 0; i < d; ++i) w[static_cast<size_t>(i)] = 1.0f - 0.0003f * static_cast<float>(i);
    float *dx, *dr, *dw, *ds, *dy;
    ASSERT_EQ(cudaMalloc(&dx, x.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dr, r.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&ds, sum.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, y.size() * 4), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dr, r.data(), r.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
    auto st = tessera::kernels::addRmsNormF32(dx, dr, dw, ds, dy, rows, d, 1e-6f, nullptr);
    ASSERT_TRUE(st.ok) << st.message;
    cudaMemcpy(sum.data(), ds, sum.size() * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost);
    for (int row = 0; row < rows; ++row) {
        double ss = 0;
        for (int i = 0; i < d; ++i) {
            const size_t at = static_cast<size_t>(row * d + i);
            const float s = x[at] + r[at];
            ASSERT_EQ(sum[at], s);
            ss += double(s) * s;
        }
        const double inv = 1.0 / std::sqrt(ss / d + 1e-6);
        for (int i = 0; i < d; ++i) {
            const size_t at = static_cast<size_t>(row * d + i);
            EXPECT_NEAR(y[at], (x[at] + r[at]) * inv * w[static_cast<size_t>(i)], 1e-5);
        }
    }
    for (float* p : {dx, dr, dw, ds, dy}) cudaFree(p);
}
