// Janus-Pro: the name map between layouts, config reading (both styles), loading, and the
// generation and understanding paths. Sections: name map · Binder · config · model · load.
#include "models/janus_model.h"

#include "models/janus_parts.h"
#include "models/transformer.h"

#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace tessera {
namespace janus {

// ---- name map ------------------------------------------------------------------------------------------

namespace {

bool startsWith(const std::string& s, const std::string& p) {
    return s.compare(0, p.size(), p) == 0;
}

// When `s` starts with `prefix`, sets `rest` to what follows it.
bool after(const std::string& s, const std::string& prefix, std::string& rest) {
    if (!startsWith(s, prefix)) return false;
    rest = s.substr(prefix.size());
    return true;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out(1);
    for (char c : s) {
        if (c == '.')
            out.emplace_back();
        else
            out.back() += c;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
    return out;
}

// VQ model: `up`/`down` levels are `conv_blocks`, their `block`s are `res`, and the middle is `mid.0/1/2`.
std::string vqToDeepSeek(const std::string& rest) {
    std::vector<std::string> seg = split(rest);
    for (size_t i = 0; i < seg.size(); ++i) {
        if (seg[i] == "up" || seg[i] == "down")
            seg[i] = "conv_blocks";
        else if (seg[i] == "block" && i >= 2 && seg[i - 2] == "conv_blocks")
            seg[i] = "res";
        else if (i >= 1 && seg[i - 1] == "mid") {
            if (seg[i] == "block_1")
                seg[i] = "0";
            else if (seg[i] == "attn_1")
                seg[i] = "1";
            else if (seg[i] == "block_2")
                seg[i] = "2";
        }
    }
    return join(seg);
}

// Vision tower (timm): fused qkv, `blocks.N`, `norm1/2`, `attn.proj`, `pos_embed` [1, N, D].
TensorSource visionToDeepSeek(const std::string& name) {
    const std::string p = "vision_model.vision_tower.";
    std::string r;
    if (after(name, "embeddings.patch_embedding.", r)) return {p + "patch_embed.proj." + r};
    if (name == "embeddings.position_embedding.weight") return {p + "pos_embed", -1, 0, true};
    if (after(name, "post_layernorm.", r)) return {p + "norm." + r};
    std::vector<std::string> seg = split(name);
    if (seg.size() < 4 || seg[0] != "encoder" || seg[1] != "layers") return {p + name};
    const std::string tail = join(std::vector<std::string>(seg.begin() + 3, seg.end()));
    const std::string block = p + "blocks." + seg[2] + ".";
    if (after(tail, "layer_norm1.", r)) return {block + "norm1." + r};
    if (after(tail, "layer_norm2.", r)) return {block + "norm2." + r};
    if (after(tail, "self_attn.projection_layer.", r)) return {block + "attn.proj." + r};
    const char* qkv[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
    for (int i = 0; i < 3; ++i)
        if (after(tail, qkv[i], r)) return {block + "attn.qkv." + r, i, 3};
    return {block + tail};
}

} // namespace

TensorSource mapName(const std::string& canonical, Layout layout) {
    if (layout == Layout::Transformers) return {canonical};
    // Plain prefix renames, most specific first.
    static const std::pair<const char*, const char*> kPrefixes[] = {
        {"model.language_model.", "language_model.model."},
        {"lm_head.", "language_model.lm_head."},
        {"model.generation_embeddings.", "gen_embed."},
        {"model.generation_aligner.fc1.", "gen_aligner.layers.0."},
        {"model.generation_aligner.hidden_layers.0.", "gen_aligner.layers.2."},
        {"model.generation_head.proj_out.", "gen_head.output_mlp_projector."},
        {"model.generation_head.vision_head.", "gen_head.vision_head."},
        {"model.aligner.fc1.", "aligner.layers.0."},
        {"model.aligner.hidden_layers.0.", "aligner.layers.2."},
    };
    std::string r;
    for (const auto& [from, to] : kPrefixes)
        if (after(canonical, from, r)) return {to + r};
    if (after(canonical, "model.vqmodel.", r)) return {"gen_vision_model." + vqToDeepSeek(r)};
    if (after(canonical, "model.vision_model.", r)) return visionToDeepSeek(r);
    return {canonical};
}

// ---- Binder ---------------------------------------------------------------------------------------------

bool Binder::has(const std::string& canonical) const {
    return ckpt_.has(mapName(canonical, layout_).name);
}

Shape Binder::shapeOf(const std::string& canonical) const {
    const TensorSource src = mapName(canonical, layout_);
    const TensorInfo* info = ckpt_.find(src.name);
    if (!info) return {};
    Shape s = info->shape;
    if (src.parts > 0 && !s.empty()) s[0] /= src.parts;
    if (src.squeeze_leading && s.size() > 1 && s[0] == 1) s.erase(s.begin());
    return s;
}

Tensor Binder::get(const std::string& canonical, const Shape& expected) {
    const TensorSource src = mapName(canonical, layout_);
    const bool direct = src.parts == 0 && !src.squeeze_leading;
    // Resident bytes (after any widening to f32), each canonical tensor once.
    auto counted = [&](Tensor t) {
        if (t.defined() && counted_.insert(canonical).second) bytes_ += t.bytes();
        return t;
    };
    Tensor t = wb_.get(src.name, direct ? expected : Shape{});
    if (!t.defined() || direct) return counted(t);
    if (src.parts > 0) {
        if (t.rank() < 1 || t.dim(0) % src.parts != 0) {
            problems_.push_back("tensor " + src.name + " of shape " + shapeString(t.shape()) +
                                " cannot be split in " + std::to_string(src.parts));
            return {};
        }
        const int64_t n = t.dim(0) / src.parts;
        t = backend_.slice(t, 0, src.part * n, (src.part + 1) * n);
    }
    if (src.squeeze_leading && t.rank() > 1 && t.dim(0) == 1) {
        Shape s(t.shape().begin() + 1, t.shape().end());
        t = t.reshape(s);
    }
    if (!expected.empty() && t.shape() != expected) {
        problems_.push_back("tensor " + src.name + " gives shape " + shapeString(t.shape()) + ", expected " +
                            shapeString(expected));
        return {};
    }
    return counted(t);
}

Status Binder::finish() const {
    Status s = wb_.finish();
    std::string msg = s.ok() ? std::string() : s.message();
    for (const auto& p : problems_) msg += (msg.empty() ? "" : "; ") + p;
    return msg.empty() ? Status() : Status::error(msg);
}

Tensor Mlp2::forward(Backend& be, const Tensor& x) const {
    return be.matmul(be.activation(be.matmul(x, w1, &b1), act), w2, &b2);
}

// ---- config ---------------------------------------------------------------------------------------------

namespace {

Activation activationNamed(const std::string& name) {
    if (name == "gelu") return Activation::Gelu;
    if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast") return Activation::GeluTanh;
    if (name == "quick_gelu") return Activation::QuickGelu;
    if (name == "silu" || name == "swish") return Activation::Silu;
    if (name == "relu") return Activation::Relu;
    throw Error("config.json: activation '" + name + "' is not supported");
}

const nlohmann::json& object(const nlohmann::json& j, const char* key) {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : kEmpty;
}

int64_t intField(const nlohmann::json& j, const char* key, int64_t fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw Error(std::string("config.json: ") + key + " is not an integer");
    return it->get<int64_t>();
}

bool boolField(const nlohmann::json& j, const char* key, bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw Error(std::string("config.json: ") + key + " is not true or false");
    return it->get<bool>();
}

std::string stringField(const nlohmann::json& j, const char* key, const std::string& fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The original config names no image token id; the tokenizer in the same folder does.
int64_t placeholderFromTokenizer(const std::string& dir) {
    std::ifstream in(fs::path(dir) / "tokenizer.json");
    if (!in) return -1;
    nlohmann::json tok = nlohmann::json::parse(in, nullptr, false);
    if (!tok.is_object()) return -1;
    if (auto it = tok.find("added_tokens"); it != tok.end() && it->is_array())
        for (const auto& t : *it)
            if (t.is_object() && stringField(t, "content", "") == "<image_placeholder>")
                return intField(t, "id", -1);
    const auto& vocab = object(object(tok, "model"), "vocab");
    return intField(vocab, "<image_placeholder>", -1);
}

struct Settings {
    bool deepseek_config = false;
    int64_t image_token_id = -1;
    int64_t grid = 0;       // transformers: vq_config.num_patches
    int64_t image_size = 0; // DeepSeek: generated image side in pixels
    VisionSettings vision;
    Activation gen_act = Activation::Gelu;
    bool codebook_l2_norm = false;
};

Settings readSettings(const ModelConfig& cfg, const std::string& dir) {
    const nlohmann::json& j = cfg.json();
    Settings s;
    s.deepseek_config = j.contains("language_config");
    s.image_token_id = intField(j, "image_token_id", -1);
    if (!s.deepseek_config) {
        const auto& vc = object(j, "vision_config");
        const auto& vq = object(j, "vq_config");
        if (vc.value("use_qk_norm", false) == true)
            throw Error(
                "config.json: vision_config.use_qk_norm is not supported (Janus-Pro does not use it)");
        s.vision.heads = intField(vc, "num_attention_heads", 16);
        auto eps = vc.find("layer_norm_eps");
        if (eps != vc.end() && eps->is_number()) s.vision.layer_norm_eps = eps->get<float>();
        s.vision.act = activationNamed(stringField(vc, "hidden_act", "gelu"));
        s.gen_act = activationNamed(stringField(vq, "hidden_act", "gelu"));
        s.grid = intField(vq, "num_patches", 0);
        // transformers' JanusVQVAE quantiser does not normalise; a config may still ask for the original's.
        s.codebook_l2_norm = boolField(vq, "codebook_l2_norm", false);
    } else {
        // timm SigLIP towers (LayerNorm eps 1e-6, exact GELU) and mlp_gelu aligners, as the original code
        // builds them.
        const auto& vp = object(object(j, "vision_config"), "params");
        const std::string name = stringField(vp, "model_name", "");
        if (name.find("siglip_large") != std::string::npos || name.find("siglip_so400m") != std::string::npos)
            s.vision.heads = 16;
        s.vision.heads = intField(vp, "num_heads", s.vision.heads);
        s.image_size = intField(object(object(j, "gen_vision_config"), "params"), "image_size", 384);
        // The original VQ-16 normalises unless told otherwise (ModelArgs.codebook_l2_norm = True).
        s.codebook_l2_norm =
            boolField(object(object(j, "gen_vision_config"), "params"), "codebook_l2_norm", true);
    }
    if (s.image_token_id < 0) s.image_token_id = placeholderFromTokenizer(dir);
    return s;
}

} // namespace
} // namespace janus

// ---- model ----------------------------------------------------------------------------------------------

namespace {

using janus::Binder;
using janus::Layout;

class JanusModelImpl final : public JanusModel {
public:
    const JanusConfig& config() const override { return cfg_; }
    CausalLM& lm() override { return *lm_; }
    Backend& backend() const override { return *be_; }

    Tensor imageTokenEmbeds(const Tensor& ids) override {
        return gen_aligner_.forward(*be_, be_->embedding(gen_embed_, ids));
    }
    Tensor genHead(const Tensor& hidden) override { return gen_head_.forward(*be_, hidden); }
    Tensor decodeImageTokens(const Tensor& ids, int64_t h, int64_t w) override {
        return decodeCodes(codesFor(ids, h, w));
    }
    Tensor decodeCodes(const Tensor& codes) override { return vq_.decodeCodes(*be_, codes); }
    Tensor codesFor(const Tensor& ids, int64_t h, int64_t w) override {
        return vq_.codesFor(*be_, ids, h, w);
    }
    Tensor encodeImage(const Tensor& pixels) override { return encode(pixels).indices; }
    JanusEncoding encode(const Tensor& pixels) override {
        requireFull("the VQ encoder");
        janus::VqEncoding e = vq_.encode(*be_, pixels);
        return {e.pre_quant, e.quantized, e.indices};
    }
    Tensor imageFeatures(const Tensor& pixel_values) override {
        requireFull("the understanding vision tower");
        return aligner_.forward(*be_, vision_.forward(*be_, pixel_values));
    }
    void requireFull(const char* what) const {
        TS_CHECK(!generation_only_, std::string(what) + " was not loaded (the model was loaded for generation only)");
    }
    Tensor understandingEmbeds(const Tensor& input_ids, const Tensor& pixel_values) override;
    size_t weightBytes() const override { return lm_->weightBytes() + own_bytes_; }
    const LmLayout& lmLayout() const override { return lm_layout_; }
    Status overlayLm(const WeightOverlay& overlay) override {
        auto view = lm_->withOverlay(overlay);
        if (!view) return view.status();
        lm_ = std::move(*view);
        return Status();
    }

    JanusConfig cfg_;
    LmLayout lm_layout_;
    Backend* be_ = nullptr;
    std::unique_ptr<CausalLM> lm_;
    Tensor gen_embed_;
    janus::Mlp2 gen_aligner_, gen_head_, aligner_;
    janus::VqModel vq_;
    janus::VisionTower vision_;
    size_t own_bytes_ = 0;
    bool generation_only_ = false;
};

// Placeholders take the image features in order, across the whole batch (masked_scatter semantics):
// one gather over [text rows; feature rows].
Tensor JanusModelImpl::understandingEmbeds(const Tensor& input_ids, const Tensor& pixel_values) {
    requireFull("the understanding vision tower");
    Backend& be = *be_;
    TS_CHECK(input_ids.rank() == 2,
             "input_ids must be [batch, tokens], got " + shapeString(input_ids.shape()));
    TS_CHECK(cfg_.image_token_id >= 0, "this checkpoint names no image placeholder token (image_token_id)");
    const int64_t b = input_ids.dim(0), t = input_ids.dim(1), d = lm_->config().hidden;
    Tensor text = lm_->embed(input_ids).reshape({b * t, d});
    Tensor feats = imageFeatures(pixel_values);
    const int64_t n_feats = feats.dim(0) * feats.dim(1);
    std::vector<int64_t> ids = be.readI64(input_ids), index(ids.size());
    int64_t used = 0;
    for (size_t i = 0; i < ids.size(); ++i)
        index[i] = ids[i] == cfg_.image_token_id ? b * t + used++ : static_cast<int64_t>(i);
    TS_CHECK(used == n_feats, std::to_string(used) + " image placeholder tokens for " +
                                  std::to_string(n_feats) + " image features (" +
                                  std::to_string(cfg_.vision_tokens) + " per image)");
    Tensor table = be.concat(text, feats.reshape({n_feats, d}), 0);
    return be.gatherRows(table, index).reshape({b, t, d});
}

Expected<std::unique_ptr<CausalLM>> loadLm(const Checkpoint& ckpt, Backend& be, Layout layout,
                                           bool deepseek_config) {
    LmLayout lm_layout{janus::mapName("model.language_model.", layout).name,
                       janus::mapName("lm_head.weight", layout).name};
    if (!deepseek_config) return loadCausalLM(ckpt, be, lm_layout);
    // The original config keeps the Llama settings in language_config.
    nlohmann::json lc = ckpt.config().json()["language_config"];
    if (!lc.is_object()) return Status::error(ckpt.dir() + "/config.json: language_config is not an object");
    if (!lc.contains("tie_word_embeddings") && ckpt.config().json().contains("tie_word_embeddings"))
        lc["tie_word_embeddings"] = ckpt.config().json()["tie_word_embeddings"];
    auto parsed = ModelConfig::parse(lc.dump(), ckpt.dir() + "/config.json language_config");
    if (!parsed) return parsed.status();
    const std::string type = parsed->modelType();
    if (!type.empty() && type != "llama")
        return Status::error(ckpt.dir() + ": language model type '" + type +
                             "' is not supported (expected llama)");
    auto tc = models::llamaConfig(*parsed);
    if (!tc) return Status::error(ckpt.dir() + ": " + tc.error());
    return models::Transformer::load(ckpt, be, *tc, lm_layout);
}

} // namespace

// ---- load -----------------------------------------------------------------------------------------------

Expected<std::unique_ptr<JanusModel>> JanusModel::load(const Checkpoint& ckpt, Backend& backend, bool generation_only) {
    try {
        Layout layout;
        if (ckpt.has("model.language_model.embed_tokens.weight"))
            layout = Layout::Transformers;
        else if (ckpt.has("language_model.model.embed_tokens.weight"))
            layout = Layout::DeepSeek;
        else
            return Status::error(ckpt.dir() +
                                 ": not a Janus checkpoint (no model.language_model.* or "
                                 "language_model.model.* tensors; architecture '" +
                                 ckpt.config().architecture() + "')");
        janus::Settings s = janus::readSettings(ckpt.config(), ckpt.dir());
        auto m = std::make_unique<JanusModelImpl>();
        m->be_ = &backend;
        auto lm = loadLm(ckpt, backend, layout, s.deepseek_config);
        if (!lm) return lm.status();
        m->lm_ = std::move(*lm);
        m->lm_layout_ = LmLayout{janus::mapName("model.language_model.", layout).name,
                                 janus::mapName("lm_head.weight", layout).name};
        const int64_t d = m->lm_->config().hidden;

        Binder wb(ckpt, backend, layout);
        m->vq_.load(wb, backend, !generation_only);
        m->generation_only_ = generation_only;
        m->vq_.setCodebookL2Norm(s.codebook_l2_norm);
        const int64_t codes = m->vq_.codebookSize(), code_dim = m->vq_.codeDim();
        m->gen_embed_ = wb.get("model.generation_embeddings.weight", {codes, code_dim});
        auto mlp = [&](const std::string& p, const std::string& second, int64_t in, int64_t out,
                       Activation act) {
            janus::Mlp2 x;
            Shape s1 = wb.shapeOf(p + "." + (second == "proj" ? "proj_out" : "fc1") + ".weight");
            const int64_t mid = second == "proj" && s1.size() == 2 ? s1[0] : out;
            const std::string first = p + (second == "proj" ? ".proj_out" : ".fc1");
            const std::string last = p + (second == "proj" ? ".vision_head" : ".hidden_layers.0");
            x.w1 = wb.get(first + ".weight", {mid, in});
            x.b1 = wb.get(first + ".bias", {mid});
            x.w2 = wb.get(last + ".weight", {out, mid});
            x.b2 = wb.get(last + ".bias", {out});
            x.act = act;
            return x;
        };
        m->gen_aligner_ = mlp("model.generation_aligner", "fc", code_dim, d, s.gen_act);
        m->gen_head_ = mlp("model.generation_head", "proj", d, codes, s.gen_act);
        if (!generation_only) {
            m->vision_.load(wb, backend, s.vision);
            m->aligner_ = mlp("model.aligner", "fc", m->vision_.hidden(), d, s.vision.act);
        }
        Status st = wb.finish();
        if (!st.ok()) return Status::error(ckpt.dir() + ": " + st.message());
        m->own_bytes_ = wb.boundBytes();

        JanusConfig& c = m->cfg_;
        c.layout = layout == Layout::Transformers ? "transformers" : "deepseek";
        c.image_token_id = s.image_token_id;
        c.codebook_size = codes;
        c.code_dim = code_dim;
        const int64_t f = m->vq_.downsample();
        // Sizes from config.json are bounded before anything is computed from them (a grid of 2^32
        // would truncate to 0 in int and divide by zero further on).
        constexpr int64_t kMaxGrid = 1024, kMaxImageSize = 16384;
        if (s.grid > kMaxGrid || s.image_size > kMaxImageSize || f <= 0)
            return Status::error(ckpt.dir() + ": config.json asks for a generated image of " +
                                 (s.grid > 0 ? std::to_string(s.grid) + " tokens" : std::to_string(s.image_size) + " pixels") +
                                 " a side; Tessera supports up to " + std::to_string(kMaxGrid) + " tokens (" +
                                 std::to_string(kMaxImageSize) + " pixels)");
        c.grid = s.grid > 0 ? s.grid : (s.image_size > 0 ? s.image_size : 384) / f;
        c.image_size = c.grid * f;
        c.vision_tokens = generation_only ? 0 : m->vision_.tokens();
        if (c.grid <= 0) return Status::error(ckpt.dir() + ": generated image grid is empty");
        return std::unique_ptr<JanusModel>(std::move(m));
    } catch (const Error& e) {
        return Status::error(ckpt.dir() + ": " + e.what());
    } catch (const std::exception& e) {
        // nlohmann::json type errors on odd config values.
        return Status::error(ckpt.dir() + ": config.json: " + e.what());
    }
}

} // namespace tessera
