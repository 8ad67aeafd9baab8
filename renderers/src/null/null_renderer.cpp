#include "null/null_renderer.h"

namespace tessera::renderers {
namespace {

class NullRenderer final : public Renderer {
public:
    std::string_view name() const override { return "null"; }
    std::string device() const override { return "none"; }
    RenderResult render(const Scene& scene, int width, int height) override {
        RenderResult result;
        if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide) {
            result.error = "image size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is outside 1.." + std::to_string(kMaxImageSide);
            return result;
        }
        if (scene.objects.size() > kMaxObjects) {
            result.error = "scene has more than " + std::to_string(kMaxObjects) + " objects";
            return result;
        }
        result.image.width = width;
        result.image.height = height;
        result.image.rgb.assign(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3, 0);
        result.ok = true;
        return result;
    }
};

} // namespace

std::unique_ptr<Renderer> makeNullRenderer() { return std::make_unique<NullRenderer>(); }

} // namespace tessera::renderers
