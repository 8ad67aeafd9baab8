// Janus-Pro text→image training on the tape: the word-level tokenizer, prompt rows, a fresh model's
// folder, loading, the forward pass and loss, saving, and images → codes through the Janus VQ loader.
//
// Sections: helpers · tokenizer · prompts · fresh folder · load · forward and loss · save · VQ codes.
#include "models/janus_parts.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/image.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_loop.h"
#include "train/model_files.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace tessera::train {

namespace fs = std::filesystem;
using files::readText;
using files::Rng;
using files::SafetensorsOut;
using files::writeText;

namespace {

// ---- helpers -------------------------------------------------------------------------------------

const std::string kLm = "model.language_model.";
const std::string kVq = "model.vqmodel.";
const std::string kGenEmbed = "model.generation_embeddings.weight";
const std::string kAlignIn = "model.generation_aligner.fc1.";
const std::string kAlignOut = "model.generation_aligner.hidden_layers.0.";
const std::string kHeadIn = "model.generation_head.proj_out.";
const std::string kHeadOut = "model.generation_head.vision_head.";

const char* const kSpecials[] = {"<｜▁pad▁｜>",    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                 "<|User|>",       "<|Assistant|>",           "<begin_of_image>",
                                 "<end_of_image>", "<image_placeholder>"};
constexpr int32_t kPadId = 0, kBosId = 1, kEosId = 2, kImagePlaceholderId = 7;
const char* const kUnk = "<unk>";

bool isWordChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

} // namespace

// ---- tokenizer -------------------------------------------------------------------------------------

Expected<WordTokenizerFiles> janusWordTokenizer(const std::vector<std::string>& words) {
    if (words.empty()) return Status::error("the tokenizer needs at least one word");
    nlohmann::ordered_json vocab, added = nlohmann::json::array();
    int32_t id = 0;
    for (const char* s : kSpecials) {
        added.push_back({{"id", id},
                         {"content", s},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
        vocab[s] = id++;
    }
    added.push_back({{"id", id},
                     {"content", kUnk},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
    vocab[kUnk] = id++;
    vocab[":"] = id++;
    std::set<std::string> seen;
    for (std::string w : words) {
        std::transform(w.begin(), w.end(), w.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
        if (w.empty() || !std::all_of(w.begin(), w.end(), isWordChar))
            return Status::error("tokenizer word '" + w +
                                 "' is not one run of letters, digits or underscores");
        if (!seen.insert(w).second) continue;
        vocab[w] = id++;
    }
    const std::string bos = kSpecials[kBosId];
    nlohmann::ordered_json tok = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", {{"type", "Lowercase"}}},
        {"pre_tokenizer", {{"type", "Whitespace"}}},
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"pair",
           {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
          {"special_tokens", {{bos, {{"id", bos}, {"ids", {kBosId}}, {"tokens", {bos}}}}}}}},
        {"decoder", nullptr},
        {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", kUnk}}}};
    nlohmann::ordered_json cfg = {{"bos_token", bos},
                                  {"eos_token", kSpecials[kEosId]},
                                  {"pad_token", kSpecials[kPadId]},
                                  {"unk_token", kUnk},
                                  {"tokenizer_class", "PreTrainedTokenizerFast"}};
    return WordTokenizerFiles{tok.dump(2) + "\n", cfg.dump(2) + "\n"};
}

// ---- prompts ---------------------------------------------------------------------------------------

std::vector<int64_t> JanusPrompts::conditional(const std::string& caption) const {
    const std::vector<int32_t> ids =
        tokenizer_.encode(janusGenerationPrompt(caption), SpecialTokens::kTransformers);
    return {ids.begin(), ids.end()};
}

std::vector<int64_t> JanusPrompts::unconditional(const std::vector<int64_t>& conditional) const {
    std::vector<int64_t> out = conditional;
    for (size_t i = 1; i + 1 < out.size(); ++i) out[i] = pad_id_;
    return out;
}

// ---- fresh folder ----------------------------------------------------------------------------------

Expected<JanusGenTrainModel> JanusGenTrainModel::create(const JanusGenInit& init, const std::string& dir) {
    const JanusGenConfig& m = init.model;
    const int64_t d = m.hidden;
    if (Status st = files::checkLlamaShape(m); !st.ok()) return st;
    if (init.grid <= 0 || m.max_positions < init.grid * init.grid + 8)
        return Status::error("the context (" + std::to_string(m.max_positions) +
                             " positions) must hold a prompt and " + std::to_string(init.grid) +
                             "² image tokens");

    // The VQ: its config and tensors, as written.
    auto vq = Checkpoint::open(init.vq_dir);
    if (!vq) return vq.status();
    const TensorInfo* book = vq->find(kVq + "quantize.embedding.weight");
    if (!book || book->shape.size() != 2)
        return Status::error(init.vq_dir + " is not a Janus-layout VQ folder (no " + kVq +
                             "quantize.embedding.weight)");
    const int64_t codes = book->shape[0], code_dim = book->shape[1];
    auto be = createBackend("cpu", 1);
    if (!be) return be.status();
    std::vector<Frozen> tensors;
    if (Status st = files::readTensorsWithPrefix(*vq, **be, kVq, tensors); !st.ok()) return st;

    auto tok = janusWordTokenizer(init.words);
    if (!tok) return tok.status();
    auto tokenizer = Tokenizer::fromJson(tok->tokenizer_json, tok->tokenizer_config_json);
    if (!tokenizer) return tokenizer.status();
    const int64_t vocab = static_cast<int64_t>(tokenizer->vocabSize());

    nlohmann::json vq_cfg = vq->config().json().value("vq_config", nlohmann::json::object());
    vq_cfg["model_type"] = "janus_vqgan";
    vq_cfg["num_patches"] = init.grid;
    vq_cfg["hidden_act"] = "gelu";
    vq_cfg["num_embeddings"] = codes;
    vq_cfg["embed_dim"] = code_dim;
    vq_cfg["image_token_embed_dim"] = d;
    vq_cfg["projection_dim"] = d;
    nlohmann::ordered_json cfg = {{"architectures", {"JanusForConditionalGeneration"}},
                                  {"model_type", "janus"},
                                  {"image_token_id", kImagePlaceholderId},
                                  {"tie_word_embeddings", true},
                                  {"torch_dtype", "float32"},
                                  {"text_config", files::llamaConfigJson(m, vocab)},
                                  {"vq_config", vq_cfg}};

    // Initial weights, drawn in this order from one stream.
    Rng rng(init.seed);
    std::vector<Frozen> weights;
    auto add = [&](const std::string& name, Shape shape, double std, double fill = 0.0) {
        std::vector<float> v(static_cast<size_t>(shapeNumel(shape)));
        for (float& x : v) x = std > 0 ? static_cast<float>(std * rng.normal()) : static_cast<float>(fill);
        weights.push_back({name, std::move(shape), std::move(v)});
    };
    files::addLlamaWeights(add, kLm, m, vocab);
    const double w = files::kInitStd;
    add(kGenEmbed, {codes, code_dim}, 1.0);
    add(kAlignIn + "weight", {d, code_dim}, w);
    add(kAlignIn + "bias", {d}, 0);
    add(kAlignOut + "weight", {d, d}, w);
    add(kAlignOut + "bias", {d}, 0);
    add(kHeadIn + "weight", {d, d}, w);
    add(kHeadIn + "bias", {d}, 0);
    add(kHeadOut + "weight", {codes, d}, w);
    add(kHeadOut + "bias", {codes}, 0);

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    SafetensorsOut out(SaveDType::F32);
    for (const auto& t : weights) out.add(t.name, t.shape, t.value);
    for (const auto& t : tensors) out.add(t.name, t.shape, t.value);
    if (Status s = writeSafetensorsF32(dir + "/model.safetensors", out.tensors, {{"format", "pt"}}); !s.ok())
        return s;
    if (Status s = writeText(dir + "/config.json", cfg.dump(2) + "\n"); !s.ok()) return s;
    if (Status s = writeText(dir + "/tokenizer.json", tok->tokenizer_json); !s.ok()) return s;
    if (Status s = writeText(dir + "/tokenizer_config.json", tok->tokenizer_config_json); !s.ok()) return s;
    return load(dir);
}

// ---- load ------------------------------------------------------------------------------------------

Expected<JanusGenTrainModel> JanusGenTrainModel::load(const std::string& dir) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    if (!ckpt->has(kLm + "embed_tokens.weight"))
        return Status::error(dir + ": not a Janus checkpoint in the transformers layout (no " + kLm +
                             "embed_tokens.weight)");
    auto lm = LlamaTrainModel::load(dir, LmLayout{kLm, "lm_head.weight"});
    if (!lm) return lm.status();
    auto tokenizer = Tokenizer::load(dir);
    if (!tokenizer) return Status::error(dir + ": " + tokenizer.error());
    auto pad = janusPadId(*tokenizer, lm->config().pad_id, dir);
    if (!pad) return pad.status();

    JanusGenTrainModel m;
    m.lm_ = std::move(*lm);
    m.prompts_ = std::make_unique<JanusPrompts>(std::move(*tokenizer), *pad);
    const nlohmann::json& j = ckpt->config().json();
    const nlohmann::json vq_cfg = j.value("vq_config", nlohmann::json::object());
    m.grid_ = vq_cfg.is_object() && vq_cfg.value("num_patches", nlohmann::json()).is_number_integer()
                  ? vq_cfg["num_patches"].get<int64_t>()
                  : 0;
    if (m.grid_ <= 0 || m.grid_ > 1024)
        return Status::error(dir +
                             "/config.json: vq_config.num_patches (image tokens per side) is missing or "
                             "out of range");
    const std::string act = vq_cfg.is_object() && vq_cfg.value("hidden_act", nlohmann::json()).is_string()
                                ? vq_cfg["hidden_act"].get<std::string>()
                                : "gelu";
    if (act == "gelu")
        m.gen_act_ = Gelu::Erf;
    else if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
        m.gen_act_ = Gelu::Tanh;
    else
        return Status::error(dir + "/config.json: vq_config.hidden_act '" + act +
                             "' is not trainable here (gelu only)");

    auto be = createBackend("cpu", 1);
    if (!be) return be.status();
    auto read = [&](const std::string& name, Shape want, std::vector<float>& into) -> Status {
        const TensorInfo* info = ckpt->find(name);
        if (!info) return Status::error(dir + " lacks tensor " + name);
        if (!want.empty() && info->shape != want)
            return Status::error("tensor " + name + " in " + dir + " has shape " + shapeString(info->shape) +
                                 ", expected " + shapeString(want));
        auto t = ckpt->load(name, **be);
        if (!t) return t.status();
        into = (*be)->readF32(*t);
        return {};
    };
    const TensorInfo* emb = ckpt->find(kGenEmbed);
    const TensorInfo* head = ckpt->find(kHeadIn + "weight");
    if (!emb || emb->shape.size() != 2 || !head || head->shape.size() != 2)
        return Status::error(dir + " lacks the generation path (" + kGenEmbed + ", " + kHeadIn + "weight)");
    const int64_t d = m.lm_.config().hidden, codes = emb->shape[0], code_dim = emb->shape[1],
                  mid = head->shape[0];
    m.codebook_ = codes;
    const std::vector<std::pair<std::string, Shape>> gen = {
        {kGenEmbed, {codes, code_dim}}, {kAlignIn + "weight", {d, code_dim}},
        {kAlignIn + "bias", {d}},       {kAlignOut + "weight", {d, d}},
        {kAlignOut + "bias", {d}},      {kHeadIn + "weight", {mid, d}},
        {kHeadIn + "bias", {mid}},      {kHeadOut + "weight", {codes, mid}},
        {kHeadOut + "bias", {codes}}};
    auto& params = m.lm_.parameters();
    m.gen_first_ = params.size();
    for (const auto& [name, shape] : gen) {
        Parameter<float> p;
        p.name = name;
        p.shape = shape;
        if (Status s = read(name, shape, p.value); !s.ok()) return s;
        p.zeroGrad();
        params.push_back(std::move(p));
    }
    if (Status s = files::readTensorsWithPrefix(*ckpt, **be, kVq, m.vq_); !s.ok()) return s;
    if (m.vq_.empty()) return Status::error(dir + " holds no VQ tokenizer (" + kVq + "*)");

    auto config = readText(dir + "/config.json", true);
    auto tok_json = readText(dir + "/tokenizer.json", true);
    auto tok_cfg = readText(dir + "/tokenizer_config.json", false);
    for (const auto* r : {&config, &tok_json, &tok_cfg})
        if (!*r) return r->status();
    m.config_json_ = std::move(*config);
    m.tokenizer_json_ = std::move(*tok_json);
    m.tokenizer_config_json_ = std::move(*tok_cfg);
    return m;
}

// ---- forward and loss ------------------------------------------------------------------------------

Var JanusGenTrainModel::leaf(Tape<float>& t, size_t index) {
    return t.leaf(lm_.parameters()[index]);
}

// gen_aligner(gen_embed) for every code at once: [codebook, D]. The aligner works on each row alone, so
// this is the inference path's gen_aligner(gen_embed(ids)) for every id, computed once per batch.
Var JanusGenTrainModel::alignedCodebook(Tape<float>& t) {
    const size_t g = gen_first_;
    Var h = t.gelu(t.linear(leaf(t, g + 0), leaf(t, g + 1), leaf(t, g + 2)), gen_act_);
    return t.linear(h, leaf(t, g + 3), leaf(t, g + 4));
}

namespace {

// Ids into the table [text embeddings; aligned codebook]: prompt, then codes 0 .. n-2 offset by the
// text vocabulary.
std::vector<int64_t> inputIds(const std::vector<int64_t>& prompts, const std::vector<int64_t>& codes,
                              int64_t rows, int64_t len, int64_t n, int64_t vocab, int64_t codebook) {
    TS_CHECK(rows > 0 && len > 0 && static_cast<int64_t>(prompts.size()) == rows * len &&
                 static_cast<int64_t>(codes.size()) == rows * n,
             "Janus training rows: " + std::to_string(prompts.size()) + " prompt ids and " +
                 std::to_string(codes.size()) + " codes for " + std::to_string(rows) + " rows of " +
                 std::to_string(len) + " + " + std::to_string(n));
    const int64_t total = len + n - 1;
    std::vector<int64_t> ids(static_cast<size_t>(rows * total));
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < len; ++i) {
            const int64_t id = prompts[static_cast<size_t>(r * len + i)];
            TS_CHECK(id >= 0 && id < vocab,
                     "prompt id " + std::to_string(id) + " outside the text vocabulary");
            ids[static_cast<size_t>(r * total + i)] = id;
        }
        for (int64_t i = 0; i < n; ++i) {
            const int64_t c = codes[static_cast<size_t>(r * n + i)];
            TS_CHECK(c >= 0 && c < codebook, "image code " + std::to_string(c) + " outside the codebook");
            if (i + 1 < n) ids[static_cast<size_t>(r * total + len + i)] = vocab + c;
        }
    }
    return ids;
}

} // namespace

Var JanusGenTrainModel::logits(Tape<float>& t, const std::vector<int64_t>& prompts,
                               const std::vector<int64_t>& codes, int64_t rows, int64_t prompt_len) {
    const TransformerConfig& c = lm_.config();
    const int64_t n = grid_ * grid_, total = prompt_len + n - 1;
    TS_CHECK(total <= c.max_positions, "a prompt of " + std::to_string(prompt_len) + " tokens and " +
                                           std::to_string(n) + " image tokens exceed the context of " +
                                           std::to_string(c.max_positions));
    const std::vector<int64_t> ids = inputIds(prompts, codes, rows, prompt_len, n, c.vocab, codebook_);
    Parameter<float>* text = lm_.find(kLm + "embed_tokens.weight");
    TS_CHECK(text != nullptr, "the model has no text embeddings");
    Var table = t.concat({t.leaf(*text), alignedCodebook(t)}, 0);
    Var h = lm_.hiddenFromEmbeds(t, t.reshape(t.embedding(table, ids), {rows, total, c.hidden}));
    const size_t g = gen_first_;
    Var mid = t.gelu(t.linear(h, leaf(t, g + 5), leaf(t, g + 6)), gen_act_);
    return t.linear(mid, leaf(t, g + 7), leaf(t, g + 8));
}

Var JanusGenTrainModel::loss(Tape<float>& t, const std::vector<JanusGenExample>& batch) {
    TS_CHECK(!batch.empty(), "Janus training: an empty batch");
    const int64_t n = grid_ * grid_;
    std::map<size_t, std::vector<size_t>> by_length;
    for (size_t i = 0; i < batch.size(); ++i) {
        TS_CHECK(static_cast<int64_t>(batch[i].codes.size()) == n,
                 "Janus training: an image of " + std::to_string(batch[i].codes.size()) +
                     " codes, the model draws " + std::to_string(n));
        by_length[batch[i].prompt.size()].push_back(i);
    }
    Var total;
    for (const auto& [len, members] : by_length) {
        const int64_t rows = static_cast<int64_t>(members.size()), l = static_cast<int64_t>(len),
                      span = l + n - 1;
        std::vector<int64_t> prompts, codes, targets(static_cast<size_t>(rows * span), -100);
        for (int64_t r = 0; r < rows; ++r) {
            const JanusGenExample& e = batch[members[static_cast<size_t>(r)]];
            prompts.insert(prompts.end(), e.prompt.begin(), e.prompt.end());
            codes.insert(codes.end(), e.codes.begin(), e.codes.end());
            for (int64_t i = 0; i < n; ++i)
                targets[static_cast<size_t>(r * span + l - 1 + i)] = e.codes[static_cast<size_t>(i)];
        }
        Var lg = logits(t, prompts, codes, rows, l);
        // Each group's mean weighted by its share of the batch: the mean over every image token.
        Var part = t.scale(t.crossEntropy(t.reshape(lg, {rows * span, codebook_}), targets),
                           static_cast<float>(rows) / static_cast<float>(batch.size()));
        total = total.defined() ? t.add(total, part) : part;
    }
    return total;
}

// ---- save ------------------------------------------------------------------------------------------

Status JanusGenTrainModel::save(const std::string& dir, SaveDType dtype) const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    SafetensorsOut out(dtype);
    for (const auto& p : lm_.parameters()) out.add(p.name, p.shape, p.value);
    for (const auto& f : vq_) out.add(f.name, f.shape, f.value);
    if (Status s = writeSafetensorsF32(dir + "/model.safetensors", out.tensors, {{"format", "pt"}}); !s.ok())
        return s;
    nlohmann::ordered_json cfg = nlohmann::ordered_json::parse(config_json_, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object())
        return Status::error("the model's config.json is not a JSON object");
    cfg["torch_dtype"] = files::torchDtypeName(dtype);
    if (Status s = writeText(dir + "/config.json", cfg.dump(2) + "\n"); !s.ok()) return s;
    if (Status s = writeText(dir + "/tokenizer.json", tokenizer_json_); !s.ok()) return s;
    if (!tokenizer_config_json_.empty())
        if (Status s = writeText(dir + "/tokenizer_config.json", tokenizer_config_json_); !s.ok()) return s;
    return {};
}

// ---- VQ codes --------------------------------------------------------------------------------------

struct JanusVqCodes::Impl {
    std::unique_ptr<Backend> backend;
    Checkpoint ckpt;
    janus::VqModel vq;
};

JanusVqCodes::~JanusVqCodes() = default;

Expected<std::unique_ptr<JanusVqCodes>> JanusVqCodes::load(const std::string& vq_dir, int threads) {
    auto ckpt = Checkpoint::open(vq_dir);
    if (!ckpt) return ckpt.status();
    auto be = createBackend("cpu", threads);
    if (!be) return be.status();
    std::unique_ptr<JanusVqCodes> out(new JanusVqCodes());
    out->impl_ = std::make_unique<Impl>();
    out->impl_->backend = std::move(*be);
    out->impl_->ckpt = std::move(*ckpt);
    try {
        janus::Binder wb(out->impl_->ckpt, *out->impl_->backend, janus::Layout::Transformers);
        out->impl_->vq.load(wb, *out->impl_->backend, /*with_encoder=*/true);
        if (Status s = wb.finish(); !s.ok()) return Status::error(vq_dir + ": " + s.message());
        const nlohmann::json& j = out->impl_->ckpt.config().json();
        const nlohmann::json vq_cfg = j.value("vq_config", nlohmann::json::object());
        const bool l2 = vq_cfg.is_object() &&
                        vq_cfg.value("codebook_l2_norm", nlohmann::json(false)).is_boolean() &&
                        vq_cfg.value("codebook_l2_norm", false);
        out->impl_->vq.setCodebookL2Norm(l2);
    } catch (const std::exception& e) {
        return Status::error(vq_dir + ": " + e.what());
    }
    return out;
}

int64_t JanusVqCodes::downsample() const {
    return impl_->vq.downsample();
}
int64_t JanusVqCodes::codebook() const {
    return impl_->vq.codebookSize();
}

Expected<std::vector<int64_t>> JanusVqCodes::encode(const std::vector<float>& pixels, int64_t batch,
                                                    int64_t height, int64_t width) {
    const int64_t f = downsample();
    if (batch <= 0 || height <= 0 || width <= 0 || height % f || width % f ||
        static_cast<int64_t>(pixels.size()) != batch * 3 * height * width)
        return Status::error("VQ encode: " + std::to_string(pixels.size()) + " values for " +
                             std::to_string(batch) + " images of 3×" + std::to_string(height) + "×" +
                             std::to_string(width) + " (sides multiples of " + std::to_string(f) + ")");
    try {
        Backend& be = *impl_->backend;
        janus::VqEncoding e = impl_->vq.encode(be, be.fromF32(pixels, {batch, 3, height, width}));
        return be.readI64(e.indices);
    } catch (const std::exception& e) {
        return Status::error(std::string("VQ encode: ") + e.what());
    }
}

Expected<std::vector<float>> JanusVqCodes::roundTrip(const std::vector<float>& pixels, int64_t batch,
                                                     int64_t height, int64_t width) {
    auto codes = encode(pixels, batch, height, width);
    if (!codes) return codes.status();
    const int64_t f = downsample();
    try {
        Backend& be = *impl_->backend;
        const Tensor ids = be.fromI64(*codes, {batch, (height / f) * (width / f)});
        return be.readF32(impl_->vq.decodeCodes(be, impl_->vq.codesFor(be, ids, height / f, width / f)));
    } catch (const std::exception& e) {
        return Status::error(std::string("VQ decode: ") + e.what());
    }
}

Expected<std::vector<uint8_t>> JanusVqCodes::roundTripRgb8(const std::vector<uint8_t>& rgb, int64_t batch,
                                                           int64_t height, int64_t width,
                                                           std::vector<double>* mse) {
    const size_t hw = static_cast<size_t>(height * width);
    if (batch <= 0 || height <= 0 || width <= 0 || rgb.size() != static_cast<size_t>(batch) * hw * 3)
        return Status::error("VQ round trip: " + std::to_string(rgb.size()) + " bytes are not " +
                             std::to_string(batch) + " RGB images of " + std::to_string(width) + "x" +
                             std::to_string(height));
    std::vector<float> chw(rgb.size());
    for (size_t b = 0; b < static_cast<size_t>(batch); ++b)
        rgb8ToSignedPlanes(rgb.data() + b * hw * 3, hw, chw.data() + b * 3 * hw);
    auto rec = roundTrip(chw, batch, height, width);
    if (!rec) return rec.status();
    std::vector<uint8_t> out(rgb.size());
    if (mse) mse->assign(static_cast<size_t>(batch), 0.0);
    for (size_t b = 0; b < static_cast<size_t>(batch); ++b) {
        double sum = 0;
        for (size_t p = 0; p < hw; ++p)
            for (size_t c = 0; c < 3; ++c) {
                const size_t i = (b * 3 + c) * hw + p;
                const double r = std::clamp(static_cast<double>((*rec)[i]), -1.0, 1.0);
                const double d = (r - chw[i]) / 2.0;
                sum += d * d;
                out[(b * hw + p) * 3 + c] = static_cast<uint8_t>(std::lround((r + 1.0) * 127.5));
            }
        if (mse) (*mse)[b] = sum / static_cast<double>(3 * hw);
    }
    return out;
}

} // namespace tessera::train
