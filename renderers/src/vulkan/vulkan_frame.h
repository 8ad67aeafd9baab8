// One frame in flight: the size-dependent targets (MSAA colour, depth, resolve, readback buffer), the
// per-frame uniform buffer and its descriptor set, one command buffer and its fence. draw() records the
// scene pass and the copy out, submits, waits, and converts the RGBA readback to tightly packed RGB8.
// Targets are kept between frames and rebuilt only when the size changes. Throws VulkanError.
#pragma once

#include "vulkan/vulkan_context.h"
#include "vulkan/vulkan_meshes.h"
#include "vulkan/vulkan_pipeline.h"

#include <cstdint>
#include <vector>

namespace tessera::renderers::vulkan {

struct DrawItem {
    MeshKind mesh = MeshKind::Cube;
    ObjectConstants constants{};
};

class Frame {
public:
    void create(Context& context, const ScenePipeline& pipeline);
    void destroy(Context& context);

    // Clears to `clear_rgb` (sRGB bytes), draws `items` in order, reads back into `rgb` (w*h*3 bytes).
    void draw(Context& context, const ScenePipeline& pipeline, const Meshes& meshes,
              const FrameUniforms& uniforms, const std::vector<DrawItem>& items,
              const std::uint8_t clear_rgb[3], std::uint32_t width, std::uint32_t height,
              std::vector<std::uint8_t>& rgb);

private:
    void resize(Context& context, const ScenePipeline& pipeline, std::uint32_t width, std::uint32_t height);
    void destroyTargets(Context& context);

    std::uint32_t width_ = 0, height_ = 0;
    GpuImage color_, depth_, resolve_; // resolve_ unused without MSAA
    VkFramebuffer framebuffer_ = VK_NULL_HANDLE;
    GpuBuffer readback_;
    GpuBuffer uniforms_;
    VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
    VkDescriptorSet descriptor_set_ = VK_NULL_HANDLE;
    VkCommandBuffer commands_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
};

} // namespace tessera::renderers::vulkan
