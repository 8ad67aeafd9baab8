// Janus reference sets: the full checkpoint set (VQ decode, generation head over an LM run on mixed
// text/image-token embeddings, understanding logits) and the VQ-encode set, which holds only goldens
// and runs on the checkpoint in the sibling folder `janus_tiny` (../janus_tiny).
#include "models/janus_model.h"
#include "verify/verify_internal.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera::verify {

namespace {

constexpr double kTolerance = 1e-4;

Expected<std::unique_ptr<JanusModel>> openJanus(const std::string& dir, Backend& be, Checkpoint& ckpt_out) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    ckpt_out = std::move(*ckpt);
    return JanusModel::load(ckpt_out, be);
}

// Tokens per side of a square raster of n tokens (0 when n is not a square).
int64_t squareSide(int64_t n) {
    const auto s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    return s * s == n ? s : 0;
}

} // namespace

bool isJanusConfig(const ModelConfig& cfg) {
    const std::string arch = cfg.architecture(), type = cfg.modelType();
    return arch == "JanusForConditionalGeneration" || arch == "MultiModalityCausalLM" || type == "janus" ||
           type == "multi_modality";
}

Expected<VerifyReport> verifyJanus(const std::string& dir, Backend& be) {
    Checkpoint ckpt;
    auto model = openJanus(dir, be, ckpt);
    if (!model) return model.status();
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    JanusModel& m = **model;
    CausalLM& lm = m.lm();
    VerifyReport report;
    report.kind = "janus";

    // Three paths, each checked when the set carries its goldens: a set made for generation only (no
    // understanding tensors) verifies what it has and says what it did not find. Half a path is an error.
    struct Path {
        const char* what;
        std::vector<const char*> goldens;
    };
    const Path paths[] = {
        {"VQ decode", {"image_tokens", "decoded_pixels"}},
        {"generation", {"text_ids", "gen_prefix_image_tokens", "gen_logits"}},
        {"understanding", {"und_input_ids", "und_pixel_values", "und_logits"}},
    };
    std::vector<bool> present;
    for (const Path& p : paths) {
        size_t have = 0;
        std::string names;
        for (const char* g : p.goldens) {
            have += gold->ckpt.has(g);
            names += (names.empty() ? "" : ", ") + std::string(g);
        }
        if (have != 0 && have != p.goldens.size())
            return Status::error(dir + ": the " + std::string(p.what) + " goldens are incomplete (needs " + names + ")");
        present.push_back(have != 0);
        if (have == 0) report.notes.push_back("no " + std::string(p.what) + " goldens (" + names + "): the " + p.what + " path was not verified");
    }
    if (std::none_of(present.begin(), present.end(), [](bool b) { return b; }))
        return Status::error(dir + ": golden.safetensors holds none of the Janus goldens");

    if (present[0]) {
        auto tokens = gold->tensor("image_tokens", be);
        auto pixels = gold->tensor("decoded_pixels", be);
        for (auto* e : {&tokens, &pixels})
            if (!*e) return e->status();
        const int64_t side = squareSide(tokens->dim(-1));
        if (side == 0) return Status::error(dir + ": image_tokens is not a square grid");
        report.checks.push_back(compareF32("decoded_pixels", be.readF32(m.decodeImageTokens(*tokens, side, side)),
                                           be.readF32(*pixels), kTolerance));
    }
    if (present[1]) {
        // Text embeddings followed by aligned image-token embeddings, gen head at every position.
        auto text_ids = gold->tensor("text_ids", be);
        auto prefix = gold->tensor("gen_prefix_image_tokens", be);
        auto gen_logits = gold->tensor("gen_logits", be);
        for (auto* e : {&text_ids, &prefix, &gen_logits})
            if (!*e) return e->status();
        Tensor embeds = be.concat(lm.embed(*text_ids), m.imageTokenEmbeds(*prefix), 1);
        KvCache cache = lm.newCache(embeds.dim(0), embeds.dim(1));
        report.checks.push_back(compareF32("gen_logits", be.readF32(m.genHead(lm.forward(embeds, cache))),
                                           be.readF32(*gen_logits), kTolerance));
    }
    if (present[2]) {
        auto und_ids = gold->tensor("und_input_ids", be);
        auto und_pixels = gold->tensor("und_pixel_values", be);
        auto und_logits = gold->tensor("und_logits", be);
        for (auto* e : {&und_ids, &und_pixels, &und_logits})
            if (!*e) return e->status();
        Tensor und = m.understandingEmbeds(*und_ids, *und_pixels);
        KvCache und_cache = lm.newCache(und.dim(0), und.dim(1));
        report.checks.push_back(compareF32("und_logits", be.readF32(lm.logits(lm.forward(und, und_cache))),
                                           be.readF32(*und_logits), kTolerance));
    }
    return report;
}

bool isJanusVqEncodeSet(const std::string& dir) {
    auto gold = Goldens::open(dir);
    if (!gold) return false;
    for (const char* name : {"pixels", "pre_quant", "indices", "quantized"})
        if (!gold->ckpt.has(name)) return false;
    return true;
}

Expected<VerifyReport> verifyJanusVqEncode(const std::string& dir, Backend& be) {
    // The set holds no weights: it was produced with the janus_tiny checkpoint next to it.
    fs::path set = fs::path(dir).lexically_normal();
    if (set.filename().empty()) set = set.parent_path();
    const fs::path ckpt_dir = set.parent_path() / "janus_tiny";
    if (!fs::is_directory(ckpt_dir))
        return Status::error(dir + ": a VQ-encode set runs on the Janus checkpoint in the sibling folder " +
                             ckpt_dir.string() + ", which does not exist");
    Checkpoint ckpt;
    auto model = openJanus(ckpt_dir.string(), be, ckpt);
    if (!model) return model.status();
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    auto pixels = gold->tensor("pixels", be);
    auto pre_quant = gold->tensor("pre_quant", be);
    auto indices = gold->tensor("indices", be);
    auto quantized = gold->tensor("quantized", be);
    for (auto* e : {&pixels, &pre_quant, &indices, &quantized})
        if (!*e) return e->status();
    JanusEncoding enc = (*model)->encode(*pixels);
    VerifyReport report;
    report.kind = "janus-vq-encode";
    report.checks.push_back(
        compareF32("pre_quant", be.readF32(enc.pre_quant), be.readF32(*pre_quant), kTolerance));
    report.checks.push_back(compareIds("indices", be.readI64(enc.indices), be.readI64(*indices)));
    report.checks.push_back(
        compareF32("quantized", be.readF32(enc.quantized), be.readF32(*quantized), kTolerance));
    return report;
}

} // namespace tessera::verify
