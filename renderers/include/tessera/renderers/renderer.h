// The interface every scene renderer backend implements, and the registry that creates them.
// A Renderer is used from one thread at a time; different instances are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/renderers/scene.h"

namespace tessera::renderers {

inline constexpr int kMaxImageSide = 8192;

// Tightly packed RGB8, rows top to bottom.
struct Image {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;
};

struct RenderResult {
    bool ok = false;
    Image image;
    std::string error; // set when !ok: bad size, invalid scene, device failure
};

class Renderer {
public:
    virtual ~Renderer() = default;
    virtual std::string_view name() const = 0;
    // The device the renderer draws on, in words ("none" for the null renderer).
    virtual std::string device() const = 0;
    // Draws `scene` at width x height (1..kMaxImageSide each). Never throws, never aborts.
    virtual RenderResult render(const Scene& scene, int width, int height) = 0;
};

struct RendererResult {
    std::unique_ptr<Renderer> renderer; // null on failure
    std::string error;
};

// The backends this build has, by name (the registry lives in src/registry.cpp).
std::vector<std::string> rendererNames();
RendererResult createRenderer(std::string_view name);

} // namespace tessera::renderers
