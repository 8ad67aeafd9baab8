// The null renderer: checks its inputs like a real backend and returns a blank image, without a device.
#pragma once

#include <memory>

#include "tessera/renderers/renderer.h"

namespace tessera::renderers {

std::unique_ptr<Renderer> makeNullRenderer();

} // namespace tessera::renderers
