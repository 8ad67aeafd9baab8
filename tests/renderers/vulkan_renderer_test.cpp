// The Vulkan renderer checked by image statistics (lavapipe or a GPU); skipped without a Vulkan device.
// Expected values come from geometry and shading re-derived here, never from the renderer's own code.
#include "tessera/renderers/renderer.h"
#include "tessera/renderers/scene.h"

#include <cmath>
#include <gtest/gtest.h>
#include <memory>
#include <string>

namespace tessera::renderers {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::unique_ptr<Renderer> vulkanOrSkip(int samples, std::string& why) {
    RendererOptions options;
    options.samples = samples;
    auto created = createRenderer("vulkan", options);
    why = created.error;
    return std::move(created.renderer);
}

#define VULKAN_OR_SKIP(var, samples)                                                                         \
    std::string var##_why;                                                                                   \
    auto var = vulkanOrSkip(samples, var##_why);                                                             \
    if (!var) GTEST_SKIP() << "no Vulkan device: " << var##_why;

Image renderOk(Renderer& r, const Scene& s, int w, int h) {
    auto result = r.render(s, w, h);
    EXPECT_TRUE(result.ok) << result.error;
    EXPECT_EQ(result.image.rgb.size(), static_cast<std::size_t>(w) * h * 3);
    return result.image;
}

const std::uint8_t* px(const Image& im, int x, int y) {
    return &im.rgb[(static_cast<std::size_t>(y) * im.width + x) * 3];
}

bool isRed(const std::uint8_t* p) {
    return p[0] > 60 && p[0] > 2 * p[1] && p[0] > 2 * p[2];
}

SceneObject object(Shape shape, Color color, Material material, double size, Vec3 position) {
    SceneObject o;
    o.shape = shape;
    o.color = color;
    o.material = material;
    o.size = size;
    o.position = position;
    return o;
}

// Pinhole projection written from the camera fields: the camera's right and up vectors, then the
// perspective divide scaled so the vertical field of view spans the image height. Pixel centres at +0.5.
void project(const Camera& c, const Vec3& p, int w, int h, double& px_x, double& px_y) {
    Vec3 f{c.look_at[0] - c.position[0], c.look_at[1] - c.position[1], c.look_at[2] - c.position[2]};
    const double fl = std::hypot(f[0], f[1], f[2]);
    for (double& v : f) v /= fl;
    Vec3 right{f[1], -f[0], 0}; // f x (0,0,1)
    const double rl = std::hypot(right[0], right[1]);
    right = {right[0] / rl, right[1] / rl, 0};
    const Vec3 up{right[1] * f[2] - right[2] * f[1], right[2] * f[0] - right[0] * f[2],
                  right[0] * f[1] - right[1] * f[0]};
    const Vec3 d{p[0] - c.position[0], p[1] - c.position[1], p[2] - c.position[2]};
    const double x = d[0] * right[0] + d[1] * right[1] + d[2] * right[2];
    const double y = d[0] * up[0] + d[1] * up[1] + d[2] * up[2];
    const double z = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
    const double t = std::tan(c.fov * kPi / 360.0);
    px_x = w / 2.0 + (x / z) / t * (h / 2.0);
    px_y = h / 2.0 - (y / z) / t * (h / 2.0);
}

TEST(VulkanRenderer, RedCubeLandsWhereTheCameraProjectsIt) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.objects.push_back(object(Shape::Cube, Color::Red, Material::Rubber, 0.35, {1.5, -1.0, 0.35}));
    const int w = 320, h = 240;
    Image im = renderOk(*renderer, scene, w, h);
    double sx = 0, sy = 0, n = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            if (isRed(px(im, x, y))) sx += x + 0.5, sy += y + 0.5, ++n;
    ASSERT_GT(n, 100) << "too few red pixels";
    double ex = 0, ey = 0;
    project(scene.camera, scene.objects[0].position, w, h, ex, ey);
    EXPECT_NEAR(sx / n, ex, 3.0);
    EXPECT_NEAR(sy / n, ey, 3.0);
    EXPECT_NE(renderer->device().find("MSAA"), std::string::npos) << renderer->device();
}

TEST(VulkanRenderer, MetalHasAStrongerSpecularPeakThanRubber) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.objects.push_back(object(Shape::Sphere, Color::Blue, Material::Rubber, 0.7, {0, 0, 0.7}));
    auto peak = [&](const Image& im) {
        int best = 0;
        for (std::size_t i = 0; i < im.rgb.size(); i += 3)
            best = std::max(best, im.rgb[i] + im.rgb[i + 1] + im.rgb[i + 2]);
        return best;
    };
    const int rubber = peak(renderOk(*renderer, scene, 256, 256));
    scene.objects[0].material = Material::Metal;
    const int metal = peak(renderOk(*renderer, scene, 256, 256));
    EXPECT_GT(metal, rubber + 150) << "metal peak " << metal << ", rubber peak " << rubber;
}

double srgbToLinear(double c) {
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}
double linearToSrgb(double c) {
    return c <= 0.0031308 ? c * 12.92 : 1.055 * std::pow(c, 1 / 2.4) - 0.055;
}

TEST(VulkanRenderer, EmptySceneIsOnlyGroundAndSky) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.camera.position = {0, -10, 1}; // level camera: the horizon crosses the middle row
    scene.camera.look_at = {0, 0, 1};
    const int w = 200, h = 150;
    Image im = renderOk(*renderer, scene, w, h);
    // Ground: Lambert with the default light, by hand: to_light = (1,-1,2)/sqrt(6), normal +z.
    const double n_dot_l = 2 / std::sqrt(6.0);
    int ground[3];
    for (int c = 0; c < 3; ++c)
        ground[c] = static_cast<int>(std::lround(
            255 * linearToSrgb(srgbToLinear(kGroundSrgb[c] / 255.0) * (scene.light.ambient + n_dot_l))));
    int sky_n = 0, ground_n = 0, other = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const std::uint8_t* p = px(im, x, y);
            auto near = [&](const auto& ref) {
                for (int c = 0; c < 3; ++c)
                    if (std::abs(int(p[c]) - int(ref[c])) > 2) return false;
                return true;
            };
            if (near(kSkySrgb)) {
                ++sky_n;
                EXPECT_LT(y, h / 2 + 1) << "sky below the horizon at " << x << "," << y;
            } else if (near(ground)) {
                ++ground_n;
                EXPECT_GE(y, h / 2 - 1) << "ground above the horizon at " << x << "," << y;
            } else if (std::abs(y - h / 2) > 1) {
                ++other;
            }
        }
    EXPECT_EQ(other, 0) << "pixels away from the horizon that are neither ground nor sky";
    EXPECT_GT(sky_n, w * (h / 2 - 2));
    EXPECT_GT(ground_n, w * (h / 2 - 2));
}

TEST(VulkanRenderer, SameSceneSameBytes) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.objects.push_back(object(Shape::Cylinder, Color::Cyan, Material::Rubber, 0.7, {1, 1, 0.7}));
    scene.objects.push_back(object(Shape::Sphere, Color::Purple, Material::Metal, 0.35, {-1, 0, 0.35}));
    scene.objects[0].rotation = 30;
    Image a = renderOk(*renderer, scene, 160, 120);
    Image b = renderOk(*renderer, scene, 160, 120);
    EXPECT_EQ(a.rgb, b.rgb);
}

double meanAbsDifference(const Image& a, const Image& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.rgb.size(); ++i) sum += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
    return sum / static_cast<double>(a.rgb.size());
}

// canonicalRotation's claim, checked on the pictures: an object turned to its canonical rotation draws
// the same, and a turn that is not a symmetry does not (so the comparison can tell them apart).
TEST(VulkanRenderer, CanonicalRotationDrawsTheSamePicture) {
    VULKAN_OR_SKIP(renderer, 4);
    for (Shape shape : {Shape::Cube, Shape::Sphere, Shape::Cylinder}) {
        Scene scene;
        scene.objects.push_back(object(shape, Color::Green, Material::Metal, 1.0, {0.5, 0.5, 1.0}));
        scene.objects[0].rotation = 205.0;
        Scene canonical = scene;
        canonical.objects[0].rotation = canonicalRotation(scene.objects[0]);
        Image a = renderOk(*renderer, scene, 128, 128);
        Image b = renderOk(*renderer, canonical, 128, 128);
        EXPECT_LT(meanAbsDifference(a, b), 0.05) << shapeName(shape);
    }
    Scene cube;
    cube.objects.push_back(object(Shape::Cube, Color::Green, Material::Metal, 1.0, {0.5, 0.5, 1.0}));
    Scene turned = cube;
    turned.objects[0].rotation = 25.0;
    EXPECT_GT(meanAbsDifference(renderOk(*renderer, cube, 128, 128), renderOk(*renderer, turned, 128, 128)),
              0.5);
}

TEST(VulkanRenderer, SphereToCubeSilhouetteAreaMatchesGeometry) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.camera.position = {15, -15, 11}; // far: the projection is close to orthographic
    scene.camera.fov = 12;
    scene.objects.push_back(object(Shape::Cube, Color::Red, Material::Rubber, 0.5, {0, 0, 0.5}));
    auto area = [&](const Image& im) {
        double n = 0;
        for (int y = 0; y < im.height; ++y)
            for (int x = 0; x < im.width; ++x) n += isRed(px(im, x, y));
        return n;
    };
    const double cube = area(renderOk(*renderer, scene, 256, 256));
    scene.objects[0].shape = Shape::Sphere;
    const double sphere = area(renderOk(*renderer, scene, 256, 256));
    // Orthographic silhouettes along unit view direction v: sphere pi r^2; cube (|vx|+|vy|+|vz|) (2r)^2.
    const double vx = 15, vy = -15, vz = 11 - 0.5, vl = std::sqrt(vx * vx + vy * vy + vz * vz);
    const double expected = kPi / (4 * (std::abs(vx) + std::abs(vy) + std::abs(vz)) / vl);
    ASSERT_GT(cube, 500);
    EXPECT_NEAR(sphere / cube, expected, 0.05 * expected)
        << "sphere " << sphere << " px, cube " << cube << " px";
}

// Pixels whose green/red ratio lies between a red face's and the gray ground's: only a partly covered
// pixel, i.e. a blend across an edge, looks like that.
int mixedEdgePixels(const Image& im) {
    int n = 0;
    for (std::size_t i = 0; i < im.rgb.size(); i += 3) {
        const double r = im.rgb[i], g = im.rgb[i + 1];
        if (r > 20 && g / r > 0.45 && g / r < 0.85) ++n;
    }
    return n;
}

TEST(VulkanRenderer, MultisamplingBlendsEdges) {
    VULKAN_OR_SKIP(single, 1);
    VULKAN_OR_SKIP(msaa, 4);
    Scene scene;
    scene.objects.push_back(object(Shape::Cube, Color::Red, Material::Rubber, 0.7, {0, 0, 0.7}));
    scene.objects[0].rotation = 20;
    const int aliased = mixedEdgePixels(renderOk(*single, scene, 256, 256));
    const int smoothed = mixedEdgePixels(renderOk(*msaa, scene, 256, 256));
    EXPECT_LE(aliased, 2);
    EXPECT_GE(smoothed, 20);
}

TEST(VulkanRenderer, BadInputIsAnErrorNotACrash) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    EXPECT_FALSE(renderer->render(scene, 0, 10).ok);
    EXPECT_FALSE(renderer->render(scene, 10, kMaxImageSide + 1).ok);
    scene.camera.look_at = scene.camera.position;
    auto bad = renderer->render(scene, 16, 16);
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("camera"), std::string::npos) << bad.error;
    Scene fine;
    EXPECT_TRUE(renderer->render(fine, 16, 16).ok) << "the renderer still works after rejected input";
}

TEST(VulkanRenderer, UnsupportedSampleCountIsAnError) {
    RendererOptions options;
    options.samples = 3;
    auto created = createRenderer("vulkan", options);
    if (!created.renderer && created.error.find("samples") == std::string::npos)
        GTEST_SKIP() << "no Vulkan device: " << created.error;
    EXPECT_FALSE(created.renderer);
    EXPECT_NE(created.error.find("3 samples"), std::string::npos) << created.error;
}

} // namespace
} // namespace tessera::renderers

namespace tessera::renderers {
namespace {

// Mean sRGB grey of a 5x5 patch around where the camera projects a ground point.
double groundPatch(const Image& im, const Camera& cam, const Vec3& p) {
    double x = 0, y = 0;
    project(cam, p, im.width, im.height, x, y);
    double sum = 0;
    int n = 0;
    for (int dy = -2; dy <= 2; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
            const int px_x = static_cast<int>(x) + dx, px_y = static_cast<int>(y) + dy;
            EXPECT_TRUE(px_x >= 0 && px_y >= 0 && px_x < im.width && px_y < im.height);
            if (px_x < 0 || px_y < 0 || px_x >= im.width || px_y >= im.height) continue;
            const std::uint8_t* q = px(im, px_x, px_y);
            sum += (q[0] + q[1] + q[2]) / 3.0;
            ++n;
        }
    return n ? sum / n : -1;
}

// A low light travelling along +x: each shape throws its shadow along +x on the ground. Shadowed ground
// keeps only the ambient term; lit ground beside and beyond the shadow has Lambert as well (both worked
// out by hand from the light and the ground's albedo).
TEST(VulkanRenderer, ObjectsCastShadowsOnTheGround) {
    VULKAN_OR_SKIP(renderer, 4);
    const double to_light_z = 0.5 / std::sqrt(1.25); // to_light = (-1, 0, 0.5) / |.|, ground normal +z
    const double albedo = srgbToLinear(kGroundSrgb[0] / 255.0);
    const double lit = 255 * linearToSrgb(albedo * (0.25 + to_light_z));
    const double dark = 255 * linearToSrgb(albedo * 0.25);
    ASSERT_GT(lit - dark, 30);
    for (Shape shape : {Shape::Cube, Shape::Sphere, Shape::Cylinder}) {
        SCOPED_TRACE(std::string(shapeName(shape)));
        Scene scene;
        scene.light.direction = {1, 0, -0.5};
        scene.objects.push_back(object(shape, Color::Red, Material::Rubber, 0.7, {0, 0, 0.7}));
        Image im = renderOk(*renderer, scene, 320, 240);
        // The ray from ground point (x, 0, 0) towards the light rises 0.5 per unit of -x: it passes the
        // object's centre height 0.7 at x = 1.4 (inside the shadow of every shape); it clears the cube's
        // and cylinder's top edge (x 0.7, z 1.4) from x = 0.7 + 2.8 = 3.5 on, and misses the sphere
        // (distance to its centre above 0.7) from x = 0.35 / (sqrt(1.25) - 1) = 2.97 on.
        EXPECT_NEAR(groundPatch(im, scene.camera, {1.4, 0, 0}), dark, 4);
        EXPECT_NEAR(groundPatch(im, scene.camera, {1.4, -2.0, 0}), lit, 4); // beside the shadow
        EXPECT_NEAR(groundPatch(im, scene.camera, {4.5, 0, 0}), lit, 4);    // beyond it
        // Without the object, the shadowed spot is lit.
        scene.objects.clear();
        Image empty = renderOk(*renderer, scene, 320, 240);
        EXPECT_NEAR(groundPatch(empty, scene.camera, {1.4, 0, 0}), lit, 4);
    }
}

// One object in another's shadow loses its diffuse light; moved out of it, it has it back.
TEST(VulkanRenderer, ObjectsShadowEachOther) {
    VULKAN_OR_SKIP(renderer, 4);
    Scene scene;
    scene.camera.position = {0, -8, 8};
    scene.camera.look_at = {1.5, 0, 0.5};
    scene.light.direction = {1, 0, -0.2};
    scene.objects.push_back(object(Shape::Cube, Color::Gray, Material::Rubber, 1.0, {-1, 0, 1.0}));
    scene.objects.push_back(object(Shape::Cube, Color::Yellow, Material::Rubber, 0.3, {3, 0, 0.3}));
    // The small cube's face towards the camera (-y) gets no Lambert light from a light along +x, so
    // compare its top face: lit from above (to_light z > 0) unless the big cube blocks the light.
    const Vec3 top = {3, 0, 0.6};
    Image shaded = renderOk(*renderer, scene, 320, 240);
    scene.objects[1].position = {3, 3, 0.3}; // out of the shadow (the big cube spans |y| <= 1)
    Image free = renderOk(*renderer, scene, 320, 240);
    const Vec3 top_free = {3, 3, 0.6};
    const double in_shadow = groundPatch(shaded, scene.camera, top),
                 in_light = groundPatch(free, scene.camera, top_free);
    EXPECT_GT(in_light - in_shadow, 15) << in_shadow << " vs " << in_light;
}

} // namespace
} // namespace tessera::renderers
