#include "vulkan/vulkan_context.h"

#include <string>
#include <vector>

namespace tessera::renderers::vulkan {
namespace {

int kindRank(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return 3;
    default:
        return 4;
    }
}

const char* kindName(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return "CPU";
    default:
        return "other";
    }
}

// Index of a queue family with graphics, or -1.
int graphicsFamily(VkPhysicalDevice device) {
    std::uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, families.data());
    for (std::uint32_t i = 0; i < n; ++i)
        if (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) return static_cast<int>(i);
    return -1;
}

} // namespace

const char* resultName(VkResult r) {
    switch (r) {
    case VK_SUCCESS:
        return "VK_SUCCESS";
    case VK_NOT_READY:
        return "VK_NOT_READY";
    case VK_TIMEOUT:
        return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return "out of host memory (VK_ERROR_OUT_OF_HOST_MEMORY)";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return "out of device memory (VK_ERROR_OUT_OF_DEVICE_MEMORY)";
    case VK_ERROR_INITIALIZATION_FAILED:
        return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
        return "device lost (VK_ERROR_DEVICE_LOST)";
    case VK_ERROR_MEMORY_MAP_FAILED:
        return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
        return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
        return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
        return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return "no compatible Vulkan driver (VK_ERROR_INCOMPATIBLE_DRIVER)";
    case VK_ERROR_TOO_MANY_OBJECTS:
        return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
        return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    default:
        return "VkResult error";
    }
}

void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS)
        throw VulkanError(std::string(what) + " failed: " + resultName(r) + " (" + std::to_string(r) + ")");
}

Context::~Context() {
    if (device_) {
        vkDeviceWaitIdle(device_);
        if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

void Context::create() {
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "tessera";
    app.pEngineName = "tessera-renderers";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ici{};
    ici.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ici.pApplicationInfo = &app;
    VkResult r = vkCreateInstance(&ici, nullptr, &instance_);
    if (r != VK_SUCCESS) {
        instance_ = VK_NULL_HANDLE;
        throw VulkanError(std::string("no Vulkan instance: ") + resultName(r) +
                          " (install a Vulkan driver, e.g. mesa-vulkan-drivers for lavapipe)");
    }

    std::uint32_t n = 0;
    check(vkEnumeratePhysicalDevices(instance_, &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> devices(n);
    check(vkEnumeratePhysicalDevices(instance_, &n, devices.data()), "vkEnumeratePhysicalDevices");
    int best_rank = 1 << 30, family = -1;
    std::string rejected;
    for (VkPhysicalDevice d : devices) {
        VkPhysicalDeviceProperties p{};
        vkGetPhysicalDeviceProperties(d, &p);
        const int f = graphicsFamily(d);
        if (p.apiVersion < VK_API_VERSION_1_2 || f < 0) {
            rejected += std::string(rejected.empty() ? "" : ", ") + p.deviceName +
                        (f < 0 ? " (no graphics queue)" : " (older than Vulkan 1.2)");
            continue;
        }
        if (kindRank(p.deviceType) < best_rank) {
            best_rank = kindRank(p.deviceType);
            physical_ = d;
            family = f;
            properties_ = p;
        }
    }
    if (!physical_)
        throw VulkanError("no Vulkan 1.2 device with graphics" +
                          (rejected.empty() ? std::string(" found") : ": " + rejected));
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
    description_ = std::string(properties_.deviceName) + " (" + kindName(properties_.deviceType) +
                   ", Vulkan " + std::to_string(VK_API_VERSION_MAJOR(properties_.apiVersion)) + "." +
                   std::to_string(VK_API_VERSION_MINOR(properties_.apiVersion)) + "." +
                   std::to_string(VK_API_VERSION_PATCH(properties_.apiVersion)) + ")";

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{};
    qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qci.queueFamilyIndex = static_cast<std::uint32_t>(family);
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkDeviceCreateInfo dci{};
    dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    check(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, qci.queueFamilyIndex, 0, &queue_);

    VkCommandPoolCreateInfo pci{};
    pci.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = qci.queueFamilyIndex;
    check(vkCreateCommandPool(device_, &pci, nullptr, &pool_), "vkCreateCommandPool");
}

std::uint32_t Context::memoryType(std::uint32_t type_bits, VkMemoryPropertyFlags properties) const {
    for (std::uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
        if ((type_bits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & properties) == properties)
            return i;
    return ~0u;
}

GpuBuffer Context::createBuffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags properties,
                                VkMemoryPropertyFlags fallback) {
    GpuBuffer b;
    b.size = size;
    VkBufferCreateInfo bci{};
    bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bci.size = size;
    bci.usage = usage;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(device_, &bci, nullptr, &b.buffer), "vkCreateBuffer");
    try {
        VkMemoryRequirements req{};
        vkGetBufferMemoryRequirements(device_, b.buffer, &req);
        std::uint32_t type = memoryType(req.memoryTypeBits, properties);
        VkMemoryPropertyFlags chosen = properties;
        if (type == ~0u && fallback) {
            type = memoryType(req.memoryTypeBits, fallback);
            chosen = fallback;
        }
        if (type == ~0u) throw VulkanError("no suitable memory type for a buffer");
        VkMemoryAllocateInfo mai{};
        mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = type;
        check(vkAllocateMemory(device_, &mai, nullptr, &b.memory), "vkAllocateMemory (buffer)");
        check(vkBindBufferMemory(device_, b.buffer, b.memory, 0), "vkBindBufferMemory");
        if (chosen & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
            check(vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
    } catch (...) {
        destroy(b);
        throw;
    }
    return b;
}

void Context::destroy(GpuBuffer& b) {
    if (!device_) return;
    if (b.buffer) vkDestroyBuffer(device_, b.buffer, nullptr);
    if (b.memory) vkFreeMemory(device_, b.memory, nullptr); // unmaps implicitly
    b = GpuBuffer{};
}

GpuImage Context::createImage(std::uint32_t width, std::uint32_t height, VkFormat format,
                              VkSampleCountFlagBits samples, VkImageUsageFlags usage,
                              VkImageAspectFlags aspect) {
    GpuImage img;
    VkImageCreateInfo ici{};
    ici.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO;
    ici.imageType = VK_IMAGE_TYPE_2D;
    ici.format = format;
    ici.extent = {width, height, 1};
    ici.mipLevels = 1;
    ici.arrayLayers = 1;
    ici.samples = samples;
    ici.tiling = VK_IMAGE_TILING_OPTIMAL;
    ici.usage = usage;
    ici.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    check(vkCreateImage(device_, &ici, nullptr, &img.image), "vkCreateImage");
    try {
        VkMemoryRequirements req{};
        vkGetImageMemoryRequirements(device_, img.image, &req);
        std::uint32_t type = memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        if (type == ~0u) type = memoryType(req.memoryTypeBits, 0);
        if (type == ~0u) throw VulkanError("no suitable memory type for an image");
        VkMemoryAllocateInfo mai{};
        mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = type;
        check(vkAllocateMemory(device_, &mai, nullptr, &img.memory), "vkAllocateMemory (image)");
        check(vkBindImageMemory(device_, img.image, img.memory, 0), "vkBindImageMemory");
        VkImageViewCreateInfo vci{};
        vci.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO;
        vci.image = img.image;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = format;
        vci.subresourceRange = {aspect, 0, 1, 0, 1};
        check(vkCreateImageView(device_, &vci, nullptr, &img.view), "vkCreateImageView");
    } catch (...) {
        destroy(img);
        throw;
    }
    return img;
}

void Context::destroy(GpuImage& img) {
    if (!device_) return;
    if (img.view) vkDestroyImageView(device_, img.view, nullptr);
    if (img.image) vkDestroyImage(device_, img.image, nullptr);
    if (img.memory) vkFreeMemory(device_, img.memory, nullptr);
    img = GpuImage{};
}

} // namespace tessera::renderers::vulkan
