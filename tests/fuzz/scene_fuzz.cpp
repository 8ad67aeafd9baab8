// Fuzz target: arbitrary bytes as a scene program and as scene JSON. A valid input must round-trip
// (program -> scene -> program -> scene, and through JSON) to the same scene; anything else must come back
// as an error, never a crash or an exception.
#include "tessera/renderers/scene.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace tessera::renderers;

namespace {

void requireRoundTrip(const Scene& scene) {
    auto program = parseSceneProgram(writeSceneProgram(scene));
    if (!program.ok || !(program.scene == scene)) std::abort();
    auto json = parseSceneJson(writeSceneJson(scene));
    if (!json.ok || !(json.scene == scene)) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto program = parseSceneProgram(text);
    if (program.ok) requireRoundTrip(program.scene);
    else if (program.error.empty()) std::abort();
    auto json = parseSceneJson(text);
    if (json.ok) requireRoundTrip(json.scene);
    else if (json.error.empty()) std::abort();
    return 0;
}
