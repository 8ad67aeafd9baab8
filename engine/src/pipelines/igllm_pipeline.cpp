// IG-LLM: image -> LLaVA with a float head -> scene program, streamed token by token.
//
// Sections: loading · image preprocessing · program text assembly · the grammar constraint · the
// decode loop.
#include "models/llava_model.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/platform.h"
#include "tessera/engine/sampler.h"
#include "tessera/engine/tokenizer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace tessera {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// CLIP's normalisation (LLaVA-1.5's image processor), used when the folder has no
// preprocessor_config.json saying otherwise.
constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

// The object statement, one grammar word per token (docs/scene-programs.md). Slot kinds:
enum class Slot { Object, Shape, Colour, Material, Size, Position, XCell, YCell, Rotation, Num, Newline };
const std::vector<Slot> kStatement = {
    Slot::Object, Slot::Shape, Slot::Colour, Slot::Material, Slot::Size, Slot::Num,    Slot::Position,
    Slot::Num,    Slot::Num,   Slot::Num,    Slot::Rotation, Slot::Num,  Slot::Newline};
// With the position cells (igllm.h): `position xI [NUM] yJ [NUM] [NUM]`.
const std::vector<Slot> kStatementWithCells = {Slot::Object,   Slot::Shape, Slot::Colour,   Slot::Material,
                                               Slot::Size,     Slot::Num,   Slot::Position, Slot::XCell,
                                               Slot::Num,      Slot::YCell, Slot::Num,      Slot::Num,
                                               Slot::Rotation, Slot::Num,   Slot::Newline};
// With the cells first (config.json "position_cells": "first"): `object xI yJ SHAPE ... position [NUM]
// [NUM] [NUM] ...`.
const std::vector<Slot> kStatementCellsFirst = {Slot::Object,   Slot::XCell,    Slot::YCell,  Slot::Shape,
                                                Slot::Colour,   Slot::Material, Slot::Size,   Slot::Num,
                                                Slot::Position, Slot::Num,      Slot::Num,    Slot::Num,
                                                Slot::Rotation, Slot::Num,      Slot::Newline};
constexpr int kMaxObjects = 64; // the grammar's limit
const char* const kShapes[] = {"cube", "sphere", "cylinder"};
const char* const kColours[] = {"gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"};
const char* const kMaterials[] = {"rubber", "metal"};

} // namespace

struct IgllmPipeline::Impl {
    Checkpoint ckpt;
    Tokenizer tokenizer;
    std::unique_ptr<LlavaModel> model;
    Backend* backend = nullptr;
    int32_t image_token = -1, bos = -1;
    float mean[3] = {kClipMean[0], kClipMean[1], kClipMean[2]};
    float std[3] = {kClipStd[0], kClipStd[1], kClipStd[2]};
    // Grammar words as token ids (valid when info.grammar_constraint).
    int32_t object = -1, size = -1, position = -1, rotation = -1, newline = -1;
    std::vector<int32_t> shapes, colours, materials;
    std::vector<int32_t> x_cells, y_cells; // empty when the vocabulary has no position cells
    const std::vector<Slot>* statement = &kStatement;
};

IgllmPipeline::~IgllmPipeline() = default;

// ---- loading -----------------------------------------------------------------------------------------

namespace {

// A grammar word as one token: the word itself, or as SentencePiece / byte-level BPE spell a word
// after a space. -1 when the vocabulary has none of them.
int32_t wordToken(const Tokenizer& tok, const std::string& word) {
    for (const std::string& w : {word, "\xE2\x96\x81" + word, "\xC4\xA0" + word})
        if (int32_t id = tok.tokenId(w); id >= 0) return id;
    return -1;
}

bool readNormalisation(const std::filesystem::path& file, float mean[3], float std_out[3],
                       std::string& error) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return true;
    try {
        std::ifstream in(file);
        const auto j = nlohmann::json::parse(in);
        for (const char* key : {"image_mean", "image_std"}) {
            if (!j.contains(key)) continue;
            const auto& v = j[key];
            if (!v.is_array() || v.size() != 3)
                throw std::runtime_error(std::string(key) + " is not 3 numbers");
            for (int c = 0; c < 3; ++c) {
                const float x = v[static_cast<size_t>(c)].get<float>();
                if (!std::isfinite(x) || (std::string(key) == "image_std" && x <= 0))
                    throw std::runtime_error(std::string(key) + " holds an unusable value");
                (std::string(key) == "image_mean" ? mean : std_out)[c] = x;
            }
        }
        return true;
    } catch (const std::exception& e) {
        error = file.string() + ": " + e.what();
        return false;
    }
}

} // namespace

Expected<std::unique_ptr<IgllmPipeline>> IgllmPipeline::load(const std::string& dir, Backend& backend) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    const auto& cfg = ckpt->config();
    if (cfg.architecture().find("Llava") == std::string::npos && cfg.modelType() != "llava")
        return Status::error(dir + " is not a LLaVA checkpoint (architecture '" + cfg.architecture() +
                             "', model_type '" + cfg.modelType() + "')");
    if (Status fits = requireMemoryFor(ckpt->totalBytes(), dir); !fits.ok()) return fits;
    auto tok = Tokenizer::load(dir);
    if (!tok) return Status::error(dir + ": " + tok.error());
    auto model = LlavaModel::load(*ckpt, backend);
    if (!model) return model.status();

    std::unique_ptr<IgllmPipeline> p(new IgllmPipeline());
    p->impl_ = std::make_unique<Impl>();
    Impl& im = *p->impl_;
    im.tokenizer = std::move(*tok);
    im.model = std::move(*model);
    im.backend = &backend;
    IgllmInfo& info = p->info_;
    info.dir = dir;
    info.float_head = floatHeadTypeName(im.model->floatHeadType());
    try {
        const auto& j = cfg.json();
        const auto& vc = j.at("vision_config");
        const int64_t size = vc.at("image_size").get<int64_t>(), patch = vc.at("patch_size").get<int64_t>();
        if (size <= 0 || patch <= 0 || size % patch != 0 || size > 4096)
            return Status::error(dir + ": config.json: vision_config image_size " + std::to_string(size) +
                                 " is not a positive multiple of patch_size " + std::to_string(patch));
        info.image_size = static_cast<int>(size);
        info.image_tokens = static_cast<int>((size / patch) * (size / patch));
        const auto& it = j.contains("image_token_index") ? j.at("image_token_index") : j.at("image_token_id");
        im.image_token = it.get<int32_t>();
    } catch (const std::exception& e) {
        return Status::error(
            dir +
            ": config.json: vision_config.image_size, patch_size or the image token is missing or "
            "not an integer (" +
            e.what() + ")");
    }
    std::string norm_error;
    if (!readNormalisation(std::filesystem::path(dir) / "preprocessor_config.json", im.mean, im.std,
                           norm_error))
        return Status::error(norm_error);
    const TransformerConfig& tc = im.model->lm().config();
    info.num_token = im.tokenizer.tokenId("[NUM]");
    if (im.model->floatHeadType() != FloatHeadType::None && info.num_token < 0)
        return Status::error(dir + ": the checkpoint has a float head but its vocabulary has no [NUM] token");
    if (info.num_token >= tc.vocab)
        return Status::error(dir + ": [NUM] is token " + std::to_string(info.num_token) +
                             ", outside the model's " + std::to_string(tc.vocab) + "-token vocabulary");
    info.eos_token = im.tokenizer.eosId() >= 0 ? im.tokenizer.eosId() : static_cast<int32_t>(tc.eos_id);
    im.bos = im.tokenizer.bosId() >= 0 ? im.tokenizer.bosId() : static_cast<int32_t>(tc.bos_id);
    info.weight_bytes = im.model->lm().weightBytes();
    info.context = tc.max_positions;

    im.object = wordToken(im.tokenizer, "object");
    im.size = wordToken(im.tokenizer, "size");
    im.position = wordToken(im.tokenizer, "position");
    im.rotation = wordToken(im.tokenizer, "rotation");
    for (const char* nl : {"\n", "<0x0A>", "\xC4\x8A"})
        if (im.newline < 0) im.newline = im.tokenizer.tokenId(nl);
    bool all = im.object >= 0 && im.size >= 0 && im.position >= 0 && im.rotation >= 0 && im.newline >= 0;
    for (const char* w : kShapes) all = all && (im.shapes.emplace_back(wordToken(im.tokenizer, w)) >= 0);
    for (const char* w : kColours) all = all && (im.colours.emplace_back(wordToken(im.tokenizer, w)) >= 0);
    for (const char* w : kMaterials)
        all = all && (im.materials.emplace_back(wordToken(im.tokenizer, w)) >= 0);
    auto first = igllmCellsFirst(cfg.json());
    if (!first) return Status::error(dir + ": " + first.error());
    if (wordToken(im.tokenizer, igllmCellWord('x', 0)) >= 0) {
        for (int i = 0; i < kIgllmPositionCells; ++i) {
            all = all && (im.x_cells.emplace_back(wordToken(im.tokenizer, igllmCellWord('x', i))) >= 0);
            all = all && (im.y_cells.emplace_back(wordToken(im.tokenizer, igllmCellWord('y', i))) >= 0);
        }
        im.statement = *first ? &kStatementCellsFirst : &kStatementWithCells;
    }
    info.grammar_constraint = all && info.num_token >= 0 && info.eos_token >= 0 &&
                              info.eos_token < tc.vocab && im.model->floatHeadType() != FloatHeadType::None;
    return p;
}

// ---- image preprocessing -----------------------------------------------------------------------------

namespace {

// LLaVA's "pad" aspect mode: the image centred on a square of the mean colour, then resized to the
// tower's side (bilinear, pixel centres aligned; the official processor resizes with PIL's bicubic,
// so pixels differ slightly) and normalised. Returns [3, S, S] values, channel-major.
std::vector<float> preprocess(const ImageRgb8& img, int side, const float mean[3], const float std_dev[3]) {
    const int sq = std::max(img.width, img.height);
    const int ox = (sq - img.width) / 2, oy = (sq - img.height) / 2;
    uint8_t fill[3];
    for (int c = 0; c < 3; ++c)
        fill[c] = static_cast<uint8_t>(std::clamp(static_cast<int>(mean[c] * 255.0f), 0, 255));
    auto at = [&](int x, int y, int c) -> float {
        x -= ox;
        y -= oy;
        if (x < 0 || y < 0 || x >= img.width || y >= img.height) return fill[c];
        return img
            .rgb[(static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x)) * 3 +
                 static_cast<size_t>(c)];
    };
    std::vector<float> out(static_cast<size_t>(3) * static_cast<size_t>(side) * static_cast<size_t>(side));
    const float scale = static_cast<float>(sq) / static_cast<float>(side);
    for (int y = 0; y < side; ++y) {
        const float sy =
            std::clamp((static_cast<float>(y) + 0.5f) * scale - 0.5f, 0.0f, static_cast<float>(sq - 1));
        const int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, sq - 1);
        const float fy = sy - static_cast<float>(y0);
        for (int x = 0; x < side; ++x) {
            const float sx =
                std::clamp((static_cast<float>(x) + 0.5f) * scale - 0.5f, 0.0f, static_cast<float>(sq - 1));
            const int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, sq - 1);
            const float fx = sx - static_cast<float>(x0);
            for (int c = 0; c < 3; ++c) {
                const float v = (1 - fy) * ((1 - fx) * at(x0, y0, c) + fx * at(x1, y0, c)) +
                                fy * ((1 - fx) * at(x0, y1, c) + fx * at(x1, y1, c));
                out[(static_cast<size_t>(c) * static_cast<size_t>(side) + static_cast<size_t>(y)) *
                        static_cast<size_t>(side) +
                    static_cast<size_t>(x)] = (v / 255.0f - mean[c]) / std_dev[c];
            }
        }
    }
    return out;
}

// ---- program text assembly -----------------------------------------------------------------------------

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The program is text segments (the tokens between two `[NUM]`s, decoded together so that multi-token
// words and byte tokens come out right) joined by the numbers. A number always stands apart from the
// words around it: the grammar separates tokens by spaces, and decoders strip a segment's leading space.
class ProgramText {
public:
    explicit ProgramText(const Tokenizer& tok) : tok_(tok) {}

    // Returns the text appended to the program.
    std::string addToken(int32_t id) {
        segment_.push_back(id);
        const std::string before = rendered();
        segment_text_ = tok_.decode(segment_);
        const std::string after = rendered();
        // Decoders only append as tokens arrive, except where a pending byte sequence completes; then
        // the common prefix is what stays.
        size_t common = 0;
        while (common < before.size() && common < after.size() && before[common] == after[common]) ++common;
        return after.substr(std::min(common, after.size()));
    }
    std::string addNumber(const std::string& number) {
        std::string piece = rendered();
        const std::string lead = piece.empty() || isSpace(piece.back()) ? "" : " ";
        committed_ = piece + lead + number;
        segment_.clear();
        segment_text_.clear();
        after_number_ = true;
        return lead + number;
    }
    std::string text() const { return rendered(); }

private:
    // A word-level decoder joins tokens with spaces, so a statement after a newline would start with
    // one; every line starts at its keyword instead.
    std::string rendered() const {
        const bool gap = after_number_ && !segment_text_.empty() && !isSpace(segment_text_.front());
        std::string text = committed_ + (gap ? " " : "") + segment_text_;
        size_t out = 0;
        for (size_t i = 0; i < text.size(); ++i)
            if (!(text[i] == ' ' && out > 0 && text[out - 1] == '\n')) text[out++] = text[i];
        text.resize(out);
        return text;
    }
    const Tokenizer& tok_;
    std::vector<int32_t> segment_;
    std::string segment_text_, committed_;
    bool after_number_ = false;
};

} // namespace

std::string formatProgramNumber(float value) {
    if (!std::isfinite(value)) return {};
    char buf[48];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

// ---- the decode loop -----------------------------------------------------------------------------------

Expected<IgllmResult> IgllmPipeline::reconstruct(const IgllmRequest& req, JobContext& ctx) {
    Impl& im = *impl_;
    Backend& be = *im.backend;
    if (req.image.width <= 0 || req.image.height <= 0 ||
        req.image.rgb.size() !=
            static_cast<size_t>(req.image.width) * static_cast<size_t>(req.image.height) * 3)
        return Status::error("the input image is empty or its pixel buffer does not match its size");
    if (req.max_new_tokens <= 0) return Status::error("max_new_tokens must be positive");
    auto prompt_ids = im.tokenizer.tryEncode(req.prompt, SpecialTokens::kNone);
    if (!prompt_ids) return prompt_ids.status();
    std::vector<int64_t> ids;
    if (im.bos >= 0) ids.push_back(im.bos);
    ids.insert(ids.end(), static_cast<size_t>(info_.image_tokens), im.image_token);
    ids.insert(ids.end(), prompt_ids->begin(), prompt_ids->end());
    const int64_t prompt_len = static_cast<int64_t>(ids.size());
    const int64_t capacity = prompt_len + req.max_new_tokens;
    if (info_.context > 0 && capacity > info_.context)
        return Status::error("the prompt (" + std::to_string(prompt_len) + " tokens) and max_new_tokens (" +
                             std::to_string(req.max_new_tokens) + ") exceed the model's context of " +
                             std::to_string(info_.context) + " positions");
    IgllmResult res;
    res.prompt_tokens = static_cast<int>(prompt_len);
    res.constrained = req.constrain_to_grammar && info_.grammar_constraint;
    const bool head = im.model->floatHeadType() != FloatHeadType::None;
    try {
        const auto t0 = Clock::now();
        CausalLM& lm = im.model->lm();
        const int64_t vocab = lm.config().vocab;
        const int side = info_.image_size;
        Tensor pixels = be.fromF32(preprocess(req.image, side, im.mean, im.std), {1, 3, side, side});
        KvCache cache = lm.newCache(1, capacity);
        Tensor hidden = lm.forward(im.model->inputEmbeds(be.fromI64(ids, {1, prompt_len}), pixels), cache);
        Tensor last = be.slice(hidden, 1, prompt_len - 1, prompt_len);
        res.prefill_ms = msSince(t0);
        const auto t1 = Clock::now();

        ProgramText text(im.tokenizer);
        const std::vector<Slot>& statement = *im.statement;
        const int statement_tokens = static_cast<int>(statement.size());
        auto isCell = [&](int32_t id) {
            return std::find(im.x_cells.begin(), im.x_cells.end(), id) != im.x_cells.end() ||
                   std::find(im.y_cells.begin(), im.y_cells.end(), id) != im.y_cells.end();
        };
        int slot = 0, objects = 0; // the constraint's place in the object statement
        std::vector<float> logits;
        std::vector<uint8_t> allowed;
        for (int pos = 0; pos < req.max_new_tokens; ++pos) {
            if (ctx.cancelled()) {
                res.cancelled = true;
                break;
            }
            logits = be.readF32(lm.logits(last));
            if (static_cast<int64_t>(logits.size()) != vocab)
                throw Error("logits do not cover the vocabulary");
            if (res.constrained) {
                allowed.assign(static_cast<size_t>(vocab), 0);
                auto allow = [&](int32_t id) { allowed[static_cast<size_t>(id)] = 1; };
                switch (statement[static_cast<size_t>(slot)]) {
                case Slot::Object: {
                    allow(info_.eos_token);
                    // A statement is started only when it and the end-of-text token still fit.
                    if (objects < kMaxObjects && req.max_new_tokens - pos >= statement_tokens + 1)
                        allow(im.object);
                    break;
                }
                case Slot::Shape:
                    for (int32_t id : im.shapes) allow(id);
                    break;
                case Slot::Colour:
                    for (int32_t id : im.colours) allow(id);
                    break;
                case Slot::Material:
                    for (int32_t id : im.materials) allow(id);
                    break;
                case Slot::Size:
                    allow(im.size);
                    break;
                case Slot::Position:
                    allow(im.position);
                    break;
                case Slot::XCell:
                    for (int32_t id : im.x_cells) allow(id);
                    break;
                case Slot::YCell:
                    for (int32_t id : im.y_cells) allow(id);
                    break;
                case Slot::Rotation:
                    allow(im.rotation);
                    break;
                case Slot::Num:
                    allow(info_.num_token);
                    break;
                case Slot::Newline:
                    allow(im.newline);
                    break;
                }
                for (int64_t v = 0; v < vocab; ++v)
                    if (!allowed[static_cast<size_t>(v)]) logits[static_cast<size_t>(v)] = -INFINITY;
            }
            const TokenChoice c = sampleToken(logits.data(), vocab, req.sampler,
                                              Philox::uniform(req.seed, 0, static_cast<uint64_t>(pos)), 5);
            TokenSampled ev;
            ev.job_id = ctx.id();
            ev.position = pos;
            ev.token = c.token;
            ev.probability = c.probability;
            ev.entropy = c.entropy;
            ev.rank = c.rank;
            ev.top_ids = c.top_ids;
            ev.top_probs = c.top_probs;
            ctx.emit(ev);
            res.tokens.push_back(c.token);
            if (c.token == info_.eos_token) {
                res.finished = true;
                break;
            }
            ProgramPiece piece;
            piece.job_id = ctx.id();
            piece.position = pos;
            piece.token = c.token;
            if (head && c.token == info_.num_token) {
                // The hidden state that chose [NUM] regresses its value.
                const float value = im.model->floatValues(last).at(0);
                const std::string number = formatProgramNumber(value);
                if (number.empty())
                    return Status::error("the float head gave a non-finite value at generated token " +
                                         std::to_string(pos));
                res.numbers.push_back(value);
                piece.is_number = true;
                piece.value = value;
                piece.text = text.addNumber(number);
            } else if (!isCell(c.token)) {
                piece.text = text.addToken(c.token);
            } // a position cell guides decoding and is not program text
            if (req.on_piece) req.on_piece(piece);
            if (res.constrained) {
                if (statement[static_cast<size_t>(slot)] == Slot::Object) ++objects;
                slot = (slot + 1) % statement_tokens;
            }
            if (pos + 1 < req.max_new_tokens)
                last = lm.forward(lm.embed(be.fromI64({c.token}, {1, 1})), cache);
        }
        res.program = text.text();
        res.generate_ms = msSince(t1);
    } catch (const std::exception& e) {
        return Status::error(std::string("reconstruction failed: ") + e.what());
    }
    return res;
}

} // namespace tessera
