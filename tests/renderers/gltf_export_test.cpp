// glTF export: the file read back twice, by nlohmann/json with the buffer decoded here (accessor counts,
// strides and bounds against the decoded data, winding against the normals, object transforms,
// materials, camera direction worked out with quaternion algebra written here) and by tinygltf, an
// independent glTF 2.0 loader (Debian libtinygltf-dev).
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#define TINYGLTF_IMPLEMENTATION
#define TINYGLTF_NO_STB_IMAGE
#define TINYGLTF_NO_STB_IMAGE_WRITE
#define TINYGLTF_NO_EXTERNAL_IMAGE
#include "tessera/renderers/gltf.h"

#include <tiny_gltf.h>

namespace tessera::renderers {
namespace {

using nlohmann::json;

std::vector<uint8_t> fromBase64(const std::string& s) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    };
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        const int v = val(c);
        if (v < 0) break; // padding
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

using V3 = std::array<double, 3>;
// v' = v + 2w (q x v) + 2 q x (q x v), q = (x, y, z, w)
V3 rotate(const json& q, const V3& v) {
    const V3 u = {q[0].get<double>(), q[1].get<double>(), q[2].get<double>()};
    const double w = q[3].get<double>();
    auto cr = [](const V3& a, const V3& b) {
        return V3{a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    };
    const V3 t = cr(u, v), tt = cr(u, t);
    return {v[0] + 2 * w * t[0] + 2 * tt[0], v[1] + 2 * w * t[1] + 2 * tt[1],
            v[2] + 2 * w * t[2] + 2 * tt[2]};
}

Scene threeObjects() {
    Scene s;
    s.camera.position = {6, -8, 4};
    s.camera.look_at = {0.5, 0.25, 0.3};
    s.camera.fov = 35;
    s.objects.push_back({Shape::Sphere, Color::Blue, Material::Metal, 0.35, {-1, 0.5, 0.35}, 0});
    s.objects.push_back({Shape::Cylinder, Color::Cyan, Material::Rubber, 0.7, {1.5, -1, 0.7}, 0});
    s.objects.push_back({Shape::Cube, Color::Red, Material::Rubber, 0.5, {0, 2, 0.5}, 30});
    return s;
}

template <typename T>
std::vector<T> accessorData(const json& g, const std::vector<uint8_t>& buf, int index, int components) {
    const json& a = g["accessors"][index];
    const json& v = g["bufferViews"][a["bufferView"].get<int>()];
    const size_t count = a["count"].get<size_t>();
    const size_t offset = v.value("byteOffset", size_t{0}) + a.value("byteOffset", size_t{0});
    EXPECT_EQ(v["byteLength"].get<size_t>(), count * components * sizeof(T)) << "accessor " << index;
    EXPECT_LE(offset + count * components * sizeof(T), buf.size());
    EXPECT_EQ(offset % 4, 0u);
    std::vector<T> out(count * components);
    std::memcpy(out.data(), buf.data() + offset, out.size() * sizeof(T));
    return out;
}

TEST(GltfExport, StructureBoundsAndTransformsReadBack) {
    const Scene scene = threeObjects();
    GltfResult r = writeSceneGltf(scene);
    ASSERT_TRUE(r.ok) << r.error;
    const json g = json::parse(r.json);
    EXPECT_EQ(g["asset"]["version"], "2.0");
    ASSERT_EQ(g["buffers"].size(), 1u);
    const std::string uri = g["buffers"][0]["uri"];
    const std::string prefix = "data:application/octet-stream;base64,";
    ASSERT_EQ(uri.rfind(prefix, 0), 0u);
    const std::vector<uint8_t> buf = fromBase64(uri.substr(prefix.size()));
    EXPECT_EQ(buf.size(), g["buffers"][0]["byteLength"].get<size_t>());

    // Every mesh: POSITION bounds equal to the data and to the unit shape's box; indices in range and
    // counter-clockwise seen from the normals' side.
    ASSERT_EQ(g["meshes"].size(), 4u); // three shapes (each once) + ground
    for (const json& mesh : g["meshes"]) {
        SCOPED_TRACE(mesh["name"].get<std::string>());
        const json& prim = mesh["primitives"][0];
        EXPECT_EQ(prim.value("mode", 4), 4);
        const int pa = prim["attributes"]["POSITION"], na = prim["attributes"]["NORMAL"],
                  ia = prim["indices"];
        const auto pos = accessorData<float>(g, buf, pa, 3), nrm = accessorData<float>(g, buf, na, 3);
        const auto idx = accessorData<uint32_t>(g, buf, ia, 1);
        EXPECT_EQ(g["accessors"][ia]["componentType"], 5125);
        ASSERT_EQ(idx.size() % 3, 0u);
        const size_t n = pos.size() / 3;
        EXPECT_EQ(g["accessors"][na]["count"], n);
        for (int c = 0; c < 3; ++c) {
            float lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < n; ++i) {
                lo = std::min(lo, pos[i * 3 + c]);
                hi = std::max(hi, pos[i * 3 + c]);
            }
            EXPECT_EQ(g["accessors"][pa]["min"][c].get<float>(), lo);
            EXPECT_EQ(g["accessors"][pa]["max"][c].get<float>(), hi);
            const bool flat = mesh["name"] == "ground" && c == 2;
            EXPECT_NEAR(lo, flat ? 0.0 : -1.0, 1e-6);
            EXPECT_NEAR(hi, flat ? 0.0 : 1.0, 1e-6);
        }
        for (size_t t = 0; t < idx.size(); t += 3) {
            for (int k = 0; k < 3; ++k) ASSERT_LT(idx[t + k], n);
            auto p = [&](uint32_t i) { return V3{pos[i * 3], pos[i * 3 + 1], pos[i * 3 + 2]}; };
            const V3 a = p(idx[t]), b = p(idx[t + 1]), c = p(idx[t + 2]);
            const V3 e1 = {b[0] - a[0], b[1] - a[1], b[2] - a[2]},
                     e2 = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
            const V3 cr = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                           e1[0] * e2[1] - e1[1] * e2[0]};
            double facing = 0;
            for (int k = 0; k < 3; ++k)
                for (int d = 0; d < 3; ++d) facing += cr[d] * nrm[idx[t + k] * 3 + d];
            EXPECT_GE(facing, 0.0) << "triangle " << t / 3;
        }
    }

    // Nodes: the root turns z up into y up; objects carry the scene's numbers.
    const json& nodes = g["nodes"];
    const int root = g["scenes"][0]["nodes"][0];
    const V3 up = rotate(nodes[root]["rotation"], {0, 0, 1});
    EXPECT_NEAR(up[0], 0, 1e-12);
    EXPECT_NEAR(up[1], 1, 1e-12);
    EXPECT_NEAR(up[2], 0, 1e-12);
    ASSERT_EQ(nodes[root]["children"].size(), scene.objects.size() + 3); // + ground, camera, light
    for (size_t i = 0; i < scene.objects.size(); ++i) {
        const json& n = nodes[nodes[root]["children"][i].get<int>()];
        const SceneObject& o = scene.objects[i];
        for (int c = 0; c < 3; ++c) {
            EXPECT_DOUBLE_EQ(n["translation"][c].get<double>(), o.position[c]);
            EXPECT_DOUBLE_EQ(n["scale"][c].get<double>(), o.size);
        }
        // A unit x axis turned by the node's rotation points at the object's heading.
        const V3 x = rotate(n["rotation"], {1, 0, 0});
        EXPECT_NEAR(x[0], std::cos(o.rotation * M_PI / 180), 1e-12);
        EXPECT_NEAR(x[1], std::sin(o.rotation * M_PI / 180), 1e-12);
        const json& mat =
            g["materials"][g["meshes"][n["mesh"].get<int>()]["primitives"][0]["material"].get<int>()];
        const json& pbr = mat["pbrMetallicRoughness"];
        EXPECT_EQ(pbr["metallicFactor"].get<double>(), o.material == Material::Metal ? 1.0 : 0.0);
        EXPECT_LT(pbr["roughnessFactor"].get<double>(), o.material == Material::Metal ? 0.5 : 1.01);
        EXPECT_GT(pbr["roughnessFactor"].get<double>(), o.material == Material::Metal ? 0.0 : 0.5);
    }
    // The red cube's base colour: sRGB 173 35 35 in linear light (IEC 61966-2-1), worked out by hand:
    // ((173/255 + 0.055) / 1.055)^2.4 = 0.417885; 35/255 = 0.1373 is above 0.04045, so
    // ((0.1373 + 0.055) / 1.055)^2.4 = 0.016807.
    const json& cube = nodes[nodes[root]["children"][2].get<int>()];
    const json& red =
        g["materials"][g["meshes"][cube["mesh"].get<int>()]["primitives"][0]["material"].get<int>()];
    EXPECT_EQ(red["name"], "red rubber");
    EXPECT_NEAR(red["pbrMetallicRoughness"]["baseColorFactor"][0].get<double>(), 0.417885, 1e-5);
    EXPECT_NEAR(red["pbrMetallicRoughness"]["baseColorFactor"][1].get<double>(), 0.016807, 1e-5);

    // The camera sits at its position and looks (local -z) at look_at.
    ASSERT_EQ(g["cameras"].size(), 1u);
    EXPECT_NEAR(g["cameras"][0]["perspective"]["yfov"].get<double>(), 35 * M_PI / 180, 1e-12);
    const json& cam = nodes[nodes[root]["children"][scene.objects.size() + 1].get<int>()];
    EXPECT_EQ(cam["camera"], 0);
    const V3 look = rotate(cam["rotation"], {0, 0, -1});
    V3 want = {scene.camera.look_at[0] - scene.camera.position[0],
               scene.camera.look_at[1] - scene.camera.position[1],
               scene.camera.look_at[2] - scene.camera.position[2]};
    const double len = std::sqrt(want[0] * want[0] + want[1] * want[1] + want[2] * want[2]);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(look[c], want[c] / len, 1e-9);
    const V3 cam_up = rotate(cam["rotation"], {0, 1, 0});
    EXPECT_GT(cam_up[2], 0.5); // upright: the camera's up leans towards world +z
    // The light shines along its direction.
    const json& light = nodes[nodes[root]["children"][scene.objects.size() + 2].get<int>()];
    const V3 shine = rotate(light["rotation"], {0, 0, -1});
    const double ll = std::sqrt(1 + 1 + 4.0);
    EXPECT_NEAR(shine[0], -1 / ll, 1e-9);
    EXPECT_NEAR(shine[1], 1 / ll, 1e-9);
    EXPECT_NEAR(shine[2], -2 / ll, 1e-9);
}

TEST(GltfExport, TinyGltfLoadsIt) {
    for (const Scene& scene : {threeObjects(), Scene{}}) {
        GltfResult r = writeSceneGltf(scene);
        ASSERT_TRUE(r.ok) << r.error;
        tinygltf::TinyGLTF loader;
        tinygltf::Model model;
        std::string err, warn;
        ASSERT_TRUE(loader.LoadASCIIFromString(&model, &err, &warn, r.json.c_str(),
                                               static_cast<unsigned>(r.json.size()), ""))
            << err;
        EXPECT_TRUE(err.empty()) << err;
        EXPECT_TRUE(warn.empty()) << warn;
        EXPECT_EQ(model.asset.version, "2.0");
        EXPECT_EQ(model.cameras.size(), 1u);
        EXPECT_EQ(model.lights.size(), 1u);
        EXPECT_EQ(model.lights[0].type, "directional");
        EXPECT_EQ(model.meshes.size(), scene.objects.empty() ? 1u : 4u);
        EXPECT_EQ(model.nodes.size(), scene.objects.size() + 4);
        size_t bytes = 0;
        for (const auto& b : model.buffers) bytes += b.data.size();
        EXPECT_EQ(bytes, static_cast<size_t>(model.buffers[0].data.size()));
        for (const auto& a : model.accessors) {
            const auto& v = model.bufferViews[static_cast<size_t>(a.bufferView)];
            const size_t elem = static_cast<size_t>(
                tinygltf::GetNumComponentsInType(static_cast<uint32_t>(a.type)) *
                tinygltf::GetComponentSizeInBytes(static_cast<uint32_t>(a.componentType)));
            EXPECT_LE(v.byteOffset + a.byteOffset + a.count * elem, model.buffers[0].data.size());
        }
    }
}

TEST(GltfExport, InvalidSceneIsAnError) {
    Scene s = threeObjects();
    s.objects[0].size = -1;
    GltfResult r = writeSceneGltf(s);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("size"), std::string::npos) << r.error;
    s = threeObjects();
    s.camera.look_at = s.camera.position;
    EXPECT_FALSE(writeSceneGltf(s).ok);
}

} // namespace
} // namespace tessera::renderers
