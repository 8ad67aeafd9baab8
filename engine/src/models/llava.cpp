// LLaVA: CLIP vision tower + projector + Llama LM (checkpoints as transformers saves them, in either
// the `language_model.model.*` / `vision_tower.*` or the `model.language_model.*` / `model.vision_tower.*`
// naming), with IG-LLM's optional float head.
#include <cmath>

#include "models/llava_model.h"
#include "models/vit_block.h"

namespace tessera {

namespace {

using ClipLayer = models::VitLayer;

class Llava final : public LlavaModel {
public:
    CausalLM& lm() override { return *lm_; }
    Tensor imageFeatures(const Tensor& pixels) override;
    Tensor inputEmbeds(const Tensor& input_ids, const Tensor& pixels) override;
    FloatHeadType floatHeadType() const override { return head_type; }
    std::vector<float> floatValues(const Tensor& hidden) override;

    std::unique_ptr<CausalLM> lm_;
    Backend* be_ = nullptr;
    // vision tower
    Tensor patch_w, cls, pos, pre_w, pre_b;
    std::vector<ClipLayer> layers;
    int64_t vd = 0, heads = 0, patch = 0, feature_layers = 0;
    float eps = 1e-5f;
    Activation act = Activation::QuickGelu;
    // projector
    Tensor p1, p1_b, p2, p2_b;
    Activation proj_act = Activation::Gelu;
    int64_t image_token = -1;
    // float head (IG-LLM): linear uses h_w/h_b; tanh_mlp_gelu uses h1_w/h1_b then h_w/h_b
    FloatHeadType head_type = FloatHeadType::None;
    Tensor h1_w, h1_b, h_w, h_b;
};

FloatHeadType floatHeadTypeFrom(const nlohmann::json& j) {
    const nlohmann::json* holder = nullptr;
    if (j.contains("float_head_type"))
        holder = &j;
    else if (j.contains("text_config") && j["text_config"].is_object() &&
             j["text_config"].contains("float_head_type"))
        holder = &j["text_config"];
    if (!holder || (*holder)["float_head_type"].is_null()) return FloatHeadType::None;
    TS_CHECK((*holder)["float_head_type"].is_string(), "config.json: float_head_type is not a string");
    const std::string name = (*holder)["float_head_type"].get<std::string>();
    if (name == "none") return FloatHeadType::None;
    if (name == "linear") return FloatHeadType::Linear;
    if (name == "tanh_mlp_gelu") return FloatHeadType::TanhMlpGelu;
    throw Error("config.json: float_head_type '" + name +
                "' is not supported (none, linear or tanh_mlp_gelu)");
}

Activation activationNamed(const nlohmann::json& j, const char* key, const char* fallback) {
    const std::string name = j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
    if (name == "quick_gelu") return Activation::QuickGelu;
    if (name == "gelu") return Activation::Gelu;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
    if (name == "silu") return Activation::Silu;
    throw Error(std::string("config.json: ") + key + " '" + name + "' is not supported");
}

int64_t intAt(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_number_integer(), std::string("config.json: ") + key + " missing or not an integer");
    return j[key].get<int64_t>();
}

Tensor Llava::imageFeatures(const Tensor& pixels) {
    Backend& be = *be_;
    TS_CHECK(pixels.rank() == 4 && pixels.dim(1) == 3, "pixel_values must be [B, 3, S, S]");
    const int64_t b = pixels.dim(0);
    Tensor x = be.conv2d(pixels, patch_w, nullptr, static_cast<int>(patch), 0); // [B, D, g, g]
    const int64_t n = x.dim(2) * x.dim(3);
    TS_CHECK(n + 1 == pos.dim(0), "image size does not match the vision tower's position table");
    x = be.transposeLast2(x.reshape({b, vd, n})); // [B, N, D]
    Tensor cls_rows = be.gatherRows(cls.reshape({1, vd}), std::vector<int64_t>(static_cast<size_t>(b), 0)).reshape({b, 1, vd});
    Tensor h = be.add(be.concat(cls_rows, x, 1), pos); // pos [N+1, D] broadcasts over the batch
    h = be.layerNorm(h, &pre_w, &pre_b, eps);
    // Features come out of layer `feature_layers` (vision_feature_layer -2 = all but the last layer).
    for (int64_t l = 0; l < feature_layers; ++l)
        h = models::vitLayerForward(be, layers[static_cast<size_t>(l)], h, heads, eps, act);
    Tensor feats = be.slice(h, 1, 1, n + 1); // drop CLS ("default" select strategy)
    return be.matmul(be.activation(be.matmul(feats, p1, &p1_b), proj_act), p2, &p2_b);
}

Tensor Llava::inputEmbeds(const Tensor& input_ids, const Tensor& pixels) {
    Backend& be = *be_;
    const std::vector<int64_t> ids = be.readI64(input_ids);
    const int64_t b = input_ids.dim(0), t = input_ids.dim(1);
    // Placeholders become a valid id for the lookup; their rows are replaced below.
    std::vector<int64_t> safe = ids;
    std::vector<int64_t> rows; // source row per output row: < b*t text, >= b*t image feature
    Tensor feats = imageFeatures(pixels);
    const int64_t nf = feats.dim(1), d = feats.dim(2);
    int64_t seen = 0;
    for (int64_t i = 0; i < b * t; ++i) {
        if (ids[static_cast<size_t>(i)] == image_token) {
            safe[static_cast<size_t>(i)] = 0;
            rows.push_back(b * t + seen++);
        } else {
            rows.push_back(i);
        }
    }
    TS_CHECK(seen == b * nf, "the prompt has " + std::to_string(seen) + " image placeholders, the images give " +
                                 std::to_string(b * nf) + " features");
    Tensor text = lm_->embed(be.fromI64(safe, {b, t})).reshape({b * t, d});
    Tensor all = be.concat(text, feats.reshape({b * nf, d}), 0);
    return be.gatherRows(all, rows).reshape({b, t, d});
}

std::vector<float> Llava::floatValues(const Tensor& hidden) {
    Backend& be = *be_;
    TS_CHECK(head_type != FloatHeadType::None, "this checkpoint has no float head (float_head_type is none)");
    const int64_t d = lm_->config().hidden;
    TS_CHECK(hidden.rank() >= 1 && hidden.dim(hidden.rank() - 1) == d,
             "float head input must end in the hidden size " + std::to_string(d));
    const int64_t rows = hidden.numel() / d;
    Tensor x = hidden.reshape({rows, d});
    if (head_type == FloatHeadType::TanhMlpGelu) {
        // The backends have no tanh op; the head sees one hidden state per number, so the tanh runs
        // on the host over those few rows and only the two products go back to the backend.
        std::vector<float> v = be.readF32(x);
        for (float& e : v) e = std::tanh(e);
        x = be.activation(be.matmul(be.fromF32(v, {rows, d}), h1_w, &h1_b), Activation::Gelu);
    }
    return be.readF32(be.matmul(x, h_w, &h_b));
}

} // namespace

const char* floatHeadTypeName(FloatHeadType type) {
    switch (type) {
    case FloatHeadType::Linear:
        return "linear";
    case FloatHeadType::TanhMlpGelu:
        return "tanh_mlp_gelu";
    case FloatHeadType::None:
        break;
    }
    return "none";
}

Expected<std::unique_ptr<LlavaModel>> LlavaModel::load(const Checkpoint& ckpt, Backend& be) {
    try {
        const auto& j = ckpt.config().json();
        TS_CHECK(j.contains("vision_config") && j["vision_config"].is_object(), "config.json has no vision_config");
        const auto& vc = j["vision_config"];
        auto m = std::make_unique<Llava>();
        m->be_ = &be;
        // Two namings: transformers 4.x saves `language_model.model.*`, 5.x `model.language_model.*`.
        const bool nested = ckpt.has("model.language_model.embed_tokens.weight");
        const std::string vt = nested ? "model.vision_tower." : "vision_tower.";
        const std::string pj = nested ? "model.multi_modal_projector." : "multi_modal_projector.";
        LmLayout layout;
        layout.prefix = nested ? "model.language_model." : "language_model.model.";
        layout.lm_head = nested ? "lm_head.weight" : "language_model.lm_head.weight";
        auto lm = loadCausalLM(ckpt, be, layout);
        if (!lm) return lm.status();
        m->lm_ = std::move(*lm);

        m->vd = intAt(vc, "hidden_size");
        m->heads = intAt(vc, "num_attention_heads");
        m->patch = intAt(vc, "patch_size");
        const int64_t n_layers = intAt(vc, "num_hidden_layers"), ff = intAt(vc, "intermediate_size");
        TS_CHECK(m->vd > 0 && m->heads > 0 && m->vd % m->heads == 0 && m->patch > 0 && n_layers > 0 && n_layers <= 1024,
                 "config.json: implausible vision_config sizes");
        m->eps = static_cast<float>(vc.value("layer_norm_eps", 1e-5));
        m->act = activationNamed(vc, "hidden_act", "quick_gelu");
        m->proj_act = activationNamed(j, "projector_hidden_act", "gelu");
        const int64_t feature_layer = j.value("vision_feature_layer", -2);
        m->feature_layers = feature_layer < 0 ? n_layers + 1 + feature_layer : feature_layer;
        TS_CHECK(m->feature_layers >= 0 && m->feature_layers <= n_layers, "config.json: vision_feature_layer out of range");
        TS_CHECK(j.value("vision_feature_select_strategy", std::string("default")) == "default",
                 "only the 'default' vision feature select strategy is supported");
        m->image_token = j.contains("image_token_index") ? intAt(j, "image_token_index") : intAt(j, "image_token_id");

        WeightBinder wb(ckpt, be);
        const int64_t vd = m->vd, d = m->lm_->config().hidden;
        m->patch_w = wb.get(vt + "embeddings.patch_embedding.weight", {vd, 3, m->patch, m->patch});
        m->cls = wb.get(vt + "embeddings.class_embedding", {vd});
        m->pos = wb.get(vt + "embeddings.position_embedding.weight");
        m->pre_w = wb.get(vt + "pre_layrnorm.weight", {vd});
        m->pre_b = wb.get(vt + "pre_layrnorm.bias", {vd});
        for (int64_t l = 0; l < n_layers; ++l) {
            const std::string p = vt + "encoder.layers." + std::to_string(l) + ".";
            ClipLayer w;
            w.ln1_w = wb.get(p + "layer_norm1.weight", {vd});
            w.ln1_b = wb.get(p + "layer_norm1.bias", {vd});
            w.ln2_w = wb.get(p + "layer_norm2.weight", {vd});
            w.ln2_b = wb.get(p + "layer_norm2.bias", {vd});
            w.q_w = wb.get(p + "self_attn.q_proj.weight", {vd, vd});
            w.q_b = wb.get(p + "self_attn.q_proj.bias", {vd});
            w.k_w = wb.get(p + "self_attn.k_proj.weight", {vd, vd});
            w.k_b = wb.get(p + "self_attn.k_proj.bias", {vd});
            w.v_w = wb.get(p + "self_attn.v_proj.weight", {vd, vd});
            w.v_b = wb.get(p + "self_attn.v_proj.bias", {vd});
            w.o_w = wb.get(p + "self_attn.out_proj.weight", {vd, vd});
            w.o_b = wb.get(p + "self_attn.out_proj.bias", {vd});
            w.fc1_w = wb.get(p + "mlp.fc1.weight", {ff, vd});
            w.fc1_b = wb.get(p + "mlp.fc1.bias", {ff});
            w.fc2_w = wb.get(p + "mlp.fc2.weight", {vd, ff});
            w.fc2_b = wb.get(p + "mlp.fc2.bias", {vd});
            m->layers.push_back(std::move(w));
        }
        m->p1 = wb.get(pj + "linear_1.weight", {d, vd});
        m->p1_b = wb.get(pj + "linear_1.bias", {d});
        m->p2 = wb.get(pj + "linear_2.weight", {d, d});
        m->p2_b = wb.get(pj + "linear_2.bias", {d});
        m->head_type = floatHeadTypeFrom(j);
        if (m->head_type != FloatHeadType::None) {
            std::string hp = "float_head.";
            for (const char* p : {"float_head.", "model.float_head.", "language_model.float_head."}) {
                const std::string probe =
                    std::string(p) + (m->head_type == FloatHeadType::Linear ? "weight" : "1.weight");
                if (wb.has(probe)) {
                    hp = p;
                    break;
                }
            }
            if (m->head_type == FloatHeadType::Linear) {
                m->h_w = wb.get(hp + "weight", {1, d});
                m->h_b = wb.get(hp + "bias", {1});
            } else {
                m->h1_w = wb.get(hp + "1.weight", {d, d});
                m->h1_b = wb.get(hp + "1.bias", {d});
                m->h_w = wb.get(hp + "3.weight", {1, d});
                m->h_b = wb.get(hp + "3.bias", {1});
            }
        }
        Status s = wb.finish();
        if (!s.ok()) return Status::error(ckpt.dir() + ": " + s.message());
        return std::unique_ptr<LlavaModel>(std::move(m));
    } catch (const Error& e) {
        return Status::error(ckpt.dir() + ": " + e.what());
    } catch (const std::exception& e) {
        return Status::error(ckpt.dir() + ": malformed LLaVA checkpoint: " + e.what());
    }
}

} // namespace tessera
