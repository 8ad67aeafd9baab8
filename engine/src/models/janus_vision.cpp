// Janus understanding encoder: SigLIP-style ViT (patch conv, learned positions, pre-LN layers with
// full attention and a GELU MLP, final LayerNorm). Transformers' JanusVisionModel, the original
// `vision_model.vision_tower` (timm).
#include "models/janus_parts.h"

#include <cmath>

namespace tessera::janus {

void VisionTower::load(Binder& wb, Backend& /*be*/, const VisionSettings& settings) {
    s_ = settings;
    const std::string p = "model.vision_model.";
    Shape ps = wb.shapeOf(p + "embeddings.patch_embedding.weight");
    if (ps.size() == 4 && ps[2] == ps[3]) {
        hidden_ = ps[0];
        patch_ = ps[2];
    } else if (!ps.empty()) {
        wb.problem("tensor " + p +
                   "embeddings.patch_embedding.weight must be [hidden, channels, p, p], got " +
                   shapeString(ps));
    }
    patch_w_ = wb.get(p + "embeddings.patch_embedding.weight");
    patch_b_ = wb.get(p + "embeddings.patch_embedding.bias", {hidden_});
    Shape pos = wb.shapeOf(p + "embeddings.position_embedding.weight");
    tokens_ = pos.size() == 2 ? pos[0] : 0;
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens_))));
    if (!pos.empty() && side * side != tokens_)
        wb.problem("vision position table of " + std::to_string(tokens_) + " rows is not a square grid");
    image_size_ = side * patch_;
    pos_ = wb.get(p + "embeddings.position_embedding.weight", {tokens_, hidden_});
    if (s_.heads <= 0 || (hidden_ > 0 && hidden_ % s_.heads != 0))
        wb.problem("vision encoder: " + std::to_string(s_.heads) + " heads do not divide hidden size " +
                   std::to_string(hidden_));
    const int64_t d = hidden_;
    for (size_t l = 0; wb.has(p + "encoder.layers." + std::to_string(l) + ".layer_norm1.weight"); ++l) {
        const std::string lp = p + "encoder.layers." + std::to_string(l) + ".";
        Layer y;
        y.ln1_w = wb.get(lp + "layer_norm1.weight", {d});
        y.ln1_b = wb.get(lp + "layer_norm1.bias", {d});
        y.q_w = wb.get(lp + "self_attn.q_proj.weight", {d, d});
        y.q_b = wb.get(lp + "self_attn.q_proj.bias", {d});
        y.k_w = wb.get(lp + "self_attn.k_proj.weight", {d, d});
        y.k_b = wb.get(lp + "self_attn.k_proj.bias", {d});
        y.v_w = wb.get(lp + "self_attn.v_proj.weight", {d, d});
        y.v_b = wb.get(lp + "self_attn.v_proj.bias", {d});
        y.o_w = wb.get(lp + "self_attn.projection_layer.weight", {d, d});
        y.o_b = wb.get(lp + "self_attn.projection_layer.bias", {d});
        y.ln2_w = wb.get(lp + "layer_norm2.weight", {d});
        y.ln2_b = wb.get(lp + "layer_norm2.bias", {d});
        Shape f1 = wb.shapeOf(lp + "mlp.fc1.weight");
        const int64_t ff = f1.size() == 2 ? f1[0] : 0;
        y.fc1_w = wb.get(lp + "mlp.fc1.weight", {ff, d});
        y.fc1_b = wb.get(lp + "mlp.fc1.bias", {ff});
        y.fc2_w = wb.get(lp + "mlp.fc2.weight", {d, ff});
        y.fc2_b = wb.get(lp + "mlp.fc2.bias", {d});
        layers_.push_back(std::move(y));
    }
    if (layers_.empty()) wb.get(p + "encoder.layers.0.layer_norm1.weight"); // reported missing
    post_w_ = wb.get(p + "post_layernorm.weight", {d});
    post_b_ = wb.get(p + "post_layernorm.bias", {d});
}

Tensor VisionTower::forward(Backend& be, const Tensor& pixels) const {
    TS_CHECK(pixels.rank() == 4 && pixels.dim(1) == patch_w_.dim(1) && pixels.dim(2) == image_size_ &&
                 pixels.dim(3) == image_size_,
             "understanding pixels must be [batch, " + std::to_string(patch_w_.dim(1)) + ", " +
                 std::to_string(image_size_) + ", " + std::to_string(image_size_) + "], got " +
                 shapeString(pixels.shape()));
    const int64_t b = pixels.dim(0), n = tokens_, d = hidden_, heads = s_.heads;
    Tensor x = be.conv2d(pixels, patch_w_, &patch_b_, static_cast<int>(patch_), 0); // [B, D, g, g]
    x = be.add(be.transposeLast2(x.reshape({b, d, n})), pos_);                      // [B, N, D]
    for (const Layer& y : layers_) x = models::vitLayerForward(be, y, x, heads, s_.layer_norm_eps, s_.act);
    return be.layerNorm(x, &post_w_, &post_b_, s_.layer_norm_eps);
}

} // namespace tessera::janus
