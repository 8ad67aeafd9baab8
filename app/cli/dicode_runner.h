// `tessera-cli generate-video` for DiCoDe folders: runs the DiCoDe pipeline, writes the frames, the
// keyframe strips, the recipe and an MP4 carrying it, stores the run in a project, replays a recipe.
#pragma once

#include "tessera/engine/dicode_pipeline.h"

#include <optional>
#include <string>

namespace tessera::cli {

struct DicodeCliRun {
    std::string model;       // DiCoDe folder
    std::string out;         // output folder
    std::string video_path;  // MP4/WebM/GIF/WebP to write; empty: <out>/video.mp4
    std::string project_dir; // empty: no project
    std::string backend_name = "cpu";
    int threads = 0;
    bool json = false;
    DicodeRequest request;
    std::optional<DicodeRecipe> replay; // set: check the frames against it
};

// Returns the process exit code (0 ok, 1 failure or a replay that differs). Messages go to stderr.
int runDicodeVideo(const DicodeCliRun& run);

// `bench dicode`: the same request twice on the CPU backend, with and without previews; prints one JSON
// line with ms per LLM keyframe, ms per DDIM step (U-Net passes, guidance, VAE decode of the clip
// spread over its steps) and the preview overhead of the first run over the second.
struct DicodeBenchOptions {
    std::string model; // a DiCoDe folder
    int64_t keyframes = 3;
    int64_t ddim_steps = 5;
    int threads = 0;
    uint64_t seed = 1;
};
int benchDicode(const DicodeBenchOptions& options);

} // namespace tessera::cli
