// The one place that names the renderer backends.
#include "null/null_renderer.h"
#include "tessera/renderers/renderer.h"

namespace tessera::renderers {

std::vector<std::string> rendererNames() { return {"null"}; }

RendererResult createRenderer(std::string_view name) {
    RendererResult result;
    if (name == "null") {
        result.renderer = makeNullRenderer();
        return result;
    }
    result.error = "unknown renderer '" + std::string(name.substr(0, 40)) + "' (available: null)";
    return result;
}

} // namespace tessera::renderers
