// Sections: scene checks · camera matrices · colours and materials · the Renderer · factory.
#include "vulkan/vulkan_renderer.h"

#include "vulkan/vulkan_context.h"
#include "vulkan/vulkan_frame.h"
#include "vulkan/vulkan_meshes.h"
#include "vulkan/vulkan_pipeline.h"

#include <array>
#include <cmath>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace tessera::renderers {
namespace {

using vulkan::DrawItem;
using vulkan::MeshKind;

constexpr double kPi = 3.14159265358979323846;
// The ground quad's half-extent around the point below the eye: past every coordinate limit (1000), and
// far enough that the gap to the true horizon is under a pixel at ordinary sizes.
constexpr double kGroundHalfExtent = 4000;
constexpr double kNear = 0.05;
constexpr double kFar = 12000;

// ---- scene checks -------------------------------------------------------------------------------

bool finite3(const Vec3& v) {
    return std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]);
}
double length(const Vec3& v) {
    return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}
Vec3 sub(const Vec3& a, const Vec3& b) {
    return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 normalized(const Vec3& v) {
    const double n = length(v);
    return {v[0] / n, v[1] / n, v[2] / n};
}

// The limits of docs/scene-programs.md, for scenes built in code rather than parsed. Empty when valid.
std::string checkScene(const Scene& scene) {
    if (scene.objects.size() > kMaxObjects)
        return "scene has more than " + std::to_string(kMaxObjects) + " objects";
    const Camera& c = scene.camera;
    if (!finite3(c.position) || !finite3(c.look_at) || !std::isfinite(c.fov))
        return "camera has a non-finite number";
    if (c.fov < 1 || c.fov > 170) return "camera fov " + std::to_string(c.fov) + " is outside 1..170";
    if (length(sub(c.look_at, c.position)) == 0) return "camera position equals look_at";
    const Light& l = scene.light;
    if (!finite3(l.direction) || length(l.direction) == 0) return "light direction is zero or not finite";
    if (!(l.intensity >= 0 && l.intensity <= 10) || !(l.ambient >= 0 && l.ambient <= 10))
        return "light intensity or ambient is outside 0..10";
    for (std::size_t i = 0; i < scene.objects.size(); ++i) {
        const SceneObject& o = scene.objects[i];
        if (!finite3(o.position) || !std::isfinite(o.rotation) || !(o.size > 0 && o.size <= 100))
            return "object " + std::to_string(i) + " has a size outside (0, 100] or a non-finite number";
    }
    return {};
}

// ---- camera matrices ----------------------------------------------------------------------------

// Column-major view-projection for Vulkan clip space (x right, y down, depth 0..1), z-up world.
std::array<float, 16> viewProjection(const Camera& camera, double aspect) {
    const Vec3 f = normalized(sub(camera.look_at, camera.position));
    Vec3 s = cross(f, {0, 0, 1});
    if (length(s) < 1e-9) s = cross(f, {0, 1, 0}); // looking straight up or down: +y is up in the image
    s = normalized(s);
    const Vec3 u = cross(s, f);
    // View: rows s, u, -f; translation -R * eye.
    double view[4][4] = {{s[0], s[1], s[2], -dot(s, camera.position)},
                         {u[0], u[1], u[2], -dot(u, camera.position)},
                         {-f[0], -f[1], -f[2], dot(f, camera.position)},
                         {0, 0, 0, 1}};
    const double g = 1.0 / std::tan(camera.fov * kPi / 360.0);
    double proj[4][4] = {{g / aspect, 0, 0, 0},
                         {0, -g, 0, 0},
                         {0, 0, kFar / (kNear - kFar), kNear * kFar / (kNear - kFar)},
                         {0, 0, -1, 0}};
    std::array<float, 16> out{};
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
            double v = 0;
            for (int k = 0; k < 4; ++k) v += proj[r][k] * view[k][c];
            out[static_cast<std::size_t>(c * 4 + r)] = static_cast<float>(v);
        }
    return out;
}

// ---- colours and materials ----------------------------------------------------------------------

double srgbToLinear(double c) {
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

void setAlbedo(vulkan::ObjectConstants& k, const std::uint8_t srgb[3], double diffuse_weight) {
    for (int c = 0; c < 3; ++c) k.albedo[c] = static_cast<float>(srgbToLinear(srgb[c] / 255.0));
    k.albedo[3] = static_cast<float>(diffuse_weight);
}

DrawItem objectItem(const SceneObject& o, int index) {
    DrawItem item;
    item.constants.self[0] = static_cast<float>(index);
    item.mesh = o.shape == Shape::Cube     ? MeshKind::Cube
                : o.shape == Shape::Sphere ? MeshKind::Sphere
                                           : MeshKind::Cylinder;
    auto& k = item.constants;
    for (int c = 0; c < 3; ++c) k.place[c] = static_cast<float>(o.position[static_cast<std::size_t>(c)]);
    k.place[3] = static_cast<float>(o.size);
    const double a = o.rotation * kPi / 180.0;
    k.turn[0] = static_cast<float>(std::cos(a));
    k.turn[1] = static_cast<float>(std::sin(a));
    const auto colour = static_cast<std::size_t>(o.color);
    if (o.material == Material::Metal) {
        // Metal: a darker diffuse term and a strong, tight highlight tinted by the colour.
        setAlbedo(k, kColorSrgb[colour], 0.45);
        k.shine[0] = 1.0f;
        k.shine[1] = 96.0f;
        k.shine[2] = 0.6f;
    } else {
        // Rubber: full diffuse and a weak, broad white highlight.
        setAlbedo(k, kColorSrgb[colour], 1.0);
        k.shine[0] = 0.08f;
        k.shine[1] = 8.0f;
        k.shine[2] = 0.0f;
    }
    return item;
}

DrawItem groundItem(const Camera& camera) {
    DrawItem item;
    item.mesh = MeshKind::Ground;
    auto& k = item.constants;
    k.self[0] = -1;
    k.place[0] = static_cast<float>(camera.position[0]);
    k.place[1] = static_cast<float>(camera.position[1]);
    k.place[2] = 0;
    k.place[3] = static_cast<float>(kGroundHalfExtent);
    k.turn[0] = 1;
    setAlbedo(k, kGroundSrgb, 1.0); // matte, no highlight: an empty ground is one flat colour
    return item;
}

// ---- the Renderer -------------------------------------------------------------------------------

class VulkanRenderer final : public Renderer {
public:
    ~VulkanRenderer() override {
        frame_.destroy(context_);
        meshes_.destroy(context_);
        pipeline_.destroy(context_);
    }

    std::string create(const RendererOptions& options) {
        try {
            context_.create();
            if (!vulkan::supportedSamples(context_, options.samples))
                return "the device " + context_.description() + " cannot render with " +
                       std::to_string(options.samples) + " samples per pixel (try 1, 2, 4 or 8)";
            samples_ = options.samples;
            pipeline_.create(context_, static_cast<VkSampleCountFlagBits>(options.samples));
            meshes_.create(context_);
            frame_.create(context_, pipeline_);
            description_ = context_.description() +
                           (samples_ > 1 ? ", " + std::to_string(samples_) + "x MSAA" : ", no MSAA");
            return {};
        } catch (const std::bad_alloc&) {
            return "out of host memory while starting the Vulkan renderer";
        } catch (const std::exception& e) {
            return std::string("Vulkan renderer: ") + e.what();
        }
    }

    std::string_view name() const override { return "vulkan"; }
    std::string device() const override { return description_; }

    RenderResult render(const Scene& scene, int width, int height) override {
        RenderResult result;
        if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide) {
            result.error = "image size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is outside 1.." + std::to_string(kMaxImageSide);
            return result;
        }
        if (std::string bad = checkScene(scene); !bad.empty()) {
            result.error = "invalid scene: " + bad;
            return result;
        }
        if (!broken_.empty()) {
            result.error = "the Vulkan renderer stopped after an earlier device error: " + broken_;
            return result;
        }
        vulkan::FrameUniforms u{};
        const auto vp = viewProjection(scene.camera, double(width) / double(height));
        for (int i = 0; i < 16; ++i) u.view_proj[i] = vp[static_cast<std::size_t>(i)];
        for (int c = 0; c < 3; ++c)
            u.eye[c] = static_cast<float>(scene.camera.position[static_cast<std::size_t>(c)]);
        const Vec3 to_light =
            normalized({-scene.light.direction[0], -scene.light.direction[1], -scene.light.direction[2]});
        for (int c = 0; c < 3; ++c) u.to_light[c] = static_cast<float>(to_light[static_cast<std::size_t>(c)]);
        u.light[0] = static_cast<float>(scene.light.intensity);
        u.light[1] = static_cast<float>(scene.light.ambient);
        static_assert(kMaxObjects <= std::size(vulkan::FrameUniforms{}.occluder_place));
        u.occluder_count[0] = static_cast<float>(scene.objects.size());
        for (std::size_t i = 0; i < scene.objects.size(); ++i) {
            const SceneObject& o = scene.objects[i];
            for (int c = 0; c < 3; ++c)
                u.occluder_place[i][c] = static_cast<float>(o.position[static_cast<std::size_t>(c)]);
            u.occluder_place[i][3] = static_cast<float>(o.size);
            const double a = o.rotation * kPi / 180.0;
            u.occluder_shape[i][0] = static_cast<float>(std::cos(a));
            u.occluder_shape[i][1] = static_cast<float>(std::sin(a));
            u.occluder_shape[i][2] = o.shape == Shape::Cube ? 0.0f : o.shape == Shape::Sphere ? 1.0f : 2.0f;
        }

        std::vector<DrawItem> items;
        items.reserve(scene.objects.size() + 1);
        items.push_back(groundItem(scene.camera));
        for (std::size_t i = 0; i < scene.objects.size(); ++i)
            items.push_back(objectItem(scene.objects[i], static_cast<int>(i)));
        try {
            frame_.draw(context_, pipeline_, meshes_, u, items, kSkySrgb, static_cast<std::uint32_t>(width),
                        static_cast<std::uint32_t>(height), result.image.rgb);
        } catch (const std::bad_alloc&) {
            result.error =
                "out of host memory for a " + std::to_string(width) + "x" + std::to_string(height) + " image";
            return result;
        } catch (const std::exception& e) {
            // Targets may be half built or a submission may still be pending: refuse further frames.
            broken_ = e.what();
            result.error = std::string("Vulkan renderer: ") + e.what();
            return result;
        }
        result.image.width = width;
        result.image.height = height;
        result.ok = true;
        return result;
    }

private:
    vulkan::Context context_;
    vulkan::ScenePipeline pipeline_;
    vulkan::Meshes meshes_;
    vulkan::Frame frame_;
    int samples_ = 4;
    std::string description_;
    std::string broken_;
};

} // namespace

// ---- factory ------------------------------------------------------------------------------------

RendererResult makeVulkanRenderer(const RendererOptions& options) {
    RendererResult result;
    try {
        auto renderer = std::make_unique<VulkanRenderer>();
        if (std::string error = renderer->create(options); !error.empty()) {
            result.error = error;
            return result;
        }
        result.renderer = std::move(renderer);
    } catch (const std::bad_alloc&) {
        result.error = "out of host memory while starting the Vulkan renderer";
    }
    return result;
}

} // namespace tessera::renderers
