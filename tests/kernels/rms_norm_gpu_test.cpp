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
