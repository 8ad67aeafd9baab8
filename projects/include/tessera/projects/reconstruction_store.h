// Storing an image → scene reconstruction (IG-LLM) in a project, shared by `tessera-cli reconstruct
// --project` and the studio's Generate > Reconstruct scene from image…: a `reconstruct` job is recorded
// first (so a failure later is remembered as a failed job); on success the input image and the render
// become assets, the program a scene, and a generation of kind "scene" (its media: the render) puts the
// reconstruction in the history; the job's result names all four.
//
// Threads: like Project, one thread at a time; the studio uses it on its reconstruction worker. Failure:
// Status/Result with a message, never an exception.
#pragma once

#include "tessera/projects/project.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::projects {

struct StoredReconstruction {
    int64_t job = 0, scene = 0, image_asset = 0, render_asset = 0, generation = 0;
};

class ReconstructionWriter {
public:
    // Opens the project at `dir` (creating it when it has no project.db) and records the job as running.
    Status open(const std::string& dir, const nlohmann::json& params);
    bool active() const { return project_ != nullptr; }
    // Marks the job failed with `why` (no-op when not open).
    void fail(const std::string& why);
    // `name`: the input's name (the scene's name, and the history's "prompt" says it); `image_png` and
    // `render_png`: PNG bytes; `scene_json`: the parsed program as scene JSON; `result`: extra fields for
    // the job's result (tokens, renderer, …), to which the stored ids are added.
    Result<StoredReconstruction> finish(const std::vector<uint8_t>& image_png,
                                        const std::vector<uint8_t>& render_png, const std::string& name,
                                        const std::string& program, const std::string& scene_json,
                                        nlohmann::json result);

private:
    std::unique_ptr<Project> project_;
    StoredReconstruction stored_;
    nlohmann::json params_;
};

} // namespace tessera::projects
