// The unit meshes (scene/scene_meshes.h) in one vertex and one index buffer on the device.
#pragma once

#include "scene/scene_meshes.h"
#include "vulkan/vulkan_context.h"

#include <array>

namespace tessera::renderers::vulkan {

using renderers::buildMeshes;
using renderers::MeshData;
using renderers::MeshKind;
using renderers::MeshRange;
using renderers::Vertex;

class Meshes {
public:
    // Uploads buildMeshes() into host-visible buffers of `context`. Throws VulkanError.
    void create(Context& context);
    void destroy(Context& context);
    VkBuffer vertexBuffer() const { return vertices_.buffer; }
    VkBuffer indexBuffer() const { return indices_.buffer; }
    const MeshRange& range(MeshKind kind) const { return ranges_[static_cast<int>(kind)]; }

private:
    GpuBuffer vertices_, indices_;
    std::array<MeshRange, kMeshKinds> ranges_{};
};

} // namespace tessera::renderers::vulkan
