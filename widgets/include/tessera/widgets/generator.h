// Generator: what the studio needs from a loaded model, kept behind a small interface so that
// controllers can be driven by the real Janus pipeline or by a synthetic job in tests.
//
// Thread affinity: makeJob() and describe() are called on the GUI thread; the returned JobFn and
// decode() run on a scheduler worker, one at a time per generator (the scheduler's CPU worker).
#pragma once

#include "tessera/engine/image.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/status.h"
#include "tessera/widgets/generation.h"

#include <QString>
#include <cstdint>
#include <memory>
#include <vector>

namespace tessera::widgets {

struct GenerationRequest {
    GenerationSettings settings;
    // Tokens taken as given, in decode order (a branch or a re-run of a stored stream).
    std::vector<int32_t> forced;
};

struct GeneratorInfo {
    QString name;   // shown in the window title and the model manager
    QString family; // "janus", …
    QString note;   // a plain warning, e.g. that the weights are an untrained smoke-test model
    int rows = 0, cols = 0;
    int codebook = 0;
    size_t weight_bytes = 0;
    bool video = false; // its jobs make videos (VideoGenerator, video_generator.h); rows × cols is one latent frame
    // A model plus an EAR delta (docs/EAR.md): the delta file applied to the model and its sha256; the
    // studio records both in every generation's settings (GenerationSettings::overlay). Empty: none.
    QString overlay_path, overlay_sha256;
};

class Generator {
public:
    virtual ~Generator() = default;
    virtual GeneratorInfo info() const = 0;
    // The job that runs one generation and emits TokenSampled/PreviewReady/StepTiming through its
    // context. It must check ctx.cancelled() between steps.
    virtual JobFn makeJob(const GenerationRequest& request) = 0;
    // Decodes a full or partial grid (raster order, -1 = missing). Runs on a worker.
    virtual Expected<ImageRgb8> decode(const std::vector<int32_t>& tokens) = 0;
    // CPU threads the engine uses from its next op on (0 = all), also while a job runs; the studio
    // leaves a core to the GUI while its window is in front. Results never depend on it. Any thread.
    virtual void setEngineThreads(int threads) { (void)threads; }
    // (active, available) engine threads; (0, 0) where the generator has no CPU threads.
    virtual std::pair<int, int> engineThreads() const { return {0, 0}; }
};

} // namespace tessera::widgets
