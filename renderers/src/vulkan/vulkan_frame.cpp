#include "vulkan/vulkan_frame.h"

#include <cstring>

namespace tessera::renderers::vulkan {
namespace {

// A frame on lavapipe at the largest size takes seconds; a minute means the device is stuck.
constexpr std::uint64_t kFenceTimeoutNs = 60ull * 1000 * 1000 * 1000;

} // namespace

void Frame::create(Context& context, const ScenePipeline& pipeline) {
    VkDevice device = context.device();
    uniforms_ =
        context.createBuffer(sizeof(FrameUniforms), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT,
                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);

    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1};
    VkDescriptorPoolCreateInfo pci{};
    pci.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    pci.maxSets = 1;
    pci.poolSizeCount = 1;
    pci.pPoolSizes = &size;
    check(vkCreateDescriptorPool(device, &pci, nullptr, &descriptor_pool_), "vkCreateDescriptorPool");
    VkDescriptorSetLayout layout = pipeline.setLayout();
    VkDescriptorSetAllocateInfo ai{};
    ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    ai.descriptorPool = descriptor_pool_;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    check(vkAllocateDescriptorSets(device, &ai, &descriptor_set_), "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo bi{uniforms_.buffer, 0, sizeof(FrameUniforms)};
    VkWriteDescriptorSet write{};
    write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    write.dstSet = descriptor_set_;
    write.dstBinding = 0;
    write.descriptorCount = 1;
    write.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    write.pBufferInfo = &bi;
    vkUpdateDescriptorSets(device, 1, &write, 0, nullptr);

    VkCommandBufferAllocateInfo cai{};
    cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    cai.commandPool = context.commandPool();
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(device, &cai, &commands_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci{};
    fci.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    check(vkCreateFence(device, &fci, nullptr, &fence_), "vkCreateFence");
}

void Frame::destroyTargets(Context& context) {
    if (framebuffer_) vkDestroyFramebuffer(context.device(), framebuffer_, nullptr);
    framebuffer_ = VK_NULL_HANDLE;
    context.destroy(color_);
    context.destroy(depth_);
    context.destroy(resolve_);
    context.destroy(readback_);
    width_ = height_ = 0;
}

void Frame::destroy(Context& context) {
    VkDevice device = context.device();
    if (!device) return;
    vkDeviceWaitIdle(device);
    destroyTargets(context);
    context.destroy(uniforms_);
    if (descriptor_pool_) vkDestroyDescriptorPool(device, descriptor_pool_, nullptr);
    if (commands_) vkFreeCommandBuffers(device, context.commandPool(), 1, &commands_);
    if (fence_) vkDestroyFence(device, fence_, nullptr);
    descriptor_pool_ = VK_NULL_HANDLE;
    descriptor_set_ = VK_NULL_HANDLE;
    commands_ = VK_NULL_HANDLE;
    fence_ = VK_NULL_HANDLE;
}

void Frame::resize(Context& context, const ScenePipeline& pipeline, std::uint32_t width,
                   std::uint32_t height) {
    if (width == width_ && height == height_ && framebuffer_) return;
    destroyTargets(context);
    const bool msaa = pipeline.samples() != VK_SAMPLE_COUNT_1_BIT;
    try {
        if (msaa) {
            color_ = context.createImage(width, height, kColorFormat, pipeline.samples(),
                                         VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT |
                                             VK_IMAGE_USAGE_TRANSIENT_ATTACHMENT_BIT,
                                         VK_IMAGE_ASPECT_COLOR_BIT);
            resolve_ =
                context.createImage(width, height, kColorFormat, VK_SAMPLE_COUNT_1_BIT,
                                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                    VK_IMAGE_ASPECT_COLOR_BIT);
        } else {
            color_ =
                context.createImage(width, height, kColorFormat, VK_SAMPLE_COUNT_1_BIT,
                                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                    VK_IMAGE_ASPECT_COLOR_BIT);
        }
        depth_ = context.createImage(width, height, pipeline.depthFormat(), pipeline.samples(),
                                     VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT, VK_IMAGE_ASPECT_DEPTH_BIT);
        VkImageView views[3] = {color_.view, depth_.view, resolve_.view};
        VkFramebufferCreateInfo fci{};
        fci.sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO;
        fci.renderPass = pipeline.renderPass();
        fci.attachmentCount = msaa ? 3 : 2;
        fci.pAttachments = views;
        fci.width = width;
        fci.height = height;
        fci.layers = 1;
        check(vkCreateFramebuffer(context.device(), &fci, nullptr, &framebuffer_), "vkCreateFramebuffer");
        // Cached host memory reads back fastest; any host-visible memory will do.
        readback_ =
            context.createBuffer(VkDeviceSize(width) * height * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                 VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                                 VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    } catch (...) {
        destroyTargets(context);
        throw;
    }
    width_ = width;
    height_ = height;
}

void Frame::draw(Context& context, const ScenePipeline& pipeline, const Meshes& meshes,
                 const FrameUniforms& uniforms, const std::vector<DrawItem>& items,
                 const std::uint8_t clear_rgb[3], std::uint32_t width, std::uint32_t height,
                 std::vector<std::uint8_t>& rgb) {
    resize(context, pipeline, width, height);
    std::memcpy(uniforms_.mapped, &uniforms, sizeof(uniforms));

    VkCommandBuffer cb = commands_;
    check(vkResetCommandBuffer(cb, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo begin{};
    begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cb, &begin), "vkBeginCommandBuffer");

    VkClearValue clears[3]{};
    for (int c = 0; c < 3; ++c) clears[0].color.float32[c] = clear_rgb[c] / 255.0f;
    clears[0].color.float32[3] = 1.0f;
    clears[1].depthStencil = {1.0f, 0};
    VkRenderPassBeginInfo rp{};
    rp.sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO;
    rp.renderPass = pipeline.renderPass();
    rp.framebuffer = framebuffer_;
    rp.renderArea = {{0, 0}, {width, height}};
    rp.clearValueCount = 2;
    rp.pClearValues = clears;
    vkCmdBeginRenderPass(cb, &rp, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline.pipeline());
    VkViewport viewport{0, 0, static_cast<float>(width), static_cast<float>(height), 0, 1};
    VkRect2D scissor{{0, 0}, {width, height}};
    vkCmdSetViewport(cb, 0, 1, &viewport);
    vkCmdSetScissor(cb, 0, 1, &scissor);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline.layout(), 0, 1, &descriptor_set_, 0,
                            nullptr);
    VkBuffer vb = meshes.vertexBuffer();
    VkDeviceSize zero = 0;
    vkCmdBindVertexBuffers(cb, 0, 1, &vb, &zero);
    vkCmdBindIndexBuffer(cb, meshes.indexBuffer(), 0, VK_INDEX_TYPE_UINT32);
    for (const DrawItem& item : items) {
        vkCmdPushConstants(cb, pipeline.layout(), VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT,
                           0, sizeof(ObjectConstants), &item.constants);
        const MeshRange& r = meshes.range(item.mesh);
        vkCmdDrawIndexed(cb, r.index_count, 1, r.first_index, r.vertex_offset, 0);
    }
    vkCmdEndRenderPass(cb);

    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {width, height, 1};
    const bool msaa = pipeline.samples() != VK_SAMPLE_COUNT_1_BIT;
    vkCmdCopyImageToBuffer(cb, msaa ? resolve_.image : color_.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                           readback_.buffer, 1, &copy);
    VkBufferMemoryBarrier to_host{};
    to_host.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER;
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    to_host.srcQueueFamilyIndex = to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_host.buffer = readback_.buffer;
    to_host.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1,
                         &to_host, 0, nullptr);
    check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");

    VkSubmitInfo submit{};
    submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cb;
    check(vkResetFences(context.device(), 1, &fence_), "vkResetFences");
    check(vkQueueSubmit(context.queue(), 1, &submit, fence_), "vkQueueSubmit");
    const VkResult waited = vkWaitForFences(context.device(), 1, &fence_, VK_TRUE, kFenceTimeoutNs);
    if (waited == VK_TIMEOUT) throw VulkanError("the frame did not finish within 60 s (device hung?)");
    check(waited, "vkWaitForFences");

    VkMappedMemoryRange range{};
    range.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE;
    range.memory = readback_.memory;
    range.size = VK_WHOLE_SIZE;
    check(vkInvalidateMappedMemoryRanges(context.device(), 1, &range), "vkInvalidateMappedMemoryRanges");
    // The target is R8G8B8A8 (byte order R, G, B, A): drop alpha, no channel swap.
    const auto* src = static_cast<const std::uint8_t*>(readback_.mapped);
    const std::size_t pixels = std::size_t(width) * height;
    rgb.resize(pixels * 3);
    for (std::size_t i = 0; i < pixels; ++i) {
        rgb[i * 3 + 0] = src[i * 4 + 0];
        rgb[i * 3 + 1] = src[i * 4 + 1];
        rgb[i * 3 + 2] = src[i * 4 + 2];
    }
}

} // namespace tessera::renderers::vulkan
