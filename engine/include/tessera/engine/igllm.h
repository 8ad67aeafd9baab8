// IG-LLM inverse graphics: an image in, a scene program out (docs/scene-programs.md), from a LLaVA
// checkpoint with a float head. The program streams token by token; wherever the model samples
// `[NUM]`, the float head turns the hidden state that chose it into the number spliced into the text,
// and the `[NUM]` embedding is what the model reads back. Parsing the program into a scene is the
// caller's business (renderers/ owns the grammar; the engine does not depend on it).
//
// Threads: a pipeline is used by one thread at a time (the job's worker). Errors come back as values.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/image.h"
#include "tessera/engine/janus.h" // SamplerSettings
#include "tessera/engine/scheduler.h"
#include "tessera/engine/status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tessera {

// One piece of program text, emitted as soon as it is known (on the job's worker thread; the sink
// must be quick and must not block, like any event sink).
struct ProgramPiece {
    int64_t job_id = 0;
    int position = 0;  // index of the generated token (0 = first after the prompt)
    int32_t token = 0; // the sampled id (the `[NUM]` id for numbers)
    std::string text;  // appended to the program (may be empty while a multi-byte token is pending)
    bool is_number = false;
    float value = 0; // the float head's output when is_number
};

struct IgllmRequest {
    ImageRgb8 image; // any size; padded to a square with the CLIP mean colour and resized
    // Text after the image placeholders (tokenized without special tokens).
    std::string prompt = "Describe the scene as a program.";
    uint64_t seed = 0;
    SamplerSettings sampler{/*temperature=*/1.0f, /*top_k=*/0, /*top_p=*/1.0f, /*min_p=*/0.0f, /*cfg=*/1.0f};
    int max_new_tokens = 1024;
    // Restrict sampling to well-formed object statements (`object shape colour material size [NUM]
    // position [NUM] [NUM] [NUM] rotation [NUM]` + newline, with the position cells where the model
    // puts them when the vocabulary has them; as many as fit, then end of text). Used
    // only when the vocabulary holds each grammar word as one token and the model has a float head
    // (IgllmInfo::grammar_constraint); ignored otherwise.
    bool constrain_to_grammar = true;
    std::function<void(const ProgramPiece&)> on_piece; // optional
};

struct IgllmResult {
    std::string program;
    std::vector<int32_t> tokens; // generated ids (`[NUM]` where a number went)
    std::vector<float> numbers;  // the float head's values, in order
    bool cancelled = false;
    bool finished = false;    // ended on the end-of-text token
    bool constrained = false; // the grammar constraint was applied
    int prompt_tokens = 0;
    double prefill_ms = 0, generate_ms = 0;
};

struct IgllmInfo {
    std::string dir;
    std::string float_head; // "none", "linear", "tanh_mlp_gelu"
    int image_size = 0;     // the vision tower's input side
    int image_tokens = 0;   // placeholders per image
    int32_t num_token = -1; // `[NUM]`, -1 when the vocabulary has none
    int32_t eos_token = -1;
    bool grammar_constraint = false;
    size_t weight_bytes = 0;
    int64_t context = 0;
};

class IgllmPipeline {
public:
    // Loads a LLaVA checkpoint folder (config.json, safetensors, tokenizer.json). A float head needs a
    // `[NUM]` token in the vocabulary; its absence is an error.
    static Expected<std::unique_ptr<IgllmPipeline>> load(const std::string& dir, Backend& backend);
    ~IgllmPipeline();

    const IgllmInfo& info() const { return info_; }
    // Runs one reconstruction. Emits TokenSampled per generated token through ctx and ProgramPiece
    // through request.on_piece; stops within one token when ctx is cancelled (partial result, cancelled
    // = true). The same request and seed give the same program.
    Expected<IgllmResult> reconstruct(const IgllmRequest& request, JobContext& ctx);

private:
    IgllmPipeline() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    IgllmInfo info_;
};

// The number as it goes into the program text: the shortest decimal that reads back to the same
// float. Non-finite values give an empty string (the caller reports them).
std::string formatProgramNumber(float value);

// The word-level tokenizer.json of IG-LLM folders Tessera writes (whitespace split, unknown "<unk>"):
// ids 0..5 are "<unk>", "<s>", "</s>", "<image>", "[NUM]" and the newline, then `words` in order.
// "[NUM]" and the newline are program text that decoding keeps; the other four are control tokens.
inline constexpr int64_t kIgllmWordTokenizerSpecials = 6;
std::string igllmWordTokenizerJson(const std::vector<std::string>& words);

// Position cells: a vocabulary may hold the words `x0`..`x11` and `y0`..`y11`, the half-unit bins of
// a ground coordinate from -3 to 3 (clamped at both ends). A model with them writes each position as
// `position xI [NUM] yJ [NUM] [NUM]`: it first classifies the cell, which it reads back, and the float
// head then places the object within it. The cell words guide decoding and are not program text:
// IgllmPipeline streams them as tokens but leaves them out of the program (docs/RECONSTRUCT.md).
inline constexpr int kIgllmPositionCells = 12;
inline constexpr float kIgllmPositionLow = -3.0f, kIgllmPositionCellWidth = 0.5f;
int igllmPositionCell(float coordinate);        // 0..kIgllmPositionCells-1
std::string igllmCellWord(char axis, int cell); // axis 'x' or 'y': "x0" .. "y11"
std::vector<std::string> igllmCellWords();      // x0..x11 then y0..y11
// Where the cells go: config.json's "position_cells" is "first" for a model that names both cells
// right after `object` (`object xI yJ cube red ... position [NUM] [NUM] [NUM] ...`), so it says where
// an object is before what it is; absent or "in_position" for the layout above.
inline constexpr const char* kIgllmCellsKey = "position_cells";
inline constexpr const char* kIgllmCellsFirst = "first";
// Reads that key of a config.json: true for "first", false when absent or "in_position", an error
// naming the value otherwise.
Expected<bool> igllmCellsFirst(const nlohmann::json& config);

// A tiny random IG-LLM checkpoint for tests and smoke runs: a LLaVA (CLIP tower, projector, Llama LM)
// with random weights, a word-level tokenizer whose vocabulary is the scene grammar's words plus
// `[NUM]`, and a float head of `float_head` type ("linear" or "tanh_mlp_gelu") whose outputs lie near
// 0.5, so every number it writes is a valid size, coordinate and angle. Deterministic for a given seed.
Status writeRandomIgllmCheckpoint(const std::string& dir, const std::string& float_head = "tanh_mlp_gelu",
                                  uint64_t seed = 1);

} // namespace tessera
