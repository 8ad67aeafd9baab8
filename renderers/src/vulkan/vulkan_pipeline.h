// The scene pass: its render pass (MSAA colour + depth, resolved into a single-sample colour image that
// is then copied out), descriptor layout (one uniform buffer of per-frame data), push constants (one
// object) and the graphics pipeline built from the embedded SPIR-V. Viewport and scissor are dynamic,
// so one pipeline serves every image size.
#pragma once

#include "vulkan/vulkan_context.h"

namespace tessera::renderers::vulkan {

// std140 layout of the shaders' Frame block.
struct FrameUniforms {
    float view_proj[16]; // column-major
    float eye[4];
    float to_light[4];
    float light[4]; // intensity, ambient
    // Shadow casters: every object, for the fragment stage's rays towards the light.
    float occluder_count[4];     // x: how many of the entries below are used
    float occluder_place[64][4]; // centre, scale (the object's size)
    float occluder_shape[64][4]; // cos, sin of the rotation about +z; shape (0 cube, 1 sphere, 2 cylinder)
};

// std430 push constants: the shaders' Object block.
struct ObjectConstants {
    float place[4];  // centre, scale
    float turn[4];   // cos, sin
    float albedo[4]; // linear rgb, diffuse weight
    float shine[4];  // specular strength, exponent, tint
    float self[4];   // x: this object's index among the occluders (-1: the ground)
};
static_assert(sizeof(ObjectConstants) == 80); // within the 128 bytes every device offers

// The colour target: plain UNORM (the fragment shader writes sRGB-encoded values), RGBA byte order.
inline constexpr VkFormat kColorFormat = VK_FORMAT_R8G8B8A8_UNORM;

class ScenePipeline {
public:
    // `samples` must be one the device supports for colour and depth (see supportedSamples).
    void create(Context& context, VkSampleCountFlagBits samples);
    void destroy(Context& context);

    VkRenderPass renderPass() const { return render_pass_; }
    VkPipeline pipeline() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout setLayout() const { return set_layout_; }
    VkFormat depthFormat() const { return depth_format_; }
    VkSampleCountFlagBits samples() const { return samples_; }

private:
    VkRenderPass render_pass_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
    VkFormat depth_format_ = VK_FORMAT_UNDEFINED;
    VkSampleCountFlagBits samples_ = VK_SAMPLE_COUNT_1_BIT;
};

// Whether the device can render with `samples` samples per pixel (1, 2, 4, 8, ...) to colour and depth.
bool supportedSamples(const Context& context, int samples);

} // namespace tessera::renderers::vulkan
