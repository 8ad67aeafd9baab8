// DiCoDe's 3D U-Net (DynamiCrafter layout): time and frame-stride embeddings, conv_in, init_attn,
// levels of [ResBlock (+ temporal conv) → SpatialTransformer → TemporalTransformer], Downsample and
// Upsample, skips, out. Sections: layout helpers · loading · blocks · forward.
//
// Activations are [B·T, C, H, W]. A temporal transformer needs each pixel as a sequence of its T frames,
// [(B·H·W), T, C]; three transposes of the last two dimensions get there and back.
#include "models/dicode_decoder_parts.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

namespace tessera::dicode {

namespace {

constexpr int kGroups = 32;

std::string at(const std::string& p, int64_t i) {
    return p + "." + std::to_string(i);
}

int64_t intParam(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_number_integer(),
             std::string("config.json: unet_config.params.") + key + " missing or not an integer");
    return j[key].get<int64_t>();
}

bool boolParam(const nlohmann::json& j, const char* key, bool fallback) {
    if (!j.contains(key)) return fallback;
    TS_CHECK(j[key].is_boolean(), std::string("config.json: unet_config.params.") + key + " must be a boolean");
    return j[key].get<bool>();
}

std::vector<int64_t> intList(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_array(), std::string("config.json: unet_config.params.") + key + " missing");
    std::vector<int64_t> out;
    for (const auto& v : j[key]) {
        TS_CHECK(v.is_number_integer(), std::string("config.json: unet_config.params.") + key + " must hold integers");
        out.push_back(v.get<int64_t>());
    }
    return out;
}

// A 1×1 Conv1d weight [out, in, 1] or a Linear weight [out, in], as [out, in].
Tensor matrix2d(WeightBinder& wb, const std::string& name, int64_t out, int64_t in, bool conv1d) {
    Tensor w = wb.get(name, conv1d ? Shape{out, in, 1} : Shape{out, in});
    return w.defined() ? w.reshape({out, in}) : w;
}

// [B·T, C, HW] → [(B·HW), T, C] and back.
Tensor toSequences(Backend& be, const Tensor& x, int64_t frames) {
    const int64_t n = x.dim(0), c = x.dim(1), hw = x.numel() / (n * c), b = n / frames;
    Tensor y = be.transposeLast2(x.reshape({n, c, hw}));              // [B·T, HW, C]
    y = be.transposeLast2(y.reshape({b, frames, hw * c}));             // [B, HW·C, T]
    return be.transposeLast2(y.reshape({b * hw, c, frames}));          // [B·HW, T, C]
}

Tensor fromSequences(Backend& be, const Tensor& s, int64_t batch, const Shape& frame_shape) {
    const int64_t frames = s.dim(1), c = s.dim(2), hw = s.dim(0) / batch;
    Tensor y = be.transposeLast2(s);                                   // [B·HW, C, T]
    y = be.transposeLast2(y.reshape({batch, hw * c, frames}));         // [B, T, HW·C]
    y = be.transposeLast2(y.reshape({batch * frames, hw, c}));         // [B·T, C, HW]
    return y.reshape(frame_shape);
}

// k/v [B, Lk, H·d] → the attention caches [B, H, Lk, d] (k first, then v).
std::pair<Tensor, Tensor> kvCaches(Backend& be, const Tensor& k, const Tensor& v, int64_t heads) {
    const int64_t b = k.dim(0), lk = k.dim(1), d = k.dim(2) / heads;
    Tensor kc = be.alloc(DType::F32, {b, heads, lk, d}), vc = be.alloc(DType::F32, {b, heads, lk, d});
    be.kvWrite(kc, vc, k.reshape({b, lk, heads, d}), v.reshape({b, lk, heads, d}), 0);
    return {kc, vc};
}

// Multi-head softmax attention of q [B, Lq, H·d] over caches [B, H, Lk, d] → [B, Lq, H·d].
Tensor attend(Backend& be, const Tensor& q, const Tensor& kc, const Tensor& vc) {
    const int64_t b = q.dim(0), lq = q.dim(1), inner = q.dim(2), heads = kc.dim(1), d = kc.dim(3);
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    return be.attention(q.reshape({b, lq, heads, d}), kc, vc, kc.dim(2), full, 1.0f / std::sqrt(static_cast<float>(d)))
        .reshape({b, lq, inner});
}

Tensor mha(Backend& be, const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads) {
    const auto [kc, vc] = kvCaches(be, k, v, heads);
    return attend(be, q, kc, vc);
}

// Adds e [N, C] to every pixel of x [N, C, H, W] (a per-sample, per-channel offset).
Tensor addPerSampleChannel(Backend& be, const Tensor& x, const Tensor& e) {
    const int64_t n = x.dim(0), c = x.dim(1), hw = x.numel() / (n * c);
    const Tensor ones = be.fromF32(std::vector<float>(static_cast<size_t>(hw), 1.0f), {hw, 1});
    return be.add(x, be.matmul(e.reshape({n * c, 1}), ones).reshape(x.shape()));
}

} // namespace

// ---- layout helpers ------------------------------------------------------------------------------------

Tensor framesFromVideo(Backend& be, const Tensor& x) {
    TS_CHECK(x.rank() == 5, "a video latent must be [B, C, T, H, W], got " + shapeString(x.shape()));
    const int64_t b = x.dim(0), c = x.dim(1), t = x.dim(2), h = x.dim(3), w = x.dim(4);
    Tensor y = be.transposeLast2(x.reshape({b, c, t * h * w})); // [B, T·HW, C]
    return be.transposeLast2(y.reshape({b * t, h * w, c})).reshape({b * t, c, h, w});
}

Tensor videoFromFrames(Backend& be, const Tensor& x, int64_t batch) {
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), t = n / batch;
    Tensor y = be.transposeLast2(x.reshape({n, c, h * w})); // [B·T, HW, C]
    return be.transposeLast2(y.reshape({batch, t * h * w, c})).reshape({batch, c, t, h, w});
}

// ---- loading -----------------------------------------------------------------------------------------

static void bindNorm(WeightBinder& wb, const std::string& p, int64_t ch, Tensor& w, Tensor& b) {
    TS_CHECK(ch % kGroups == 0, p + ": " + std::to_string(ch) + " channels cannot form 32 groups");
    w = wb.get(p + ".weight", {ch});
    b = wb.get(p + ".bias", {ch});
}

static void bindConv(WeightBinder& wb, const std::string& p, int64_t out, int64_t in, int64_t k, Tensor& w,
                     Tensor& b) {
    w = wb.get(p + ".weight", {out, in, k, k});
    b = wb.get(p + ".bias", {out});
}

static UnetResBlock bindRes(WeightBinder& wb, const std::string& p, int64_t in, int64_t out, int64_t emb,
                            bool temporal_conv) {
    UnetResBlock r;
    bindNorm(wb, p + ".in_layers.0", in, r.in_norm_w, r.in_norm_b);
    bindConv(wb, p + ".in_layers.2", out, in, 3, r.in_conv_w, r.in_conv_b);
    r.emb_w = wb.get(p + ".emb_layers.1.weight", {out, emb});
    r.emb_b = wb.get(p + ".emb_layers.1.bias", {out});
    bindNorm(wb, p + ".out_layers.0", out, r.out_norm_w, r.out_norm_b);
    bindConv(wb, p + ".out_layers.3", out, out, 3, r.out_conv_w, r.out_conv_b);
    if (in != out) bindConv(wb, p + ".skip_connection", out, in, 1, r.skip_w, r.skip_b);
    r.temporal_conv = temporal_conv;
    if (temporal_conv) {
        const std::string t = p + ".temopral_conv"; // sic: the official attribute name
        for (int i = 0; i < 4; ++i) {
            const std::string c = t + ".conv" + std::to_string(i + 1);
            bindNorm(wb, c + ".0", out, r.tnorm_w[i], r.tnorm_b[i]);
            const std::string conv = c + (i == 0 ? ".2" : ".3");
            r.tconv_w[i] = wb.get(conv + ".weight", {out, out, 3, 1, 1});
            r.tconv_b[i] = wb.get(conv + ".bias", {out});
        }
    }
    return r;
}

static UnetAttention bindAttn(WeightBinder& wb, const std::string& p, int64_t dim, int64_t ctx, int64_t heads,
                              bool image_tokens) {
    UnetAttention a;
    a.heads = heads;
    a.q_w = wb.get(p + ".to_q.weight", {dim, dim});
    a.k_w = wb.get(p + ".to_k.weight", {dim, ctx});
    a.v_w = wb.get(p + ".to_v.weight", {dim, ctx});
    a.out_w = wb.get(p + ".to_out.0.weight", {dim, dim});
    a.out_b = wb.get(p + ".to_out.0.bias", {dim});
    if (image_tokens) {
        a.k_ip_w = wb.get(p + ".to_k_ip.weight", {dim, ctx});
        a.v_ip_w = wb.get(p + ".to_v_ip.weight", {dim, ctx});
        Tensor alpha = wb.get(p + ".alpha", {});
        if (alpha.defined()) {
            TS_CHECK(alpha.numel() == 1, p + ".alpha must be a scalar");
            a.ip_gate = std::tanh(alpha.backend().readF32(alpha)[0]) + 1.0f;
        }
    }
    return a;
}

static UnetTransformer bindTransformer(WeightBinder& wb, const std::string& p, int64_t ch, int64_t heads,
                                       int64_t head_dim, int64_t ctx, bool temporal, bool conv1d, bool image_tokens) {
    UnetTransformer tr;
    tr.temporal = temporal;
    const int64_t inner = heads * head_dim;
    bindNorm(wb, p + ".norm", ch, tr.norm_w, tr.norm_b);
    tr.proj_in_w = matrix2d(wb, p + ".proj_in.weight", inner, ch, conv1d);
    tr.proj_in_b = wb.get(p + ".proj_in.bias", {inner});
    tr.proj_out_w = matrix2d(wb, p + ".proj_out.weight", ch, inner, conv1d);
    tr.proj_out_b = wb.get(p + ".proj_out.bias", {ch});
    UnetTransformerBlock b;
    const std::string q = p + ".transformer_blocks.0";
    b.norm1_w = wb.get(q + ".norm1.weight", {inner});
    b.norm1_b = wb.get(q + ".norm1.bias", {inner});
    b.norm2_w = wb.get(q + ".norm2.weight", {inner});
    b.norm2_b = wb.get(q + ".norm2.bias", {inner});
    b.norm3_w = wb.get(q + ".norm3.weight", {inner});
    b.norm3_b = wb.get(q + ".norm3.bias", {inner});
    b.attn1 = bindAttn(wb, q + ".attn1", inner, inner, heads, false);
    b.attn2 = bindAttn(wb, q + ".attn2", inner, temporal ? inner : ctx, heads, image_tokens && !temporal);
    b.ff_in_w = wb.get(q + ".ff.net.0.proj.weight", {8 * inner, inner});
    b.ff_in_b = wb.get(q + ".ff.net.0.proj.bias", {8 * inner});
    b.ff_out_w = wb.get(q + ".ff.net.2.weight", {inner, 4 * inner});
    b.ff_out_b = wb.get(q + ".ff.net.2.bias", {inner});
    tr.blocks.push_back(std::move(b));
    return tr;
}

void Unet::load(WeightBinder& wb, const nlohmann::json& j) {
    const std::string p = "model.diffusion_model";
    mc_ = intParam(j, "model_channels");
    in_ch_ = intParam(j, "in_channels");
    out_ch_ = intParam(j, "out_channels");
    context_dim_ = intParam(j, "context_dim");
    const int64_t nres = intParam(j, "num_res_blocks"), head_ch = intParam(j, "num_head_channels");
    const std::vector<int64_t> mult = intList(j, "channel_mult"), attn_res = intList(j, "attention_resolutions");
    TS_CHECK(mc_ > 0 && in_ch_ > 0 && out_ch_ > 0 && context_dim_ > 0 && nres > 0 && head_ch > 0 && !mult.empty(),
             "config.json: U-Net sizes must be positive");
    TS_CHECK(intParam(j, "transformer_depth") == 1, "config.json: only transformer_depth 1 is supported");
    TS_CHECK(!boolParam(j, "use_relative_position", false) && !boolParam(j, "use_causal_attention", false) &&
                 boolParam(j, "temporal_selfatt_only", true) && !boolParam(j, "use_scale_shift_norm", false) &&
                 !boolParam(j, "resblock_updown", false) && !boolParam(j, "tempspatial_aware", false),
             "config.json: the U-Net options (relative position, causal or cross temporal attention, scale-shift "
             "norm, resblock up/down, spatially aware temporal conv) are not supported");
    const bool tconv = boolParam(j, "temporal_conv", false), tattn = boolParam(j, "temporal_attention", true),
               use_linear = boolParam(j, "use_linear", false), init_attn = boolParam(j, "addition_attention", false),
               image_tokens = boolParam(j, "image_cross_attention", false);
    TS_CHECK(use_linear, "config.json: only use_linear U-Nets are supported");
    fs_condition_ = boolParam(j, "fs_condition", false);
    if (j.contains("default_fs")) default_fs_ = intParam(j, "default_fs");
    const int64_t emb = 4 * mc_;
    auto inAttn = [&](int64_t ds) { return std::find(attn_res.begin(), attn_res.end(), ds) != attn_res.end(); };

    time_w1_ = wb.get(p + ".time_embed.0.weight", {emb, mc_});
    time_b1_ = wb.get(p + ".time_embed.0.bias", {emb});
    time_w2_ = wb.get(p + ".time_embed.2.weight", {emb, emb});
    time_b2_ = wb.get(p + ".time_embed.2.bias", {emb});
    if (fs_condition_) {
        fps_w1_ = wb.get(p + ".fps_embedding.0.weight", {emb, mc_});
        fps_b1_ = wb.get(p + ".fps_embedding.0.bias", {emb});
        fps_w2_ = wb.get(p + ".fps_embedding.2.weight", {emb, emb});
        fps_b2_ = wb.get(p + ".fps_embedding.2.bias", {emb});
    }
    auto resLayer = [&](const std::string& q, int64_t in, int64_t out) {
        UnetLayer l;
        l.kind = UnetLayer::Kind::Res;
        l.res = bindRes(wb, q, in, out, emb, tconv);
        return l;
    };
    auto attnLayers = [&](UnetSequence& seq, const std::string& q, int64_t first, int64_t ch) {
        UnetLayer s;
        s.kind = UnetLayer::Kind::Spatial;
        s.tr = bindTransformer(wb, at(q, first), ch, ch / head_ch, head_ch, context_dim_, false, false, image_tokens);
        seq.push_back(std::move(s));
        if (!tattn) return;
        UnetLayer t;
        t.kind = UnetLayer::Kind::Temporal;
        t.tr = bindTransformer(wb, at(q, first + 1), ch, ch / head_ch, head_ch, context_dim_, true, false, false);
        seq.push_back(std::move(t));
    };

    {
        UnetLayer c;
        bindConv(wb, p + ".input_blocks.0.0", mc_, in_ch_, 3, c.w, c.b);
        input_.push_back({std::move(c)});
    }
    if (init_attn) {
        UnetLayer t;
        t.kind = UnetLayer::Kind::Temporal;
        t.tr = bindTransformer(wb, p + ".init_attn.0", mc_, 8, head_ch, context_dim_, true, true, false);
        init_attn_.push_back(std::move(t));
    }
    std::vector<int64_t> chans{mc_};
    int64_t ch = mc_, ds = 1;
    for (size_t level = 0; level < mult.size(); ++level) {
        for (int64_t r = 0; r < nres; ++r) {
            const std::string q = at(p + ".input_blocks", static_cast<int64_t>(input_.size()));
            UnetSequence seq{resLayer(q + ".0", ch, mult[level] * mc_)};
            ch = mult[level] * mc_;
            if (inAttn(ds)) attnLayers(seq, q, 1, ch);
            input_.push_back(std::move(seq));
            chans.push_back(ch);
        }
        if (level + 1 != mult.size()) {
            UnetLayer d;
            d.kind = UnetLayer::Kind::Down;
            bindConv(wb, at(p + ".input_blocks", static_cast<int64_t>(input_.size())) + ".0.op", ch, ch, 3, d.w, d.b);
            input_.push_back({std::move(d)});
            chans.push_back(ch);
            ds *= 2;
        }
    }
    middle_.push_back(resLayer(p + ".middle_block.0", ch, ch));
    attnLayers(middle_, p + ".middle_block", 1, ch);
    middle_.push_back(resLayer(at(p + ".middle_block", tattn ? 3 : 2), ch, ch));
    for (int64_t level = static_cast<int64_t>(mult.size()) - 1; level >= 0; --level) {
        for (int64_t i = 0; i <= nres; ++i) {
            const std::string q = at(p + ".output_blocks", static_cast<int64_t>(output_.size()));
            const int64_t ich = chans.back();
            chans.pop_back();
            UnetSequence seq{resLayer(q + ".0", ch + ich, mult[static_cast<size_t>(level)] * mc_)};
            ch = mult[static_cast<size_t>(level)] * mc_;
            if (inAttn(ds)) attnLayers(seq, q, 1, ch);
            if (level != 0 && i == nres) {
                UnetLayer u;
                u.kind = UnetLayer::Kind::Up;
                bindConv(wb, at(q, static_cast<int64_t>(seq.size())) + ".conv", ch, ch, 3, u.w, u.b);
                seq.push_back(std::move(u));
                ds /= 2;
            }
            output_.push_back(std::move(seq));
        }
    }
    bindNorm(wb, p + ".out.0", ch, out_norm_w_, out_norm_b_);
    bindConv(wb, p + ".out.2", out_ch_, mc_, 3, out_conv_w_, out_conv_b_);
    // Context slots in the order forward visits the spatial transformers (the sequences no longer move).
    cross_.clear();
    auto slots = [&](UnetSequence& seq) {
        for (UnetLayer& l : seq)
            if (l.kind == UnetLayer::Kind::Spatial) {
                l.tr.context_slot = static_cast<int64_t>(cross_.size());
                cross_.push_back(&l.tr.blocks.front().attn2);
            }
    };
    for (UnetSequence& seq : input_) slots(seq);
    slots(middle_);
    for (UnetSequence& seq : output_) slots(seq);
}

// ---- blocks --------------------------------------------------------------------------------------------

Tensor Unet::resBlock(Backend& be, const UnetResBlock& r, const Tensor& x, const Tensor& emb, int64_t frames) const {
    // Official: GroupNorm32 in fp32, eps 1e-5 (nn.GroupNorm's default), per frame.
    Tensor h = be.activation(be.groupNorm(x, kGroups, r.in_norm_w, r.in_norm_b, 1e-5f), Activation::Silu);
    h = be.conv2d(h, r.in_conv_w, &r.in_conv_b, 1, 1);
    h = addPerSampleChannel(be, h, be.matmul(be.activation(emb, Activation::Silu), r.emb_w, &r.emb_b));
    h = be.activation(be.groupNorm(h, kGroups, r.out_norm_w, r.out_norm_b, 1e-5f), Activation::Silu);
    h = be.conv2d(h, r.out_conv_w, &r.out_conv_b, 1, 1);
    h = be.add(r.skip_w.defined() ? be.conv2d(x, r.skip_w, &r.skip_b, 1, 0) : x, h);
    if (!r.temporal_conv) return h;
    // TemporalConvBlock: 4 × (GroupNorm across frames → SiLU → Conv3d (3,1,1)), plus the identity.
    Tensor t = h;
    for (int i = 0; i < 4; ++i) {
        t = be.activation(be.groupNormFrames(t, frames, kGroups, r.tnorm_w[i], r.tnorm_b[i], 1e-5f), Activation::Silu);
        t = be.temporalConv(t, frames, r.tconv_w[i], &r.tconv_b[i]);
    }
    return be.add(h, t);
}

// x [B·T, L, inner]; ctx null: self-attention; else the prepared context keys and values: the text
// softmax (one text per sample, so a sample's T frames are one query block of T·L rows) plus, when the
// layer has them, the gated softmax over each frame's image tokens.
Tensor Unet::attention(Backend& be, const UnetAttention& a, const Tensor& x, const UnetContextLayer* ctx,
                       int64_t batch) const {
    const Tensor q = be.matmul(x, a.q_w);
    if (!ctx) return be.matmul(mha(be, q, be.matmul(x, a.k_w), be.matmul(x, a.v_w), a.heads), a.out_w, &a.out_b);
    const int64_t n = q.dim(0), len = q.dim(1), inner = q.dim(2);
    Tensor out = attend(be, q.reshape({batch, n / batch * len, inner}), ctx->text_k, ctx->text_v).reshape(q.shape());
    if (ctx->image_k.defined())
        out = be.add(out, be.scale(attend(be, q, ctx->image_k, ctx->image_v), a.ip_gate));
    return be.matmul(out, a.out_w, &a.out_b);
}

Tensor Unet::transformer(Backend& be, const UnetTransformer& tr, const Tensor& x, const UnetContext& ctx,
                         int64_t frames) const {
    const int64_t n = x.dim(0), c = x.dim(1), hw = x.numel() / (n * c);
    Tensor s;
    if (tr.temporal) {
        s = toSequences(be, be.groupNormFrames(x, frames, kGroups, tr.norm_w, tr.norm_b, 1e-6f), frames);
    } else {
        s = be.transposeLast2(be.groupNorm(x, kGroups, tr.norm_w, tr.norm_b, 1e-6f).reshape({n, c, hw}));
    }
    s = be.matmul(s, tr.proj_in_w, &tr.proj_in_b);
    for (const UnetTransformerBlock& b : tr.blocks) {
        s = be.add(s, attention(be, b.attn1, be.layerNorm(s, &b.norm1_w, &b.norm1_b, 1e-5f), nullptr, 1));
        const UnetContextLayer* c =
            tr.temporal ? nullptr : &ctx.layers.at(static_cast<size_t>(tr.context_slot));
        s = be.add(s, attention(be, b.attn2, be.layerNorm(s, &b.norm2_w, &b.norm2_b, 1e-5f), c, n / frames));
        // GEGLU feed-forward: [value | gate] → value · gelu(gate).
        const Tensor h = be.matmul(be.layerNorm(s, &b.norm3_w, &b.norm3_b, 1e-5f), b.ff_in_w, &b.ff_in_b);
        const int64_t half = h.dim(-1) / 2;
        const Tensor g = be.mul(be.slice(h, h.rank() - 1, 0, half),
                                be.activation(be.slice(h, h.rank() - 1, half, 2 * half), Activation::Gelu));
        s = be.add(s, be.matmul(g, b.ff_out_w, &b.ff_out_b));
    }
    s = be.matmul(s, tr.proj_out_w, &tr.proj_out_b);
    const Tensor y = tr.temporal ? fromSequences(be, s, n / frames, x.shape())
                                 : be.transposeLast2(s).reshape(x.shape());
    return be.add(y, x);
}

Tensor Unet::runSequence(Backend& be, const UnetSequence& seq, Tensor h, const Tensor& emb, const UnetContext& ctx,
                         int64_t frames, const Probe& probe, const std::string& probe_prefix) const {
    for (size_t i = 0; i < seq.size(); ++i) {
        const UnetLayer& l = seq[i];
        switch (l.kind) {
        case UnetLayer::Kind::Conv:
            h = be.conv2d(h, l.w, &l.b, 1, 1);
            break;
        case UnetLayer::Kind::Down:
            h = be.conv2d(h, l.w, &l.b, 2, 1);
            break;
        case UnetLayer::Kind::Up:
            h = be.conv2d(be.upsampleNearest2x(h), l.w, &l.b, 1, 1);
            break;
        case UnetLayer::Kind::Res:
            h = resBlock(be, l.res, h, emb, frames);
            break;
        case UnetLayer::Kind::Spatial:
        case UnetLayer::Kind::Temporal:
            h = transformer(be, l.tr, h, ctx, frames);
            break;
        }
        if (probe && !probe_prefix.empty()) probe(probe_prefix + std::to_string(i), h);
    }
    return h;
}

// ---- forward --------------------------------------------------------------------------------------------

// [cos | sin](v · exp(−ln(1e4)·i/half)) → Linear → SiLU → Linear, in float32 like the official code.
Tensor Unet::embed(Backend& be, const std::vector<int64_t>& values, const Tensor& w1, const Tensor& b1,
                   const Tensor& w2, const Tensor& b2) const {
    const int64_t half = mc_ / 2, b = static_cast<int64_t>(values.size());
    std::vector<float> e(static_cast<size_t>(b * mc_), 0.0f);
    const float lg = -std::log(10000.0f);
    for (int64_t r = 0; r < b; ++r)
        for (int64_t i = 0; i < half; ++i) {
            const float freq = std::exp(lg * static_cast<float>(i) / static_cast<float>(half));
            const float arg = static_cast<float>(values[static_cast<size_t>(r)]) * freq;
            e[static_cast<size_t>(r * mc_ + i)] = std::cos(arg);
            e[static_cast<size_t>(r * mc_ + half + i)] = std::sin(arg);
        }
    const Tensor x = be.fromF32(e, {b, mc_});
    return be.matmul(be.activation(be.matmul(x, w1, &b1), Activation::Silu), w2, &b2);
}

UnetContext Unet::prepareContext(Backend& be, const Tensor& context, int64_t frames,
                                 const UnetContext* text_from) const {
    TS_CHECK(frames >= 1 && context.rank() == 3 && context.dim(2) == context_dim_ && context.dim(1) > kTextTokens &&
                 (context.dim(1) - kTextTokens) % frames == 0,
             "U-Net context must be [B, 77 + T·n, " + std::to_string(context_dim_) + "], got " +
                 shapeString(context.shape()));
    const int64_t b = context.dim(0), n = (context.dim(1) - kTextTokens) / frames;
    TS_CHECK(!text_from || (text_from->batch == b && text_from->layers.size() == cross_.size()),
             "U-Net: the shared text context has another batch or layer count");
    UnetContext c;
    c.batch = b, c.frames = frames;
    // Each frame gets [77 text | its own n tokens]: the text once per sample, the tokens per frame.
    const Tensor text = be.slice(context, 1, 0, kTextTokens);
    const Tensor img = be.slice(context, 1, kTextTokens, context.dim(1)).reshape({b * frames, n, context_dim_});
    for (size_t i = 0; i < cross_.size(); ++i) {
        const UnetAttention& a = *cross_[i];
        UnetContextLayer l;
        if (text_from) {
            l.text_k = text_from->layers[i].text_k, l.text_v = text_from->layers[i].text_v;
        } else {
            std::tie(l.text_k, l.text_v) = kvCaches(be, be.matmul(text, a.k_w), be.matmul(text, a.v_w), a.heads);
        }
        if (a.k_ip_w.defined())
            std::tie(l.image_k, l.image_v) = kvCaches(be, be.matmul(img, a.k_ip_w), be.matmul(img, a.v_ip_w), a.heads);
        c.layers.push_back(std::move(l));
    }
    return c;
}

Tensor Unet::forward(Backend& be, const Tensor& x, const std::vector<int64_t>& t, const std::vector<int64_t>& fs,
                     const Tensor& context, const Probe& probe) const {
    TS_CHECK(x.rank() == 5 && context.rank() == 3 && context.dim(0) == x.dim(0),
             "U-Net: the context must have the input's batch, got " + shapeString(context.shape()));
    return forward(be, x, t, fs, prepareContext(be, context, x.dim(2)), probe);
}

Tensor Unet::forward(Backend& be, const Tensor& x, const std::vector<int64_t>& t, const std::vector<int64_t>& fs,
                     const UnetContext& ctx, const Probe& probe) const {
    TS_CHECK(x.rank() == 5 && x.dim(1) == in_ch_, "U-Net input must be [B, " + std::to_string(in_ch_) +
                                                      ", T, h, w], got " + shapeString(x.shape()));
    const int64_t b = x.dim(0), frames = x.dim(2);
    TS_CHECK(static_cast<int64_t>(t.size()) == b, "U-Net: one timestep per sample");
    TS_CHECK(fs.empty() || static_cast<int64_t>(fs.size()) == b, "U-Net: one frame stride per sample");
    TS_CHECK(ctx.batch == b && ctx.frames == frames && ctx.layers.size() == cross_.size(),
             "U-Net: the prepared context is for " + std::to_string(ctx.batch) + " sample(s) of " +
                 std::to_string(ctx.frames) + " frames, the input has " + std::to_string(b) + " of " +
                 std::to_string(frames));
    Tensor emb = embed(be, t, time_w1_, time_b1_, time_w2_, time_b2_);
    if (probe) probe("unet_act_time_embed", emb);
    if (fs_condition_) {
        const Tensor fe = embed(be, fs.empty() ? std::vector<int64_t>(static_cast<size_t>(b), default_fs_) : fs,
                                fps_w1_, fps_b1_, fps_w2_, fps_b2_);
        if (probe) probe("unet_act_fps_embed", fe);
        emb = be.add(emb, fe);
    }
    {
        std::vector<int64_t> rows;
        for (int64_t i = 0; i < b; ++i)
            for (int64_t f = 0; f < frames; ++f) rows.push_back(i);
        emb = be.gatherRows(emb, rows); // [B·T, 4·mc]
    }
    Tensor h = framesFromVideo(be, x);
    std::vector<Tensor> skips;
    for (size_t i = 0; i < input_.size(); ++i) {
        h = runSequence(be, input_[i], h, emb, ctx, frames, probe, i == 1 ? "unet_act_attnblock_layer" : "");
        if (i == 0) {
            if (probe) probe("unet_act_input_block_0", h);
            if (!init_attn_.empty()) {
                h = runSequence(be, init_attn_, h, emb, ctx, frames, {}, "");
                if (probe) probe("unet_act_init_attn", h);
            }
        } else if (probe) {
            probe("unet_act_input_block_" + std::to_string(i), h);
        }
        skips.push_back(h);
    }
    h = runSequence(be, middle_, h, emb, ctx, frames, {}, "");
    if (probe) probe("unet_act_middle_block", h);
    for (size_t i = 0; i < output_.size(); ++i) {
        h = be.concat(h, skips.back(), 1);
        skips.pop_back();
        h = runSequence(be, output_[i], h, emb, ctx, frames, {}, "");
        if (probe) probe("unet_act_output_block_" + std::to_string(i), h);
    }
    h = be.activation(be.groupNorm(h, kGroups, out_norm_w_, out_norm_b_, 1e-5f), Activation::Silu);
    h = be.conv2d(h, out_conv_w_, &out_conv_b_, 1, 1);
    return videoFromFrames(be, h, b);
}

} // namespace tessera::dicode
