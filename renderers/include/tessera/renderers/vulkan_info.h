// Vulkan devices visible to Tessera's scene renderer (for `doctor` and renderer selection).
#pragma once

#include <string>
#include <vector>

namespace tessera::renderers {

struct VulkanDeviceInfo {
    std::string name;
    std::string type; // "cpu", "integrated", "discrete", "virtual", "other"
    std::string api_version;
    std::string driver;
};

// Empty when no Vulkan loader or ICD is present; `error` then says why.
std::vector<VulkanDeviceInfo> listVulkanDevices(std::string* error = nullptr);

} // namespace tessera::renderers
