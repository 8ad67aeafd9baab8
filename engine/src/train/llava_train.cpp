// IG-LLM training (train_llava.h). Sections: program vocabulary and sequences · initial weights · load ·
// forward · save.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/igllm.h"
#include "tessera/engine/train_llava.h"
#include "tessera/engine/train_loop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace tessera::train {

namespace fs = std::filesystem;

namespace {

const std::string kVt = "vision_tower.";
const std::string kPj = "multi_modal_projector.";
const std::string kLmPrefix = "language_model.model.";
const std::string kLmHead = "language_model.lm_head.weight";

// CLIP's normalisation, as IgllmPipeline applies it when a folder has no preprocessor_config.json.
constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

// The vocabulary: igllmWordTokenizerJson's six specials first (their ids are the config's), then the
// grammar and the prompt's words.
constexpr int64_t kPad = 0, kBos = 1, kEos = 2, kImage = 3;
const std::vector<std::string> kWords = {
    "object",   "cube",   "sphere", "cylinder", "gray",   "red",       "blue",      "green",
    "brown",    "purple", "cyan",   "yellow",   "rubber", "metal",     "size",      "position",
    "rotation", "camera", "light",  "look_at",  "fov",    "direction", "intensity", "ambient",
    "Describe", "the",    "scene",  "as",       "a",      "program."};

Status writeText(const fs::path& path, const std::string& body) {
    return writeFileAtomically(path.string(), {{body.data(), body.size()}});
}

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

// ---- program vocabulary and sequences -------------------------------------------------------------------

float numberFieldScale(NumberField field) {
    switch (field) {
    case NumberField::Size:
    case NumberField::Z:
        return 0.35f;
    case NumberField::X:
    case NumberField::Y:
        return 3.0f;
    case NumberField::Rotation:
        break;
    }
    return 180.0f;
}

namespace {

std::vector<std::string> programWords(bool position_cells) {
    std::vector<std::string> words = kWords;
    if (position_cells)
        for (const std::string& w : igllmCellWords()) words.push_back(w);
    return words;
}

} // namespace

Status writeProgramTokenizer(const std::string& dir, bool position_cells) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    if (Status s = writeText(fs::path(dir) / "tokenizer.json",
                             igllmWordTokenizerJson(programWords(position_cells)) + "\n");
        !s.ok())
        return s;
    return writeText(fs::path(dir) / "tokenizer_config.json", nlohmann::json{{"bos_token", "<s>"},
                                                                             {"eos_token", "</s>"},
                                                                             {"unk_token", "<unk>"},
                                                                             {"pad_token", "<unk>"}}
                                                                      .dump(2) +
                                                                  "\n");
}

Expected<LlavaSequence> buildLlavaSequence(const Tokenizer& tok, const std::string& prompt,
                                           int64_t image_tokens, int64_t image_token,
                                           const std::vector<ProgramObject>& objects, bool cells_first) {
    if (tok.bosId() < 0 || tok.eosId() < 0)
        return Status::error("the tokenizer names no BOS or EOS token (tokenizer_config.json)");
    auto prompt_ids = tok.tryEncode(prompt, SpecialTokens::kNone);
    if (!prompt_ids) return prompt_ids.status();
    LlavaSequence s;
    s.ids.push_back(tok.bosId());
    s.ids.insert(s.ids.end(), static_cast<size_t>(image_tokens), image_token);
    s.ids.insert(s.ids.end(), prompt_ids->begin(), prompt_ids->end());
    s.prompt_len = static_cast<int64_t>(s.ids.size());
    const int32_t num = tok.tokenId("[NUM]"), newline = tok.tokenId("\n");
    if (num < 0 || newline < 0) return Status::error("the tokenizer has no [NUM] or newline token");
    auto word = [&](const std::string& w) -> bool {
        const int32_t id = tok.tokenId(w);
        if (id < 0) return false;
        s.ids.push_back(id);
        return true;
    };
    // A vocabulary with the position cells writes each ground coordinate's cell before its number, or
    // both right after `object` with `cells_first` (igllm.h).
    const bool cells = tok.tokenId(igllmCellWord('x', 0)) >= 0;
    auto cell = [&](char axis, float v) { word(igllmCellWord(axis, igllmPositionCell(v))); };
    auto number = [&](float v, NumberField f) {
        s.number_at.push_back(static_cast<int64_t>(s.ids.size()));
        s.number_value.push_back(v);
        s.number_field.push_back(f);
        s.ids.push_back(num);
    };
    for (const ProgramObject& o : objects) {
        for (float v : {o.size, o.x, o.y, o.z, o.rotation})
            if (!std::isfinite(v)) return Status::error("an object has a value that is not finite");
        for (const std::string* w : {&o.shape, &o.colour, &o.material})
            if (tok.tokenId(*w) < 0)
                return Status::error("'" + *w + "' is not a word of the program vocabulary");
        word("object");
        if (cells && cells_first) {
            cell('x', o.x);
            cell('y', o.y);
        }
        word(o.shape);
        word(o.colour);
        word(o.material);
        word("size");
        number(o.size, NumberField::Size);
        word("position");
        if (cells && !cells_first) cell('x', o.x);
        number(o.x, NumberField::X);
        if (cells && !cells_first) cell('y', o.y);
        number(o.y, NumberField::Y);
        number(o.z, NumberField::Z);
        word("rotation");
        number(o.rotation, NumberField::Rotation);
        s.ids.push_back(newline);
    }
    s.ids.push_back(tok.eosId());
    return s;
}

std::vector<float> imagePixels(const std::vector<uint8_t>& rgb, int64_t side) {
    TS_CHECK(static_cast<int64_t>(rgb.size()) == side * side * 3,
             "imagePixels: " + std::to_string(rgb.size()) + " bytes for a " + std::to_string(side) +
                 "² image");
    const size_t n = static_cast<size_t>(side * side);
    std::vector<float> out(3 * n);
    for (size_t p = 0; p < n; ++p)
        for (size_t c = 0; c < 3; ++c)
            out[c * n + p] = (static_cast<float>(rgb[p * 3 + c]) / 255.0f - kClipMean[c]) / kClipStd[c];
    return out;
}

// ---- initial weights -----------------------------------------------------------------------------------

namespace {

struct Gaussian { // splitmix64 + Box–Muller: the same weights on every platform for a seed
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0; }
    float normal() {
        return static_cast<float>(std::sqrt(-2.0 * std::log(uniform())) *
                                  std::cos(6.283185307179586 * uniform()));
    }
};

} // namespace

Status LlavaTrainModel::initialize(const std::string& dir, const LlavaTrainConfig& c, uint64_t seed) {
    if (c.image_size <= 0 || c.patch <= 0 || c.image_size % c.patch != 0)
        return Status::error("image size " + std::to_string(c.image_size) +
                             " is not a multiple of the patch " + std::to_string(c.patch));
    if (c.vision_hidden <= 0 || c.vision_heads <= 0 || c.vision_hidden % c.vision_heads != 0 ||
        c.hidden <= 0 || c.heads <= 0 || c.hidden % c.heads != 0 || c.kv_heads <= 0 ||
        c.heads % c.kv_heads != 0 || c.layers <= 0 || c.vision_layers <= 0 || c.intermediate <= 0 ||
        c.vision_intermediate <= 0)
        return Status::error("model sizes: widths must split into their heads and every count be positive");
    if ((c.hidden / c.heads) % 2 != 0) return Status::error("the LM's head size must be even (RoPE)");
    if (c.float_head != "linear" && c.float_head != "tanh_mlp_gelu")
        return Status::error("float head '" + c.float_head + "' is not linear or tanh_mlp_gelu");
    const int64_t feature =
        c.vision_feature_layer < 0 ? c.vision_layers + 1 + c.vision_feature_layer : c.vision_feature_layer;
    if (feature < 1 || feature > c.vision_layers)
        return Status::error("vision_feature_layer " + std::to_string(c.vision_feature_layer) +
                             " leaves no encoder layer in use");
    if (Status s = writeProgramTokenizer(dir, c.position_cells); !s.ok()) return s;
    const int64_t vocab =
        kIgllmWordTokenizerSpecials + static_cast<int64_t>(programWords(c.position_cells).size());
    const nlohmann::json text = {{"model_type", "llama"},
                                 {"vocab_size", vocab},
                                 {"hidden_size", c.hidden},
                                 {"num_hidden_layers", c.layers},
                                 {"num_attention_heads", c.heads},
                                 {"num_key_value_heads", c.kv_heads},
                                 {"intermediate_size", c.intermediate},
                                 {"max_position_embeddings", 2048},
                                 {"rms_norm_eps", 1e-5},
                                 {"rope_theta", 10000.0},
                                 {"tie_word_embeddings", false},
                                 {"attention_bias", false},
                                 {"mlp_bias", false},
                                 {"bos_token_id", kBos},
                                 {"eos_token_id", kEos},
                                 {"pad_token_id", kPad}};
    nlohmann::json config = {{"architectures", {"LlavaForConditionalGeneration"}},
                             {"model_type", "llava"},
                             {"image_token_index", kImage},
                             {"projector_hidden_act", "gelu"},
                             {"vision_feature_layer", c.vision_feature_layer},
                             {"vision_feature_select_strategy", "default"},
                             {"float_head_type", c.float_head},
                             {"tie_word_embeddings", false},
                             {"text_config", text},
                             {"vision_config",
                              {{"model_type", "clip_vision_model"},
                               {"hidden_size", c.vision_hidden},
                               {"image_size", c.image_size},
                               {"patch_size", c.patch},
                               {"num_hidden_layers", c.vision_layers},
                               {"num_attention_heads", c.vision_heads},
                               {"intermediate_size", c.vision_intermediate},
                               {"hidden_act", c.vision_act},
                               {"layer_norm_eps", 1e-5}}}};
    if (c.position_cells) config[kIgllmCellsKey] = c.cells_first ? kIgllmCellsFirst : "in_position";
    if (Status s = writeText(fs::path(dir) / "config.json", config.dump(2) + "\n"); !s.ok()) return s;

    Gaussian rng{seed * 0x2545F4914F6CDD1Dull + 0x1234567ull};
    std::vector<std::pair<std::string, Shape>> shapes;
    std::vector<std::vector<float>> values;
    // kind: 'w' normal(0, 0.02), 'z' zeros, 'o' ones, 'h' one half. The head's last layer starts at
    // zero weights and bias 0.5, so every number of an untrained model is a valid size, coordinate and
    // angle and the program it writes parses.
    auto add = [&](const std::string& name, Shape shape, char kind) {
        std::vector<float> v(static_cast<size_t>(shapeNumel(shape)), kind == 'o'   ? 1.0f
                                                                     : kind == 'h' ? 0.5f
                                                                                   : 0.0f);
        if (kind == 'w')
            for (float& e : v) e = 0.02f * rng.normal();
        shapes.emplace_back(name, std::move(shape));
        values.push_back(std::move(v));
    };
    const int64_t d = c.hidden, hd = c.hidden / c.heads, kvd = c.kv_heads * hd, vd = c.vision_hidden;
    add(kLmPrefix + "embed_tokens.weight", {vocab, d}, 'w');
    for (int64_t l = 0; l < c.layers; ++l) {
        const std::string p = kLmPrefix + "layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {d}, 'o');
        add(p + "self_attn.q_proj.weight", {d, d}, 'w');
        add(p + "self_attn.k_proj.weight", {kvd, d}, 'w');
        add(p + "self_attn.v_proj.weight", {kvd, d}, 'w');
        add(p + "self_attn.o_proj.weight", {d, d}, 'w');
        add(p + "post_attention_layernorm.weight", {d}, 'o');
        add(p + "mlp.gate_proj.weight", {c.intermediate, d}, 'w');
        add(p + "mlp.up_proj.weight", {c.intermediate, d}, 'w');
        add(p + "mlp.down_proj.weight", {d, c.intermediate}, 'w');
    }
    add(kLmPrefix + "norm.weight", {d}, 'o');
    add(kLmHead, {vocab, d}, 'w');
    const int64_t grid = c.image_size / c.patch;
    add(kVt + "embeddings.patch_embedding.weight", {vd, 3, c.patch, c.patch}, 'w');
    add(kVt + "embeddings.class_embedding", {vd}, 'w');
    add(kVt + "embeddings.position_embedding.weight", {grid * grid + 1, vd}, 'w');
    add(kVt + "pre_layrnorm.weight", {vd}, 'o');
    add(kVt + "pre_layrnorm.bias", {vd}, 'z');
    for (int64_t l = 0; l < c.vision_layers; ++l) {
        const std::string p = kVt + "encoder.layers." + std::to_string(l) + ".";
        for (const char* ln : {"layer_norm1", "layer_norm2"}) {
            add(p + ln + ".weight", {vd}, 'o');
            add(p + ln + ".bias", {vd}, 'z');
        }
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            add(p + "self_attn." + proj + ".weight", {vd, vd}, 'w');
            add(p + "self_attn." + proj + ".bias", {vd}, 'z');
        }
        add(p + "mlp.fc1.weight", {c.vision_intermediate, vd}, 'w');
        add(p + "mlp.fc1.bias", {c.vision_intermediate}, 'z');
        add(p + "mlp.fc2.weight", {vd, c.vision_intermediate}, 'w');
        add(p + "mlp.fc2.bias", {vd}, 'z');
    }
    add(kPj + "linear_1.weight", {d, vd}, 'w');
    add(kPj + "linear_1.bias", {d}, 'z');
    add(kPj + "linear_2.weight", {d, d}, 'w');
    add(kPj + "linear_2.bias", {d}, 'z');
    if (c.float_head == "linear") {
        add("float_head.weight", {1, d}, 'z');
        add("float_head.bias", {1}, 'h');
    } else {
        add("float_head.1.weight", {d, d}, 'w');
        add("float_head.1.bias", {d}, 'z');
        add("float_head.3.weight", {1, d}, 'z');
        add("float_head.3.bias", {1}, 'h');
    }
    std::vector<NamedF32> out;
    for (size_t i = 0; i < shapes.size(); ++i) out.push_back({shapes[i].first, shapes[i].second, &values[i]});
    return writeSafetensorsF32((fs::path(dir) / "model.safetensors").string(), out, {{"format", "pt"}});
}

// ---- load ----------------------------------------------------------------------------------------------

namespace {

int64_t intAt(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j[key].is_number_integer())
        throw Error(std::string("config.json: ") + key + " missing or not an integer");
    return j[key].get<int64_t>();
}

std::string headLastLayer(const std::string& type, const char* what) {
    return type == "linear" ? std::string("float_head.") + what : std::string("float_head.3.") + what;
}

} // namespace

Expected<LlavaTrainModel> LlavaTrainModel::load(const std::string& dir) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    LlavaTrainModel m;
    try {
        const nlohmann::json& j = ckpt->config().json();
        if (!j.contains("vision_config") || !j["vision_config"].is_object())
            return Status::error(dir + ": config.json has no vision_config");
        const nlohmann::json& vc = j["vision_config"];
        m.head_type_ = j.value("float_head_type", std::string("none"));
        auto first = igllmCellsFirst(j);
        if (!first) return Status::error(dir + ": " + first.error());
        m.cells_first_ = *first;
        if (m.head_type_ != "linear" && m.head_type_ != "tanh_mlp_gelu")
            return Status::error(
                dir + ": training needs a float head (float_head_type linear or tanh_mlp_gelu), not '" +
                m.head_type_ + "'");
        if (j.value("vision_feature_select_strategy", std::string("default")) != "default")
            return Status::error(dir + ": only the 'default' vision feature select strategy is supported");
        m.image_size_ = intAt(vc, "image_size");
        m.patch_ = intAt(vc, "patch_size");
        m.vd_ = intAt(vc, "hidden_size");
        m.vheads_ = intAt(vc, "num_attention_heads");
        m.vlayers_ = intAt(vc, "num_hidden_layers");
        if (m.patch_ <= 0 || m.image_size_ % m.patch_ != 0 || m.vd_ <= 0 || m.vheads_ <= 0 ||
            m.vd_ % m.vheads_ != 0 || m.vlayers_ <= 0 || m.vlayers_ > 1024)
            return Status::error(dir + ": config.json: implausible vision_config sizes");
        m.grid_ = m.image_size_ / m.patch_;
        m.veps_ = static_cast<float>(vc.value("layer_norm_eps", 1e-5));
        m.vact_ = vc.value("hidden_act", std::string("quick_gelu"));
        m.proj_act_ = j.value("projector_hidden_act", std::string("gelu"));
        for (const std::string& a : {m.vact_, m.proj_act_})
            if (a != "quick_gelu" && a != "gelu" && a != "gelu_new" && a != "gelu_pytorch_tanh" &&
                a != "silu")
                return Status::error(dir + ": activation '" + a + "' is not supported");
        const int64_t fl = j.value("vision_feature_layer", int64_t{-2});
        m.feature_layers_ = fl < 0 ? m.vlayers_ + 1 + fl : fl;
        if (m.feature_layers_ < 0 || m.feature_layers_ > m.vlayers_)
            return Status::error(dir + ": config.json: vision_feature_layer out of range");
        m.image_token_ =
            j.contains("image_token_index") ? intAt(j, "image_token_index") : intAt(j, "image_token_id");
    } catch (const std::exception& e) {
        return Status::error(dir + ": " + e.what());
    }
    if (ckpt->has("model.language_model.embed_tokens.weight"))
        return Status::error(dir +
                             ": training reads the transformers 4.x LLaVA naming (language_model.model.*)");
    auto lm = LlamaTrainModel::load(dir, LmLayout{kLmPrefix, kLmHead});
    if (!lm) return lm.status();
    m.lm_ = std::move(*lm);
    m.lm_cfg_ = m.lm_.config();
    auto tok = Tokenizer::load(dir);
    if (!tok) return Status::error(dir + ": " + tok.error());
    m.tokenizer_ = std::move(*tok);
    m.num_token_ = m.tokenizer_.tokenId("[NUM]");
    if (m.num_token_ < 0 || m.num_token_ >= m.lm_cfg_.vocab)
        return Status::error(dir + ": the vocabulary has no [NUM] token inside the model's");
    if (m.image_token_ < 0 || m.image_token_ >= m.lm_cfg_.vocab)
        return Status::error(dir + ": the image token lies outside the vocabulary");
    m.config_json_ = readText(fs::path(dir) / "config.json");
    m.tokenizer_json_ = readText(fs::path(dir) / "tokenizer.json");
    m.tokenizer_config_json_ = readText(fs::path(dir) / "tokenizer_config.json");

    const int64_t vd = m.vd_, d = m.lm_cfg_.hidden, p = m.patch_, n = m.grid_ * m.grid_;
    const int64_t ff = [&] {
        const TensorInfo* fc1 = ckpt->find(kVt + "encoder.layers.0.mlp.fc1.weight");
        return fc1 && fc1->shape.size() == 2 ? fc1->shape[0] : int64_t{-1};
    }();
    std::vector<std::pair<std::string, Shape>> want = {
        {kVt + "embeddings.patch_embedding.weight", {vd, 3, p, p}},
        {kVt + "embeddings.class_embedding", {vd}},
        {kVt + "embeddings.position_embedding.weight", {n + 1, vd}},
        {kVt + "pre_layrnorm.weight", {vd}},
        {kVt + "pre_layrnorm.bias", {vd}}};
    for (int64_t l = 0; l < m.vlayers_; ++l) {
        const std::string pre = kVt + "encoder.layers." + std::to_string(l) + ".";
        for (const char* ln : {"layer_norm1", "layer_norm2"}) {
            want.push_back({pre + ln + ".weight", {vd}});
            want.push_back({pre + ln + ".bias", {vd}});
        }
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            want.push_back({pre + "self_attn." + proj + ".weight", {vd, vd}});
            want.push_back({pre + "self_attn." + proj + ".bias", {vd}});
        }
        want.push_back({pre + "mlp.fc1.weight", {ff, vd}});
        want.push_back({pre + "mlp.fc1.bias", {ff}});
        want.push_back({pre + "mlp.fc2.weight", {vd, ff}});
        want.push_back({pre + "mlp.fc2.bias", {vd}});
    }
    want.push_back({kPj + "linear_1.weight", {d, vd}});
    want.push_back({kPj + "linear_1.bias", {d}});
    want.push_back({kPj + "linear_2.weight", {d, d}});
    want.push_back({kPj + "linear_2.bias", {d}});
    if (m.head_type_ == "tanh_mlp_gelu") {
        want.push_back({"float_head.1.weight", {d, d}});
        want.push_back({"float_head.1.bias", {d}});
    }
    want.push_back({headLastLayer(m.head_type_, "weight"), {1, d}});
    want.push_back({headLastLayer(m.head_type_, "bias"), {1}});

    auto backend = createBackend("cpu", 1);
    if (!backend) return backend.status();
    auto& params = m.lm_.parameters();
    for (const auto& [name, shape] : want) {
        const TensorInfo* info = ckpt->find(name);
        if (!info) return Status::error(dir + " lacks tensor " + name);
        if (info->shape != shape)
            return Status::error("tensor " + name + " in " + dir + " has shape " + shapeString(info->shape) +
                                 ", config.json expects " + shapeString(shape));
        auto t = ckpt->load(name, **backend);
        if (!t) return t.status();
        if (t->dtype() != DType::F32 && t->dtype() != DType::F16 && t->dtype() != DType::BF16)
            return Status::error("tensor " + name + " in " + dir + " is not a float tensor");
        Parameter<float> prm;
        prm.name = name;
        prm.shape = shape;
        prm.value = (*backend)->readF32(*t);
        if (name == headLastLayer(m.head_type_, "bias"))
            for (float& v : prm.value) v /= kFloatHeadUnit;
        prm.zeroGrad();
        m.index_[name] = params.size();
        params.push_back(std::move(prm));
    }
    return m;
}

Parameter<float>& LlavaTrainModel::param(const std::string& name) {
    auto it = index_.find(name);
    TS_CHECK(it != index_.end(), "model has no tensor " + name);
    return lm_.parameters()[it->second];
}

Var LlavaTrainModel::leaf(Tape<float>& t, const std::string& name) {
    return t.leaf(param(name));
}

// ---- forward -------------------------------------------------------------------------------------------

Var LlavaTrainModel::activation(Tape<float>& t, Var x, const std::string& act) {
    if (act == "gelu") return t.gelu(x, Gelu::Erf);
    if (act == "gelu_new" || act == "gelu_pytorch_tanh") return t.gelu(x, Gelu::Tanh);
    if (act == "silu") return t.silu(x);
    // quick_gelu: x·sigmoid(1.702x) = silu(1.702x) / 1.702
    return t.scale(t.silu(t.scale(x, 1.702f)), 1.0f / 1.702f);
}

LlavaTrainModel::Forward LlavaTrainModel::forward(Tape<float>& t, const LlavaBatch& batch,
                                                  float float_weight) {
    const int64_t b = static_cast<int64_t>(batch.sequences.size());
    const int64_t s = image_size_, n = grid_ * grid_, vd = vd_, d = lm_cfg_.hidden, v = lm_cfg_.vocab;
    TS_CHECK(b > 0, "forward: an empty batch");
    TS_CHECK(static_cast<int64_t>(batch.pixels.size()) == b * 3 * s * s,
             "forward: " + std::to_string(batch.pixels.size()) + " pixel values for " + std::to_string(b) +
                 " images of 3×" + std::to_string(s) + "×" + std::to_string(s));

    // Vision tower: patches as rows, CLS first, positions added, pre-LayerNorm.
    Var patches = t.channelsLast(t.conv2d(t.constant(batch.pixels, {b, 3, s, s}),
                                          leaf(t, kVt + "embeddings.patch_embedding.weight"), Var{},
                                          static_cast<int>(patch_), 0)); // [B·N, vd], rows (b, y, x)
    const int64_t rows = b * (n + 1);
    std::vector<int64_t> patch_of(static_cast<size_t>(rows), 0), cls_of(static_cast<size_t>(rows), 0), pos_of;
    std::vector<float> is_patch(static_cast<size_t>(rows * vd), 1.0f),
        is_cls(static_cast<size_t>(rows * vd), 0.0f);
    std::vector<int64_t> keep; // rows after CLS, for the features
    for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t i = 0; i <= n; ++i) {
            const int64_t r = bi * (n + 1) + i;
            pos_of.push_back(i);
            if (i == 0) {
                std::fill_n(is_patch.begin() + r * vd, vd, 0.0f);
                std::fill_n(is_cls.begin() + r * vd, vd, 1.0f);
            } else {
                patch_of[static_cast<size_t>(r)] = bi * n + i - 1;
                keep.push_back(r);
            }
        }
    Var tokens =
        t.add(t.mul(t.embedding(patches, patch_of), t.constant(std::move(is_patch), {rows, vd})),
              t.mul(t.embedding(t.reshape(leaf(t, kVt + "embeddings.class_embedding"), {1, vd}), cls_of),
                    t.constant(std::move(is_cls), {rows, vd})));
    Var h = t.add(tokens, t.embedding(leaf(t, kVt + "embeddings.position_embedding.weight"), pos_of));
    h = t.reshape(
        t.layerNorm(h, leaf(t, kVt + "pre_layrnorm.weight"), leaf(t, kVt + "pre_layrnorm.bias"), veps_),
        {b, n + 1, vd});
    const AttentionSpec full{vheads_, vheads_, vd / vheads_, false, {}};
    for (int64_t l = 0; l < feature_layers_; ++l) {
        const std::string p = kVt + "encoder.layers." + std::to_string(l) + ".";
        auto lin = [&](Var x, const std::string& name) {
            return t.linear(x, leaf(t, p + name + ".weight"), leaf(t, p + name + ".bias"));
        };
        Var a = t.layerNorm(h, leaf(t, p + "layer_norm1.weight"), leaf(t, p + "layer_norm1.bias"), veps_);
        a = t.attention(lin(a, "self_attn.q_proj"), lin(a, "self_attn.k_proj"), lin(a, "self_attn.v_proj"),
                        full);
        h = t.add(h, lin(a, "self_attn.out_proj"));
        Var m = t.layerNorm(h, leaf(t, p + "layer_norm2.weight"), leaf(t, p + "layer_norm2.bias"), veps_);
        h = t.add(h, lin(activation(t, lin(m, "mlp.fc1"), vact_), "mlp.fc2"));
    }
    Var feats = t.embedding(t.reshape(h, {rows, vd}), keep); // [B·N, vd], CLS dropped
    Var proj = t.linear(
        activation(t, t.linear(feats, leaf(t, kPj + "linear_1.weight"), leaf(t, kPj + "linear_1.bias")),
                   proj_act_),
        leaf(t, kPj + "linear_2.weight"), leaf(t, kPj + "linear_2.bias")); // [B·N, D]

    // LM input: text embeddings with each image's placeholders replaced, in order, by its features;
    // sequences padded at the end (causal attention: padding never reaches earlier positions).
    int64_t len = 0;
    for (const auto& sq : batch.sequences) len = std::max<int64_t>(len, static_cast<int64_t>(sq.ids.size()));
    std::vector<int64_t> text_ids(static_cast<size_t>(b * len), kPad),
        feat_of(static_cast<size_t>(b * len), 0);
    std::vector<float> is_text(static_cast<size_t>(b * len * d), 1.0f),
        is_image(static_cast<size_t>(b * len * d), 0.0f);
    std::vector<int64_t> targets(static_cast<size_t>(b * len), -100), num_rows;
    std::vector<float> num_target, num_weight;
    for (int64_t bi = 0; bi < b; ++bi) {
        const LlavaSequence& sq = batch.sequences[static_cast<size_t>(bi)];
        const int64_t sl = static_cast<int64_t>(sq.ids.size());
        int64_t seen = 0;
        for (int64_t i = 0; i < sl; ++i) {
            const int64_t r = bi * len + i, id = sq.ids[static_cast<size_t>(i)];
            TS_CHECK(id >= 0 && id < v,
                     "forward: token id " + std::to_string(id) + " outside the vocabulary");
            if (id == image_token_) {
                TS_CHECK(seen < n, "forward: sequence " + std::to_string(bi) + " has more than " +
                                       std::to_string(n) + " image placeholders");
                feat_of[static_cast<size_t>(r)] = bi * n + seen++;
                std::fill_n(is_text.begin() + r * d, d, 0.0f);
                std::fill_n(is_image.begin() + r * d, d, 1.0f);
            } else {
                text_ids[static_cast<size_t>(r)] = id;
            }
            // Position i predicts token i + 1: targets are the program and the end-of-text token.
            if (i + 1 < sl && i + 1 >= sq.prompt_len)
                targets[static_cast<size_t>(r)] = sq.ids[static_cast<size_t>(i + 1)];
        }
        TS_CHECK(seen == n, "forward: sequence " + std::to_string(bi) + " has " + std::to_string(seen) +
                                " image placeholders, the image gives " + std::to_string(n));
        for (size_t k = 0; k < sq.number_at.size(); ++k) {
            const int64_t at = sq.number_at[k];
            TS_CHECK(at >= sq.prompt_len && at < sl && sq.ids[static_cast<size_t>(at)] == num_token_,
                     "forward: a number target is not at a [NUM] token");
            num_rows.push_back(bi * len + at - 1); // the hidden state that predicts [NUM]
            const float w = 1.0f / numberFieldScale(sq.number_field[k]);
            num_weight.push_back(w);
            num_target.push_back(sq.number_value[k] * w);
        }
    }
    Var text = t.embedding(t.leaf(*lm_.find(kLmPrefix + "embed_tokens.weight")), text_ids);
    Var embeds = t.add(t.mul(text, t.constant(std::move(is_text), {b * len, d})),
                       t.mul(t.embedding(proj, feat_of), t.constant(std::move(is_image), {b * len, d})));
    Var hidden = lm_.hiddenFromEmbeds(t, t.reshape(embeds, {b, len, d}));
    Forward f;
    f.length = len;
    f.image_features = proj;
    f.logits = lm_.logits(t, hidden);
    f.cross_entropy = t.crossEntropy(t.reshape(f.logits, {b * len, v}), targets, -100);

    // Float head at every [NUM]; the last layer's bias in kFloatHeadUnit units.
    const int64_t r = static_cast<int64_t>(num_rows.size());
    if (r == 0) {
        f.float_values = t.constant({}, {0, 1});
        f.float_mse = t.constant({0.0f}, {1});
    } else {
        Var x = t.embedding(t.reshape(hidden, {b * len, d}), num_rows);
        if (head_type_ == "tanh_mlp_gelu")
            x = t.gelu(t.linear(t.tanh(x), leaf(t, "float_head.1.weight"), leaf(t, "float_head.1.bias")),
                       Gelu::Erf);
        f.float_values = t.linear(x, leaf(t, headLastLayer(head_type_, "weight")),
                                  t.scale(leaf(t, headLastLayer(head_type_, "bias")), kFloatHeadUnit));
        f.float_mse = t.mse(t.mul(f.float_values, t.constant(std::move(num_weight), {r, 1})),
                            t.constant(std::move(num_target), {r, 1}));
    }
    f.loss = t.add(f.cross_entropy, t.scale(f.float_mse, float_weight));
    return f;
}

// ---- save ----------------------------------------------------------------------------------------------

Status LlavaTrainModel::save(const std::string& dir, DType dtype) const {
    if (dtype != DType::F16 && dtype != DType::BF16) return Status::error("a model is saved in f16 or bf16");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    for (const auto& [name, body] : {std::pair<const char*, const std::string&>{"config.json", config_json_},
                                     {"tokenizer.json", tokenizer_json_},
                                     {"tokenizer_config.json", tokenizer_config_json_}})
        if (Status s = writeText(fs::path(dir) / name, body); !s.ok()) return s;
    // The head stays f32: its output is a number written into the program, and f16's 11 bits would
    // cost positions a few hundredths of a unit. Its last bias trains in units of kFloatHeadUnit, folded
    // in here so the saved head outputs the number itself.
    const std::string scaled = headLastLayer(head_type_, "bias");
    std::vector<float> scaled_value;
    std::vector<NamedF32> out;
    for (const auto& p : lm_.parameters()) {
        const DType stored = p.name.rfind("float_head.", 0) == 0 ? DType::F32 : dtype;
        if (p.name != scaled) {
            out.push_back({p.name, p.shape, &p.value, stored});
            continue;
        }
        scaled_value = p.value;
        for (float& v : scaled_value) v *= kFloatHeadUnit;
        out.push_back({p.name, p.shape, &scaled_value, stored});
    }
    return writeSafetensorsF32((fs::path(dir) / "model.safetensors").string(), out, {{"format", "pt"}});
}

} // namespace tessera::train
