// Unit meshes for the scene's shapes and the ground, built on the CPU: one vertex and one index list
// with a range per mesh. Every mesh has half-extent 1 (the object's size scales it) and is centred at the
// origin, z up; the ground is the square [-1, 1]^2 at z = 0 facing +z. Triangles wind counter-clockwise
// seen from outside. Used by the Vulkan renderer and the glTF exporter. Pure; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace tessera::renderers {

enum class MeshKind { Cube, Sphere, Cylinder, Ground };
inline constexpr int kMeshKinds = 4;

struct Vertex {
    float position[3];
    float normal[3];
};

struct MeshRange {
    std::uint32_t first_index = 0;
    std::uint32_t index_count = 0;
    std::int32_t vertex_offset = 0; // indices of the range are relative to this vertex
};

struct MeshData {
    std::vector<Vertex> vertices;
    std::vector<std::uint32_t> indices;
    std::array<MeshRange, kMeshKinds> ranges;
};
MeshData buildMeshes();

} // namespace tessera::renderers
