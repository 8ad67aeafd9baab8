#include <gtest/gtest.h>

#include "tessera/renderers/vulkan_info.h"

TEST(VulkanInfo, FindsADeviceOrSaysWhy) {
    std::string error;
    auto devices = tessera::renderers::listVulkanDevices(&error);
    if (devices.empty()) GTEST_SKIP() << "no Vulkan device: " << error;
    for (const auto& d : devices) {
        EXPECT_FALSE(d.name.empty());
        EXPECT_FALSE(d.api_version.empty());
    }
}
