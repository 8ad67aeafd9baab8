// Unit meshes for the scene's shapes and the ground, built on the CPU and kept in one vertex and one
// index buffer. Every mesh has half-extent 1 (the object's size scales it) and is centred at the origin;
// the ground is the square [-1, 1]^2 at z = 0 facing +z.
#pragma once

#include "vulkan/vulkan_context.h"

#include <array>
#include <cstdint>
#include <vector>

namespace tessera::renderers::vulkan {

enum class MeshKind { Cube, Sphere, Cylinder, Ground };
inline constexpr int kMeshKinds = 4;

struct Vertex {
    float position[3];
    float normal[3];
};

struct MeshRange {
    std::uint32_t first_index = 0;
    std::uint32_t index_count = 0;
    std::int32_t vertex_offset = 0;
};

// The CPU side, kept separate so the geometry can be checked without a device.
struct MeshData {
    std::vector<Vertex> vertices;
    std::vector<std::uint32_t> indices;
    std::array<MeshRange, kMeshKinds> ranges;
};
MeshData buildMeshes();

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
