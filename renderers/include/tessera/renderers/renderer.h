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

// The look every pixel-drawing backend shares: the sky is the clear colour; the ground is a matte
// plane lit like any rubber object (ambient + Lambert), with this albedo. Both sRGB bytes.
inline constexpr std::uint8_t kSkySrgb[3] = {196, 210, 226};
inline constexpr std::uint8_t kGroundSrgb[3] = {128, 128, 128};
// The eight named colours of docs/scene-programs.md, sRGB bytes, in the order of enum Color.
inline constexpr std::uint8_t kColorSrgb[8][3] = {{87, 87, 87},   {173, 35, 35}, {42, 75, 215},
                                                  {29, 105, 20},  {129, 74, 25}, {129, 38, 192},
                                                  {41, 208, 208}, {255, 238, 51}};

// Chosen when a renderer is created (a backend without pixels ignores what it cannot use).
struct RendererOptions {
    int samples = 4; // MSAA samples per pixel: 1 (off), 2, 4 or 8, as the device supports
};

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
// Fails (renderer null, `error` set) for an unknown name, unsupported options, or a backend whose
// device cannot start (for Vulkan: no driver, no Vulkan 1.2 device, out of memory).
RendererResult createRenderer(std::string_view name, const RendererOptions& options = {});
// createRenderer, except that "vulkan" without a usable device gives the null renderer (scenes then
// draw blank) and `fallback` says why; `fallback` is left empty when `name` itself was created.
RendererResult createRendererOrNull(std::string_view name, std::string& fallback,
                                    const RendererOptions& options = {});

} // namespace tessera::renderers
