#include "vulkan/vulkan_meshes.h"

#include <cstring>

namespace tessera::renderers::vulkan {

void Meshes::create(Context& context) {
    const MeshData data = buildMeshes();
    const VkMemoryPropertyFlags host =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkDeviceSize vbytes = data.vertices.size() * sizeof(Vertex);
    const VkDeviceSize ibytes = data.indices.size() * sizeof(std::uint32_t);
    vertices_ = context.createBuffer(vbytes, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, host);
    indices_ = context.createBuffer(ibytes, VK_BUFFER_USAGE_INDEX_BUFFER_BIT, host);
    std::memcpy(vertices_.mapped, data.vertices.data(), vbytes);
    std::memcpy(indices_.mapped, data.indices.data(), ibytes);
    ranges_ = data.ranges;
}

void Meshes::destroy(Context& context) {
    context.destroy(vertices_);
    context.destroy(indices_);
}

} // namespace tessera::renderers::vulkan
