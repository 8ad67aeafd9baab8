#include <gtest/gtest.h>

#include "tessera/renderers/renderer.h"

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
