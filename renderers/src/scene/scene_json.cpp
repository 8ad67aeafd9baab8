// Scene JSON reader and writer (docs/scene-programs.md), on nlohmann-json.
#include <cmath>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "tessera/renderers/scene.h"

namespace tessera::renderers {
namespace {

using nlohmann::json;

// Thrown inside this file only; caught in parseSceneJson.
struct JsonError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr double kMaxCoord = 1000;

void checkKeys(const json& obj, const std::string& path, std::initializer_list<std::string_view> allowed) {
    if (!obj.is_object()) throw JsonError(path + ": expected an object");
    for (const auto& [key, value] : obj.items()) {
        bool known = false;
        for (std::string_view a : allowed) known = known || key == a;
        if (!known) throw JsonError(path + ": unknown key '" + key.substr(0, 40) + "'");
    }
}

double number(const json& v, const std::string& path, double lo, double hi) {
    if (!v.is_number()) throw JsonError(path + ": expected a number");
    double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        throw JsonError(path + ": value out of range [" + json(lo).dump() + ", " + json(hi).dump() + "]");
    return x;
}

Vec3 vec3(const json& v, const std::string& path, double limit) {
    if (!v.is_array() || v.size() != 3) throw JsonError(path + ": expected an array of 3 numbers");
    Vec3 out{};
    for (std::size_t i = 0; i < 3; ++i) out[i] = number(v[i], path + "[" + std::to_string(i) + "]", -limit, limit);
    return out;
}

template <typename Enum, std::size_t N>
Enum named(const json& v, const std::string& path, std::string_view (*name)(Enum)) {
    if (!v.is_string()) throw JsonError(path + ": expected a string");
    const std::string& s = v.get_ref<const std::string&>();
    for (std::size_t i = 0; i < N; ++i) {
        if (name(static_cast<Enum>(i)) == s) return static_cast<Enum>(i);
    }
    throw JsonError(path + ": unknown value '" + s.substr(0, 40) + "'");
}

json vecJson(const Vec3& v) { return json::array({v[0], v[1], v[2]}); }

} // namespace

SceneParseResult parseSceneJson(std::string_view text) {
    SceneParseResult result;
    if (text.size() > kMaxProgramBytes) {
        result.error = "scene JSON is " + std::to_string(text.size()) + " bytes, longer than the limit of " +
                       std::to_string(kMaxProgramBytes);
        return result;
    }
    json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        result.error = "scene JSON is not valid JSON";
        return result;
    }
    try {
        checkKeys(doc, "scene", {"camera", "light", "objects"});
        Scene& s = result.scene;
        if (doc.contains("camera")) {
            const json& c = doc["camera"];
            checkKeys(c, "camera", {"position", "look_at", "fov"});
            if (c.contains("position")) s.camera.position = vec3(c["position"], "camera.position", kMaxCoord);
            if (c.contains("look_at")) s.camera.look_at = vec3(c["look_at"], "camera.look_at", kMaxCoord);
            if (c.contains("fov")) s.camera.fov = number(c["fov"], "camera.fov", 1, 170);
            if (s.camera.position == s.camera.look_at) throw JsonError("camera: position equals look_at");
        }
        if (doc.contains("light")) {
            const json& l = doc["light"];
            checkKeys(l, "light", {"direction", "intensity", "ambient"});
            if (l.contains("direction")) s.light.direction = vec3(l["direction"], "light.direction", kMaxCoord);
            if (l.contains("intensity")) s.light.intensity = number(l["intensity"], "light.intensity", 0, 10);
            if (l.contains("ambient")) s.light.ambient = number(l["ambient"], "light.ambient", 0, 10);
            if (s.light.direction == Vec3{0, 0, 0}) throw JsonError("light.direction: the zero vector");
        }
        if (!doc.contains("objects")) throw JsonError("scene: missing key 'objects'");
        const json& objects = doc["objects"];
        if (!objects.is_array()) throw JsonError("objects: expected an array");
        if (objects.size() > kMaxObjects)
            throw JsonError("objects: " + std::to_string(objects.size()) + " objects, more than " +
                            std::to_string(kMaxObjects));
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const std::string path = "objects[" + std::to_string(i) + "]";
            const json& o = objects[i];
            checkKeys(o, path, {"shape", "color", "material", "size", "position", "rotation"});
            for (const char* key : {"shape", "color", "material", "size", "position", "rotation"}) {
                if (!o.contains(key)) throw JsonError(path + ": missing key '" + key + "'");
            }
            SceneObject obj;
            obj.shape = named<Shape, 3>(o["shape"], path + ".shape", shapeName);
            obj.color = named<Color, 8>(o["color"], path + ".color", colorName);
            obj.material = named<Material, 2>(o["material"], path + ".material", materialName);
            obj.size = number(o["size"], path + ".size", 0, 100);
            if (obj.size <= 0) throw JsonError(path + ".size: must be greater than 0");
            obj.position = vec3(o["position"], path + ".position", kMaxCoord);
            obj.rotation = number(o["rotation"], path + ".rotation", -360, 360);
            s.objects.push_back(obj);
        }
    } catch (const JsonError& e) {
        result.error = e.what();
        return result;
    } catch (const json::exception& e) {
        result.error = std::string("scene JSON: ") + e.what();
        return result;
    }
    result.ok = true;
    return result;
}

std::string writeSceneJson(const Scene& scene) {
    json doc;
    doc["camera"] = {{"position", vecJson(scene.camera.position)},
                     {"look_at", vecJson(scene.camera.look_at)},
                     {"fov", scene.camera.fov}};
    doc["light"] = {{"direction", vecJson(scene.light.direction)},
                    {"intensity", scene.light.intensity},
                    {"ambient", scene.light.ambient}};
    json objects = json::array();
    for (const SceneObject& o : scene.objects) {
        objects.push_back({{"shape", shapeName(o.shape)},
                           {"color", colorName(o.color)},
                           {"material", materialName(o.material)},
                           {"size", o.size},
                           {"position", vecJson(o.position)},
                           {"rotation", o.rotation}});
    }
    doc["objects"] = std::move(objects);
    return doc.dump(2) + "\n";
}

} // namespace tessera::renderers
