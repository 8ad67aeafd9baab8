// The unit meshes every renderer and exporter draws the scene's shapes with (CPU side).
#include "scene/scene_meshes.h"

#include <cmath>

namespace tessera::renderers {
namespace {

constexpr int kSegments = 64; // around the sphere and cylinder: silhouettes within 0.2% of a circle
constexpr int kRings = 32;    // pole to pole on the sphere
constexpr double kPi = 3.14159265358979323846;

// Appends a mesh whose indices are relative to its own first vertex.
struct Builder {
    MeshData& data;
    std::uint32_t base = 0;
    std::uint32_t first_index = 0;

    void begin() {
        base = static_cast<std::uint32_t>(data.vertices.size());
        first_index = static_cast<std::uint32_t>(data.indices.size());
    }
    std::uint32_t vertex(double px, double py, double pz, double nx, double ny, double nz) {
        data.vertices.push_back({{static_cast<float>(px), static_cast<float>(py), static_cast<float>(pz)},
                                 {static_cast<float>(nx), static_cast<float>(ny), static_cast<float>(nz)}});
        return static_cast<std::uint32_t>(data.vertices.size()) - 1 - base;
    }
    void triangle(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
        data.indices.insert(data.indices.end(), {a, b, c});
    }
    void quad(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
        triangle(a, b, c);
        triangle(a, c, d);
    }
    void end(MeshKind kind) {
        data.ranges[static_cast<int>(kind)] = {first_index,
                                               static_cast<std::uint32_t>(data.indices.size()) - first_index,
                                               static_cast<std::int32_t>(base)};
    }
};

void addCube(Builder& b) {
    b.begin();
    // Each face: its normal axis and sign; the two in-plane axes follow.
    for (int axis = 0; axis < 3; ++axis) {
        for (int sign = -1; sign <= 1; sign += 2) {
            const int u = (axis + 1) % 3, v = (axis + 2) % 3;
            std::uint32_t idx[4];
            const double corners[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
            for (int k = 0; k < 4; ++k) {
                double p[3], n[3] = {0, 0, 0};
                p[axis] = sign;
                p[u] = corners[k][0];
                p[v] = corners[k][1];
                n[axis] = sign;
                idx[k] = b.vertex(p[0], p[1], p[2], n[0], n[1], n[2]);
            }
            b.quad(idx[0], idx[1], idx[2], idx[3]);
        }
    }
    b.end(MeshKind::Cube);
}

void addSphere(Builder& b) {
    b.begin();
    for (int ring = 0; ring <= kRings; ++ring) {
        const double theta = kPi * ring / kRings; // from +z down to -z
        for (int seg = 0; seg <= kSegments; ++seg) {
            const double phi = 2 * kPi * seg / kSegments;
            const double x = std::sin(theta) * std::cos(phi), y = std::sin(theta) * std::sin(phi),
                         z = std::cos(theta);
            b.vertex(x, y, z, x, y, z);
        }
    }
    const std::uint32_t row = kSegments + 1;
    for (std::uint32_t ring = 0; ring < kRings; ++ring)
        for (std::uint32_t seg = 0; seg < kSegments; ++seg)
            b.quad(ring * row + seg, (ring + 1) * row + seg, (ring + 1) * row + seg + 1,
                   ring * row + seg + 1);
    b.end(MeshKind::Sphere);
}

void addCylinder(Builder& b) {
    b.begin();
    std::uint32_t side[kSegments + 1][2];
    for (int seg = 0; seg <= kSegments; ++seg) {
        const double phi = 2 * kPi * seg / kSegments, x = std::cos(phi), y = std::sin(phi);
        side[seg][0] = b.vertex(x, y, -1, x, y, 0);
        side[seg][1] = b.vertex(x, y, 1, x, y, 0);
    }
    for (int seg = 0; seg < kSegments; ++seg)
        b.quad(side[seg][0], side[seg + 1][0], side[seg + 1][1], side[seg][1]);
    for (int cap = -1; cap <= 1; cap += 2) {
        const std::uint32_t centre = b.vertex(0, 0, cap, 0, 0, cap);
        std::uint32_t rim[kSegments + 1];
        for (int seg = 0; seg <= kSegments; ++seg) {
            const double phi = 2 * kPi * seg / kSegments;
            rim[seg] = b.vertex(std::cos(phi), std::sin(phi), cap, 0, 0, cap);
        }
        for (int seg = 0; seg < kSegments; ++seg) b.triangle(centre, rim[seg], rim[seg + 1]);
    }
    b.end(MeshKind::Cylinder);
}

void addGround(Builder& b) {
    b.begin();
    const std::uint32_t a = b.vertex(-1, -1, 0, 0, 0, 1), c = b.vertex(1, -1, 0, 0, 0, 1),
                        d = b.vertex(1, 1, 0, 0, 0, 1), e = b.vertex(-1, 1, 0, 0, 0, 1);
    b.quad(a, c, d, e);
    b.end(MeshKind::Ground);
}

} // namespace

MeshData buildMeshes() {
    MeshData data;
    Builder b{data};
    addCube(b);
    addSphere(b);
    addCylinder(b);
    addGround(b);
    return data;
}

} // namespace tessera::renderers
