#include "tessera/renderers/renderer.h"

#include <cstdlib>
#include <gtest/gtest.h>

using namespace tessera::renderers;

TEST(NullRenderer, ReturnsAnImageOfTheRequestedSize) {
    auto created = createRenderer("null");
    ASSERT_TRUE(created.renderer) << created.error;
    EXPECT_EQ(created.renderer->name(), "null");
    Scene scene;
    scene.objects.push_back(SceneObject{});
    auto r = created.renderer->render(scene, 7, 5);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.width, 7);
    EXPECT_EQ(r.image.height, 5);
    EXPECT_EQ(r.image.rgb.size(), 7u * 5u * 3u);
}

TEST(NullRenderer, BadSizeIsAnError) {
    auto created = createRenderer("null");
    ASSERT_TRUE(created.renderer);
    for (auto [w, h] : {std::pair{0, 10}, std::pair{10, -1}, std::pair{kMaxImageSide + 1, 1}}) {
        auto r = created.renderer->render(Scene{}, w, h);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("outside"), std::string::npos) << r.error;
    }
}

TEST(RendererRegistry, UnknownNameIsAnError) {
    auto created = createRenderer("raytracer");
    EXPECT_FALSE(created.renderer);
    EXPECT_NE(created.error.find("unknown renderer 'raytracer'"), std::string::npos);
    EXPECT_EQ(rendererNames(), (std::vector<std::string>{"vulkan", "null"}));
}

// createRendererOrNull: other names as createRenderer gives them, no fallback; "vulkan" without a driver
// (the Vulkan loader pointed at a driver list that does not exist) falls back to the null renderer and
// says why. This test's process creates no other Vulkan instance.
TEST(RendererRegistry, OrNullFallsBackOnlyFromVulkan) {
    std::string fallback = "stale";
    auto null = createRendererOrNull("null", fallback);
    ASSERT_TRUE(null.renderer);
    EXPECT_EQ(null.renderer->name(), "null");
    EXPECT_TRUE(fallback.empty());
    auto unknown = createRendererOrNull("raytracer", fallback);
    EXPECT_FALSE(unknown.renderer);
    EXPECT_NE(unknown.error.find("unknown renderer 'raytracer'"), std::string::npos);
    EXPECT_TRUE(fallback.empty());

    ::setenv("VK_ICD_FILENAMES", "/nonexistent/tessera_no_driver.json", 1);
    ::setenv("VK_DRIVER_FILES", "/nonexistent/tessera_no_driver.json", 1);
    auto vulkan = createRendererOrNull("vulkan", fallback);
    ASSERT_TRUE(vulkan.renderer);
    EXPECT_EQ(vulkan.renderer->name(), "null");
    EXPECT_FALSE(fallback.empty());
    EXPECT_TRUE(createRenderer("vulkan").error == fallback) << fallback;
    ::unsetenv("VK_ICD_FILENAMES");
    ::unsetenv("VK_DRIVER_FILES");
}
