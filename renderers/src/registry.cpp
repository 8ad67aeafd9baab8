// The one place that names the renderer backends.
#include "null/null_renderer.h"
#include "tessera/renderers/renderer.h"
#include "vulkan/vulkan_renderer.h"

namespace tessera::renderers {

std::vector<std::string> rendererNames() {
    return {"vulkan", "null"};
}

RendererResult createRenderer(std::string_view name, const RendererOptions& options) {
    RendererResult result;
    if (name == "null") {
        result.renderer = makeNullRenderer();
        return result;
    }
    if (name == "vulkan") return makeVulkanRenderer(options);
    result.error = "unknown renderer '" + std::string(name.substr(0, 40)) + "' (available: vulkan, null)";
    return result;
}

RendererResult createRendererOrNull(std::string_view name, std::string& fallback,
                                    const RendererOptions& options) {
    fallback.clear();
    RendererResult result = createRenderer(name, options);
    if (result.renderer || name != "vulkan") return result;
    fallback = result.error;
    return createRenderer("null", options);
}

} // namespace tessera::renderers
