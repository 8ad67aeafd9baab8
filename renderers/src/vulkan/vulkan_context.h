// The Vulkan backend's device context: instance, the chosen physical device, one graphics queue, a
// command pool, and small helpers for buffers and images. Not a framework: each helper does one thing.
//
// Errors: every function here throws VulkanError (never aborts); VulkanRenderer catches it at the
// module boundary and returns it as an error value. Threads: a Context is used from one thread at a time.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vulkan/vulkan.h>

namespace tessera::renderers::vulkan {

// Thrown inside the Vulkan backend only.
struct VulkanError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws VulkanError "`what` failed: <result name>" unless r is VK_SUCCESS.
void check(VkResult r, const char* what);
const char* resultName(VkResult r);

struct GpuBuffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    void* mapped = nullptr; // persistently mapped when the memory is host visible
};

struct GpuImage {
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
};

class Context {
public:
    Context() = default;
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Creates a Vulkan 1.2 instance and device. Picks the first device of the best kind (discrete GPU,
    // then integrated, virtual, CPU such as Mesa's lavapipe) that has a graphics queue and Vulkan 1.2.
    void create();

    VkDevice device() const { return device_; }
    VkPhysicalDevice physicalDevice() const { return physical_; }
    VkQueue queue() const { return queue_; }
    VkCommandPool commandPool() const { return pool_; }
    const VkPhysicalDeviceProperties& properties() const { return properties_; }
    // The chosen device in words: "NAME (TYPE, Vulkan X.Y.Z)".
    const std::string& description() const { return description_; }

    // A buffer bound to memory with `properties`; host-visible buffers are mapped. `fallback` (when
    // non-zero) is tried when no memory type has `properties`.
    GpuBuffer createBuffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags properties,
                           VkMemoryPropertyFlags fallback = 0);
    void destroy(GpuBuffer& buffer);
    // A 2D device-local image with one mip level and a view of `aspect`.
    GpuImage createImage(std::uint32_t width, std::uint32_t height, VkFormat format,
                         VkSampleCountFlagBits samples, VkImageUsageFlags usage, VkImageAspectFlags aspect);
    void destroy(GpuImage& image);

private:
    std::uint32_t memoryType(std::uint32_t type_bits, VkMemoryPropertyFlags properties) const; // ~0u: none

    VkInstance instance_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkPhysicalDeviceProperties properties_{};
    VkPhysicalDeviceMemoryProperties memory_{};
    std::string description_;
};

} // namespace tessera::renderers::vulkan
