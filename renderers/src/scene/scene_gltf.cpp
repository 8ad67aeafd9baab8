// glTF 2.0 export (gltf.h). Sections: base64 and quaternions · geometry into the buffer ·
// materials · nodes, camera and light.
//
// The JSON is written with nlohmann/json. Base64 is written here: it is a dozen lines, and the only
// library on the build's list that has it (OpenSSL) is not worth linking into the renderers for it.
#include "scene/scene_meshes.h"
#include "tessera/renderers/gltf.h"
#include "tessera/renderers/renderer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

namespace tessera::renderers {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kArrayBuffer = 34962, kElementArrayBuffer = 34963; // bufferView targets
constexpr int kFloat = 5126, kUnsignedInt = 5125;                // accessor component types

std::string base64(const std::vector<std::uint8_t>& bytes) {
    static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const std::uint32_t n = (static_cast<std::uint32_t>(bytes[i]) << 16) |
                                (i + 1 < bytes.size() ? static_cast<std::uint32_t>(bytes[i + 1]) << 8 : 0u) |
                                (i + 2 < bytes.size() ? static_cast<std::uint32_t>(bytes[i + 2]) : 0u);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
    }
    return out;
}

double srgbToLinear(double c) {
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

using Quat = std::array<double, 4>; // x, y, z, w (glTF order)

// The rotation whose matrix has columns x, y, z (an orthonormal right-handed basis).
Quat quatFromBasis(const Vec3& x, const Vec3& y, const Vec3& z) {
    const double m00 = x[0], m11 = y[1], m22 = z[2];
    const double tr = m00 + m11 + m22;
    Quat q;
    if (tr > 0) {
        const double s = std::sqrt(tr + 1.0) * 2;
        q = {(y[2] - z[1]) / s, (z[0] - x[2]) / s, (x[1] - y[0]) / s, 0.25 * s};
    } else if (m00 > m11 && m00 > m22) {
        const double s = std::sqrt(1.0 + m00 - m11 - m22) * 2;
        q = {0.25 * s, (y[0] + x[1]) / s, (z[0] + x[2]) / s, (y[2] - z[1]) / s};
    } else if (m11 > m22) {
        const double s = std::sqrt(1.0 + m11 - m00 - m22) * 2;
        q = {(y[0] + x[1]) / s, 0.25 * s, (z[1] + y[2]) / s, (z[0] - x[2]) / s};
    } else {
        const double s = std::sqrt(1.0 + m22 - m00 - m11) * 2;
        q = {(z[0] + x[2]) / s, (z[1] + y[2]) / s, 0.25 * s, (x[1] - y[0]) / s};
    }
    return q;
}

Vec3 sub(const Vec3& a, const Vec3& b) {
    return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 normalized(const Vec3& v) {
    const double n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    return {v[0] / n, v[1] / n, v[2] / n};
}

// Orientation of a glTF camera or light (looking along its local -z, local +y up) that looks along
// `forward` with world +z as up (+y when forward is vertical).
Quat lookRotation(const Vec3& forward_in) {
    const Vec3 f = normalized(forward_in);
    Vec3 up = {0, 0, 1};
    if (std::abs(f[2]) > 0.999999) up = {0, 1, 0};
    const Vec3 right = normalized(cross(f, up));
    const Vec3 true_up = cross(right, f);
    return quatFromBasis(right, true_up, {-f[0], -f[1], -f[2]});
}

struct Writer {
    std::vector<std::uint8_t> buffer;
    nlohmann::json buffer_views = nlohmann::json::array();
    nlohmann::json accessors = nlohmann::json::array();

    int view(const void* data, size_t bytes, int target) {
        while (buffer.size() % 4) buffer.push_back(0);
        const size_t offset = buffer.size();
        buffer.resize(offset + bytes);
        std::memcpy(buffer.data() + offset, data, bytes);
        buffer_views.push_back(
            {{"buffer", 0}, {"byteOffset", offset}, {"byteLength", bytes}, {"target", target}});
        return static_cast<int>(buffer_views.size()) - 1;
    }
    int accessor(int view, int component, size_t count, const char* type, nlohmann::json min = nullptr,
                 nlohmann::json max = nullptr) {
        nlohmann::json a = {
            {"bufferView", view}, {"componentType", component}, {"count", count}, {"type", type}};
        if (!min.is_null()) a["min"] = min;
        if (!max.is_null()) a["max"] = max;
        accessors.push_back(a);
        return static_cast<int>(accessors.size()) - 1;
    }
};

// One unit mesh as a glTF primitive's accessors: positions (with the bounds glTF requires), normals,
// indices wound counter-clockwise seen from the side the normals face (glTF's front faces).
nlohmann::json addPrimitive(Writer& w, const MeshData& data, MeshKind kind) {
    const MeshRange& r = data.ranges[static_cast<int>(kind)];
    std::vector<std::uint32_t> idx(data.indices.begin() + r.first_index,
                                   data.indices.begin() + r.first_index + r.index_count);
    std::uint32_t used = 0;
    for (std::uint32_t i : idx) used = std::max(used, i + 1);
    std::vector<float> pos, nrm;
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (std::uint32_t v = 0; v < used; ++v) {
        const Vertex& vx = data.vertices[static_cast<size_t>(r.vertex_offset) + v];
        for (int c = 0; c < 3; ++c) {
            pos.push_back(vx.position[c]);
            nrm.push_back(vx.normal[c]);
            lo[c] = std::min(lo[c], vx.position[c]);
            hi[c] = std::max(hi[c], vx.position[c]);
        }
    }
    for (size_t t = 0; t + 2 < idx.size(); t += 3) {
        auto p = [&](std::uint32_t i) { return Vec3{pos[i * 3], pos[i * 3 + 1], pos[i * 3 + 2]}; };
        const Vec3 n = cross(sub(p(idx[t + 1]), p(idx[t])), sub(p(idx[t + 2]), p(idx[t])));
        double facing = 0;
        for (int k = 0; k < 3; ++k)
            for (int c = 0; c < 3; ++c)
                facing += n[static_cast<size_t>(c)] *
                          nrm[idx[t + static_cast<size_t>(k)] * 3 + static_cast<size_t>(c)];
        if (facing < 0) std::swap(idx[t + 1], idx[t + 2]);
    }
    const int pv = w.view(pos.data(), pos.size() * 4, kArrayBuffer);
    const int nv = w.view(nrm.data(), nrm.size() * 4, kArrayBuffer);
    const int iv = w.view(idx.data(), idx.size() * 4, kElementArrayBuffer);
    return {
        {"attributes",
         {{"POSITION", w.accessor(pv, kFloat, used, "VEC3", {lo[0], lo[1], lo[2]}, {hi[0], hi[1], hi[2]})},
          {"NORMAL", w.accessor(nv, kFloat, used, "VEC3")}}},
        {"indices", w.accessor(iv, kUnsignedInt, idx.size(), "SCALAR")},
        {"mode", 4}};
}

nlohmann::json material(const std::string& name, const std::uint8_t srgb[3], bool metal) {
    return {{"name", name},
            {"pbrMetallicRoughness",
             {{"baseColorFactor",
               {srgbToLinear(srgb[0] / 255.0), srgbToLinear(srgb[1] / 255.0), srgbToLinear(srgb[2] / 255.0),
                1.0}},
              {"metallicFactor", metal ? 1.0 : 0.0},
              {"roughnessFactor", metal ? 0.25 : 0.9}}}};
}

} // namespace

GltfResult writeSceneGltf(const Scene& scene) {
    GltfResult out;
    // The parsers hold the limits; a scene they would refuse is refused here too.
    if (SceneParseResult check = parseSceneJson(writeSceneJson(scene)); !check.ok) {
        out.error = "the scene is not valid: " + check.error;
        return out;
    }
    try {
        const MeshData data = buildMeshes();
        Writer w;
        nlohmann::json meshes = nlohmann::json::array(), materials = nlohmann::json::array(),
                       nodes = nlohmann::json::array();
        std::map<MeshKind, nlohmann::json> primitives;
        std::map<std::pair<int, int>, int> material_of;  // (colour, material) -> index
        std::map<std::pair<MeshKind, int>, int> mesh_of; // (shape, material index) -> mesh index
        auto meshFor = [&](MeshKind kind, int mat, const std::string& name) {
            if (!primitives.count(kind)) primitives[kind] = addPrimitive(w, data, kind);
            auto key = std::make_pair(kind, mat);
            if (!mesh_of.count(key)) {
                nlohmann::json prim = primitives[kind];
                prim["material"] = mat;
                meshes.push_back({{"name", name}, {"primitives", {prim}}});
                mesh_of[key] = static_cast<int>(meshes.size()) - 1;
            }
            return mesh_of[key];
        };

        nlohmann::json children = nlohmann::json::array();
        double reach = 0;
        for (size_t i = 0; i < scene.objects.size(); ++i) {
            const SceneObject& o = scene.objects[i];
            const auto key = std::make_pair(static_cast<int>(o.color), static_cast<int>(o.material));
            if (!material_of.count(key)) {
                materials.push_back(
                    material(std::string(colorName(o.color)) + " " + std::string(materialName(o.material)),
                             kColorSrgb[static_cast<int>(o.color)], o.material == Material::Metal));
                material_of[key] = static_cast<int>(materials.size()) - 1;
            }
            const MeshKind kind = o.shape == Shape::Cube     ? MeshKind::Cube
                                  : o.shape == Shape::Sphere ? MeshKind::Sphere
                                                             : MeshKind::Cylinder;
            const int mesh = meshFor(kind, material_of[key], std::string(shapeName(o.shape)));
            const double half = o.rotation * kPi / 360.0;
            nodes.push_back(
                {{"name", "object " + std::to_string(i) + ": " + std::string(colorName(o.color)) + " " +
                              std::string(materialName(o.material)) + " " + std::string(shapeName(o.shape))},
                 {"mesh", mesh},
                 {"translation", {o.position[0], o.position[1], o.position[2]}},
                 {"rotation", {0.0, 0.0, std::sin(half), std::cos(half)}},
                 {"scale", {o.size, o.size, o.size}}});
            children.push_back(static_cast<int>(nodes.size()) - 1);
            reach = std::max(reach, std::max(std::abs(o.position[0]), std::abs(o.position[1])) + 2 * o.size);
        }
        // The renderer's ground is endless; a viewer frames the file by its bounds, so this square only
        // reaches well past the objects.
        materials.push_back(material("ground", kGroundSrgb, false));
        const int ground_mesh = meshFor(MeshKind::Ground, static_cast<int>(materials.size()) - 1, "ground");
        const double ground = std::max(10.0, 2 * reach);
        nodes.push_back({{"name", "ground"}, {"mesh", ground_mesh}, {"scale", {ground, ground, 1.0}}});
        children.push_back(static_cast<int>(nodes.size()) - 1);

        const Camera& c = scene.camera;
        const Quat cq = lookRotation(sub(c.look_at, c.position));
        nodes.push_back({{"name", "camera"},
                         {"camera", 0},
                         {"translation", {c.position[0], c.position[1], c.position[2]}},
                         {"rotation", {cq[0], cq[1], cq[2], cq[3]}}});
        children.push_back(static_cast<int>(nodes.size()) - 1);
        const Light& l = scene.light;
        const Quat lq = lookRotation(l.direction);
        nodes.push_back({{"name", "light"},
                         {"rotation", {lq[0], lq[1], lq[2], lq[3]}},
                         {"extensions", {{"KHR_lights_punctual", {{"light", 0}}}}}});
        children.push_back(static_cast<int>(nodes.size()) - 1);
        const double s = std::sqrt(0.5);
        nodes.push_back({{"name", "z-up world"}, {"rotation", {-s, 0.0, 0.0, s}}, {"children", children}});
        const int root = static_cast<int>(nodes.size()) - 1;

        nlohmann::json gltf = {{"asset", {{"version", "2.0"}, {"generator", "Tessera scene export"}}},
                               {"extensionsUsed", {"KHR_lights_punctual"}},
                               {"extensions",
                                {{"KHR_lights_punctual",
                                  {{"lights",
                                    {{{"name", "sun"},
                                      {"type", "directional"},
                                      {"color", {1.0, 1.0, 1.0}},
                                      {"intensity", l.intensity}}}}}}}},
                               {"scene", 0},
                               {"scenes", {{{"name", "scene"}, {"nodes", {root}}}}},
                               {"nodes", nodes},
                               {"meshes", meshes},
                               {"materials", materials},
                               {"cameras",
                                {{{"name", "camera"},
                                  {"type", "perspective"},
                                  {"perspective", {{"yfov", c.fov * kPi / 180.0}, {"znear", 0.05}}}}}},
                               {"accessors", w.accessors},
                               {"bufferViews", w.buffer_views},
                               {"buffers",
                                {{{"byteLength", w.buffer.size()},
                                  {"uri", "data:application/octet-stream;base64," + base64(w.buffer)}}}}};
        out.json = gltf.dump(1);
        out.ok = true;
    } catch (const std::exception& e) {
        out.error = std::string("glTF export failed: ") + e.what();
    }
    return out;
}

} // namespace tessera::renderers
