// DiCoDe's first stage: the SD KL-f8 AutoencoderKL decoder, run per frame (frames folded into the
// batch). Sections: loading · blocks · decode. Every norm is GroupNorm(32, eps 1e-6).
#include "models/dicode_decoder_parts.h"

#include <cmath>

namespace tessera::dicode {

namespace {

constexpr int kGroups = 32;
constexpr float kEps = 1e-6f;

std::string at(const std::string& p, int64_t i) {
    return p + "." + std::to_string(i);
}

void conv(WeightBinder& wb, const std::string& p, int64_t out, int64_t in, int64_t k, Tensor& w, Tensor& b) {
    w = wb.get(p + ".weight", {out, in, k, k});
    b = wb.get(p + ".bias", {out});
}

void norm(WeightBinder& wb, const std::string& p, int64_t ch, Tensor& w, Tensor& b) {
    TS_CHECK(ch % kGroups == 0, p + ": " + std::to_string(ch) + " channels cannot form 32 groups");
    w = wb.get(p + ".weight", {ch});
    b = wb.get(p + ".bias", {ch});
}

VaeResBlock resBlockWeights(WeightBinder& wb, const std::string& p, int64_t in, int64_t out) {
    VaeResBlock r;
    norm(wb, p + ".norm1", in, r.norm1_w, r.norm1_b);
    conv(wb, p + ".conv1", out, in, 3, r.conv1_w, r.conv1_b);
    norm(wb, p + ".norm2", out, r.norm2_w, r.norm2_b);
    conv(wb, p + ".conv2", out, out, 3, r.conv2_w, r.conv2_b);
    if (in != out) conv(wb, p + ".nin_shortcut", out, in, 1, r.nin_w, r.nin_b);
    return r;
}

int64_t jsonInt(const nlohmann::json& j, const char* key) {
    TS_CHECK(j.contains(key) && j[key].is_number_integer(), std::string("config.json: ddconfig.") + key +
                                                                " missing or not an integer");
    return j[key].get<int64_t>();
}

} // namespace

// ---- loading ----------------------------------------------------------------------------------------

void VaeDecoder::load(WeightBinder& wb, const nlohmann::json& dd, int64_t embed_dim, float scale_factor) {
    TS_CHECK(scale_factor > 0.0f, "config.json: scale_factor must be positive");
    scale_factor_ = scale_factor;
    const int64_t ch = jsonInt(dd, "ch"), z = jsonInt(dd, "z_channels"), nres = jsonInt(dd, "num_res_blocks"),
                  out_ch = jsonInt(dd, "out_ch");
    TS_CHECK(dd.contains("ch_mult") && dd["ch_mult"].is_array() && !dd["ch_mult"].empty(),
             "config.json: ddconfig.ch_mult missing");
    TS_CHECK(!dd.contains("attn_resolutions") || dd["attn_resolutions"].empty(),
             "config.json: VAE attention at up levels (attn_resolutions) is not supported");
    std::vector<int64_t> mult;
    for (const auto& m : dd["ch_mult"]) {
        TS_CHECK(m.is_number_integer() && m.get<int64_t>() > 0, "config.json: ddconfig.ch_mult must hold positive integers");
        mult.push_back(m.get<int64_t>());
    }
    TS_CHECK(ch > 0 && z > 0 && nres > 0 && out_ch > 0 && embed_dim > 0, "config.json: VAE sizes must be positive");
    const std::string p = "first_stage_model.decoder";
    conv(wb, "first_stage_model.post_quant_conv", z, embed_dim, 1, post_quant_w_, post_quant_b_);
    int64_t c = ch * mult.back();
    conv(wb, p + ".conv_in", c, z, 3, conv_in_w_, conv_in_b_);
    mid1_ = resBlockWeights(wb, p + ".mid.block_1", c, c);
    const std::string a = p + ".mid.attn_1";
    norm(wb, a + ".norm", c, mid_attn_.norm_w, mid_attn_.norm_b);
    conv(wb, a + ".q", c, c, 1, mid_attn_.q_w, mid_attn_.q_b);
    conv(wb, a + ".k", c, c, 1, mid_attn_.k_w, mid_attn_.k_b);
    conv(wb, a + ".v", c, c, 1, mid_attn_.v_w, mid_attn_.v_b);
    conv(wb, a + ".proj_out", c, c, 1, mid_attn_.proj_w, mid_attn_.proj_b);
    mid2_ = resBlockWeights(wb, p + ".mid.block_2", c, c);
    up_.assign(mult.size(), {});
    for (int64_t l = static_cast<int64_t>(mult.size()) - 1; l >= 0; --l) {
        const int64_t out = ch * mult[static_cast<size_t>(l)];
        VaeLevel& lv = up_[static_cast<size_t>(l)];
        for (int64_t i = 0; i <= nres; ++i) {
            lv.blocks.push_back(resBlockWeights(wb, at(at(p + ".up", l) + ".block", i), c, out));
            c = out;
        }
        if (l != 0) conv(wb, at(p + ".up", l) + ".upsample.conv", c, c, 3, lv.up_w, lv.up_b);
    }
    norm(wb, p + ".norm_out", c, norm_out_w_, norm_out_b_);
    conv(wb, p + ".conv_out", out_ch, c, 3, conv_out_w_, conv_out_b_);
}

// ---- blocks -----------------------------------------------------------------------------------------

Tensor VaeDecoder::resBlock(Backend& be, const VaeResBlock& b, const Tensor& x) const {
    Tensor h = be.activation(be.groupNorm(x, kGroups, b.norm1_w, b.norm1_b, kEps), Activation::Silu);
    h = be.conv2d(h, b.conv1_w, &b.conv1_b, 1, 1);
    h = be.activation(be.groupNorm(h, kGroups, b.norm2_w, b.norm2_b, kEps), Activation::Silu);
    h = be.conv2d(h, b.conv2_w, &b.conv2_b, 1, 1);
    return be.add(b.nin_w.defined() ? be.conv2d(x, b.nin_w, &b.nin_b, 1, 0) : x, h);
}

// Single-head attention over the h·w positions with the channels as the head dimension.
Tensor VaeDecoder::attnBlock(Backend& be, const VaeAttn& a, const Tensor& x) const {
    const int64_t n = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), len = hh * ww;
    const Tensor h = be.groupNorm(x, kGroups, a.norm_w, a.norm_b, kEps);
    auto tokens = [&](const Tensor& w, const Tensor& bias) {
        return be.transposeLast2(be.conv2d(h, w, &bias, 1, 0).reshape({n, c, len})); // [N, L, C]
    };
    const Tensor q = tokens(a.q_w, a.q_b).reshape({n, len, 1, c});
    const Tensor k = tokens(a.k_w, a.k_b).reshape({n, 1, len, c});
    const Tensor v = tokens(a.v_w, a.v_b).reshape({n, 1, len, c});
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    Tensor o = be.attention(q, k, v, len, full, 1.0f / std::sqrt(static_cast<float>(c)));
    o = be.transposeLast2(o.reshape({n, len, c})).reshape({n, c, hh, ww});
    return be.add(x, be.conv2d(o, a.proj_w, &a.proj_b, 1, 0));
}

// ---- decode -----------------------------------------------------------------------------------------

Tensor VaeDecoder::decode(Backend& be, const Tensor& z, const Probe& probe) const {
    TS_CHECK(z.rank() == 4 && z.dim(1) == post_quant_w_.dim(1),
             "VAE latents must be [frames, " + std::to_string(post_quant_w_.dim(1)) + ", h, w], got " +
                 shapeString(z.shape()));
    Tensor x = be.conv2d(be.scale(z, 1.0f / scale_factor_), post_quant_w_, &post_quant_b_, 1, 0);
    if (probe) probe("vae_act_post_quant", x);
    x = be.conv2d(x, conv_in_w_, &conv_in_b_, 1, 1);
    x = resBlock(be, mid1_, x);
    x = attnBlock(be, mid_attn_, x);
    x = resBlock(be, mid2_, x);
    if (probe) probe("vae_act_mid", x);
    bool first = true;
    for (auto it = up_.rbegin(); it != up_.rend(); ++it) {
        for (const VaeResBlock& b : it->blocks) x = resBlock(be, b, x);
        if (it->up_w.defined()) x = be.conv2d(be.upsampleNearest2x(x), it->up_w, &it->up_b, 1, 1);
        if (first && probe) probe("vae_act_first_upsample", x);
        first = false;
    }
    x = be.activation(be.groupNorm(x, kGroups, norm_out_w_, norm_out_b_, kEps), Activation::Silu);
    return be.conv2d(x, conv_out_w_, &conv_out_b_, 1, 1);
}

} // namespace tessera::dicode
