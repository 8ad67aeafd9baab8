// SPIR-V of renderers/shaders/*, compiled by glslc at build time and embedded by embed_spirv.cmake.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::renderers::spirv {

extern const std::uint32_t kSceneVert[];
extern const std::size_t kSceneVertWords;
extern const std::uint32_t kSceneFrag[];
extern const std::size_t kSceneFragWords;

} // namespace tessera::renderers::spirv
