// Runs everywhere (no `gpu` label): device discovery must answer, not fail, on a machine without a
// CUDA driver or device, and report sane properties where there is one.
#include <gtest/gtest.h>

#include "tessera/kernels/device.cuh"

TEST(KernelsDevice, DiscoveryAnswersWithOrWithoutADevice) {
    const auto devices = tessera::kernels::listDevices();
    for (const auto& d : devices) {
        EXPECT_FALSE(d.name.empty());
        EXPECT_GT(d.memory_bytes, 0u);
        EXPECT_GE(d.major, 5);
    }
    // A second call gives the same answer (the first one must not leave a sticky error behind).
    EXPECT_EQ(tessera::kernels::listDevices().size(), devices.size());
}
