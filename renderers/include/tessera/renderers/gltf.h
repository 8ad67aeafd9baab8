// glTF 2.0 export of a scene: one self-contained .gltf file (JSON with the geometry in an embedded
// base64 buffer) that any glTF viewer reads.
//
// What goes in: the unit meshes of the shapes the scene uses (scene/scene_meshes.h), one node per
// object (translation, rotation about the vertical, uniform scale = size), one PBR material per colour
// and material pair (metal: metallic 1, roughness 0.25; rubber: metallic 0, roughness 0.9; base colour
// the named colour in linear light), a ground square, the scene's camera (perspective, yfov in radians)
// and its light (KHR_lights_punctual, directional). Tessera's world is z up; glTF's is y up, so every
// node hangs under one root node turning z up into y up (-90 degrees about x).
// Pure and thread-safe; never throws.
#pragma once

#include "tessera/renderers/scene.h"

#include <string>

namespace tessera::renderers {

struct GltfResult {
    bool ok = false;
    std::string json; // the .gltf file's text when ok
    std::string error;
};

// Fails only for a scene outside the limits of docs/scene-programs.md (as the parsers would refuse it).
GltfResult writeSceneGltf(const Scene& scene);

} // namespace tessera::renderers
