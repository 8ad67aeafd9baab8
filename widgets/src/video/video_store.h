// A video generation in a project (tessera::projects): the MP4 (with the recipe in its metadata) and
// the thumbnail strip it is stored with, and the clip read back from them. Runs on the project's
// worker thread (never the GUI thread): it encodes and decodes video.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/projects/project.h"
#include "tessera/widgets/generation.h"

#include <memory>

namespace tessera::widgets {

// The MP4 and the strip PNG of a clip, ready for Project::addVideoGeneration.
Status videoPayloads(const VideoClip& clip, projects::MediaPayload& video, projects::MediaPayload& strip);

// The clip of a stored video generation: frames decoded from its video file (so an MP4's, not the
// original pixels), codes from its token stream, shape and fps from its parameters. Null when the
// record is not a video or its file cannot be read.
std::shared_ptr<VideoClip> storedClip(projects::Project& project, const projects::GenerationRecord& record);

} // namespace tessera::widgets
