// The Vulkan offscreen renderer: a Renderer drawing scenes on the best Vulkan 1.2 device (a discrete
// GPU when present, else an integrated or virtual one, else the CPU through Mesa's lavapipe).
#pragma once

#include "tessera/renderers/renderer.h"

namespace tessera::renderers {

// Starts the device and builds the pipeline; fails with a message (never aborts) when there is no
// Vulkan driver or device, the sample count is unsupported, or memory runs out.
RendererResult makeVulkanRenderer(const RendererOptions& options);

} // namespace tessera::renderers
