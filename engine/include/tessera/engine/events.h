// Events a running job emits. Delivered on the job's worker thread: sinks must be quick and must not
// block (the studio posts them to the GUI thread through queued connections).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace tessera {

enum class JobState { Queued, Running, Paused, Finished, Failed, Cancelled, Interrupted };
const char* jobStateName(JobState state);

// One token sampled: where, what, and how sure the model was.
struct TokenSampled {
    int64_t job_id = 0;
    int image = 0;      // index of the image in the batch
    int position = 0;   // index in decode order == raster cell for Janus
    int32_t token = 0;
    float probability = 0; // of the sampled token under the final (guided, tempered) distribution
    float entropy = 0;     // nats, of that distribution
    float guidance_kl = 0; // KL(guided || conditional): how far CFG moved the distribution
    int rank = 0;          // rank of the sampled token in that distribution (0 = most likely)
    int step = 0;          // the decode step (forward pass) that made the cell final; speculative
                           // decoding makes several cells final in one step
    bool accepted_draft = false; // speculative decoding: the token was a draft that passed the test
    std::vector<int32_t> top_ids; // top-k alternatives, most likely first
    std::vector<float> top_probs;
};

// A decoded picture of the partially (or fully) filled grid.
struct PreviewReady {
    int64_t job_id = 0;
    int image = 0;
    int tokens_done = 0;
    int width = 0, height = 0;
    std::shared_ptr<const std::vector<uint8_t>> rgb; // width*height*3, row-major
    bool final = false;
    // A fast approximation (each cell painted with its code's fitted colour) rather than a decode.
    bool approximate = false;
};

struct StepTiming {
    int64_t job_id = 0;
    int step = 0, total = 0;
    double step_ms = 0;
    double tokens_per_s = 0;  // over the whole job so far, all images
    double first_preview_ms = -1;
    size_t kv_cache_bytes = 0, model_bytes = 0;
};

// A training job's progress: one per step, with the optimizer's decision when the step closed a window
// (EAR: windowed gradient accumulation with a loss threshold; plain training: every step updates).
struct TrainingProgress {
    int64_t job_id = 0;
    int64_t step = 0, total = 0;           // 1-based step over the whole run; total steps planned
    int64_t iteration = 0, iterations = 0; // 1-based outer iteration (EAR: one prompt pair's rollout)
    float loss = 0;
    bool window_closed = false; // the step ended an accumulation window: the fields below are set
    int64_t window = 0;         // 0-based window index over the whole run
    double window_loss = 0;     // the window's summed loss
    bool updated = false;       // true: an optimizer step; false: skipped (loss at or under the threshold)
};

struct JobStateChanged {
    int64_t job_id = 0;
    JobState state = JobState::Queued;
    std::string message; // error text for Failed
};

using Event = std::variant<TokenSampled, PreviewReady, StepTiming, JobStateChanged, TrainingProgress>;

} // namespace tessera
