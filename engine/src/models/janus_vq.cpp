// Janus VQ image tokenizer: encoder, quantiser and decoder (transformers' JanusVQVAE, the original
// VQ-16). Sections: loading (architecture read off tensor shapes) · blocks · encode · decode.
#include "models/janus_parts.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::janus {

namespace {

// Every norm in the VQ model is GroupNorm(32, eps 1e-6), whatever the channel count.
constexpr int kGroups = 32;
constexpr float kGroupEps = 1e-6f;

std::string idx(const std::string& prefix, size_t i) {
    return prefix + "." + std::to_string(i);
}

} // namespace

// ---- loading -----------------------------------------------------------------------------------------

static void loadNorm(Binder& wb, const std::string& p, int64_t ch, Tensor& w, Tensor& b) {
    if (ch % kGroups != 0)
        wb.problem(p + ": " + std::to_string(ch) + " channels cannot form " + std::to_string(kGroups) +
                   " groups");
    w = wb.get(p + ".weight", {ch});
    b = wb.get(p + ".bias", {ch});
}

static void loadConv(Binder& wb, const std::string& p, int64_t out, int64_t in, int64_t k, Tensor& w,
                     Tensor& b) {
    w = wb.get(p + ".weight", {out, in, k, k});
    b = wb.get(p + ".bias", {out});
}

// Output channels of a conv, read from its weight (0 when absent: the binder reports it later).
static int64_t outChannels(const Binder& wb, const std::string& p) {
    Shape s = wb.shapeOf(p + ".weight");
    return s.empty() ? 0 : s[0];
}

static VqResBlock loadRes(Binder& wb, const std::string& p, int64_t in, int64_t& out) {
    VqResBlock r;
    out = outChannels(wb, p + ".conv1");
    if (out <= 0) out = in;
    loadNorm(wb, p + ".norm1", in, r.norm1_w, r.norm1_b);
    loadConv(wb, p + ".conv1", out, in, 3, r.conv1_w, r.conv1_b);
    loadNorm(wb, p + ".norm2", out, r.norm2_w, r.norm2_b);
    loadConv(wb, p + ".conv2", out, out, 3, r.conv2_w, r.conv2_b);
    if (in != out) loadConv(wb, p + ".nin_shortcut", out, in, 1, r.nin_w, r.nin_b);
    return r;
}

static VqAttnBlock loadAttn(Binder& wb, const std::string& p, int64_t ch) {
    VqAttnBlock a;
    loadNorm(wb, p + ".norm", ch, a.norm_w, a.norm_b);
    loadConv(wb, p + ".q", ch, ch, 1, a.q_w, a.q_b);
    loadConv(wb, p + ".k", ch, ch, 1, a.k_w, a.k_b);
    loadConv(wb, p + ".v", ch, ch, 1, a.v_w, a.v_b);
    loadConv(wb, p + ".proj_out", ch, ch, 1, a.proj_w, a.proj_b);
    return a;
}

void VqModel::loadCoder(Binder& wb, const std::string& prefix, bool decoder, VqCoder& c) {
    const std::string levels = prefix + (decoder ? ".up" : ".down");
    Shape in_shape = wb.shapeOf(prefix + ".conv_in.weight");
    const int64_t in_ch = in_shape.size() == 4 ? in_shape[1] : (decoder ? 0 : 3);
    int64_t ch = outChannels(wb, prefix + ".conv_in");
    loadConv(wb, prefix + ".conv_in", ch, in_ch, 3, c.conv_in_w, c.conv_in_b);
    auto mid = [&] {
        int64_t out = ch;
        c.mid_1 = loadRes(wb, prefix + ".mid.block_1", ch, out);
        c.mid_attn = loadAttn(wb, prefix + ".mid.attn_1", ch);
        c.mid_2 = loadRes(wb, prefix + ".mid.block_2", ch, out);
    };
    if (decoder) mid();
    for (size_t l = 0; wb.has(idx(levels, l) + ".block.0.conv1.weight"); ++l) {
        VqLevel lv;
        const std::string lp = idx(levels, l);
        for (size_t b = 0; wb.has(idx(lp + ".block", b) + ".conv1.weight"); ++b) {
            int64_t out = ch;
            lv.blocks.push_back(loadRes(wb, idx(lp + ".block", b), ch, out));
            ch = out;
            if (wb.has(idx(lp + ".attn", b) + ".q.weight"))
                lv.attn.push_back(loadAttn(wb, idx(lp + ".attn", b), ch));
        }
        if (!lv.attn.empty() && lv.attn.size() != lv.blocks.size())
            wb.problem(lp + ": attention blocks do not follow every res block");
        const std::string rs = lp + (decoder ? ".upsample.conv" : ".downsample.conv");
        if (wb.has(rs + ".weight")) loadConv(wb, rs, ch, ch, 3, lv.resample_w, lv.resample_b);
        c.levels.push_back(std::move(lv));
    }
    if (c.levels.empty()) {
        wb.get(levels + ".0.block.0.conv1.weight"); // reported missing
        return;
    }
    for (size_t l = 0; l + 1 < c.levels.size(); ++l)
        if (!c.levels[l].resample_w.defined())
            wb.get(idx(levels, l) + (decoder ? ".upsample.conv.weight" : ".downsample.conv.weight"));
    if (!decoder) mid();
    loadNorm(wb, prefix + ".norm_out", ch, c.norm_out_w, c.norm_out_b);
    const int64_t out_ch = outChannels(wb, prefix + ".conv_out");
    loadConv(wb, prefix + ".conv_out", out_ch, ch, 3, c.conv_out_w, c.conv_out_b);
}

void VqModel::load(Binder& wb, Backend& be, bool with_encoder) {
    const std::string p = "model.vqmodel";
    Shape cb = wb.shapeOf(p + ".quantize.embedding.weight");
    codebook_ = wb.get(p + ".quantize.embedding.weight");
    if (cb.size() == 2) {
        codebook_size_ = cb[0];
        code_dim_ = cb[1];
    } else if (!cb.empty()) {
        wb.problem("tensor quantize.embedding.weight must be [codes, dim], got " + shapeString(cb));
    }
    if (with_encoder) loadCoder(wb, p + ".encoder", false, encoder_);
    loadCoder(wb, p + ".decoder", true, decoder_);
    const int64_t latent = decoder_.conv_in_w.defined() ? decoder_.conv_in_w.dim(1) : 0;
    const int64_t enc_latent = encoder_.conv_out_w.defined() ? encoder_.conv_out_w.dim(0) : 0;
    if (with_encoder) loadConv(wb, p + ".quant_conv", code_dim_, enc_latent, 1, quant_conv_w_, quant_conv_b_);
    loadConv(wb, p + ".post_quant_conv", latent, code_dim_, 1, post_quant_w_, post_quant_b_);
    if (!codebook_.defined() || code_dim_ <= 0) return;
    // The decoder looks codes up L2-normalised. x/|x| = rmsNorm(x) / sqrt(dim); the tiny eps only keeps an
    // all-zero row at zero, as F.normalize's clamp does.
    inv_sqrt_dim_ = be.fromF32(
        std::vector<float>(static_cast<size_t>(code_dim_), 1.0f / std::sqrt(static_cast<float>(code_dim_))),
        {code_dim_});
    codebook_unit_ = be.rmsNorm(codebook_, inv_sqrt_dim_, 1e-30f);
    Tensor ones = be.fromF32(std::vector<float>(static_cast<size_t>(code_dim_), 1.0f), {1, code_dim_});
    codebook_sq_ = be.matmul(be.mul(codebook_, codebook_), ones).reshape({codebook_size_});
    unit_sq_ = be.matmul(be.mul(codebook_unit_, codebook_unit_), ones).reshape({codebook_size_});
}

// ---- blocks --------------------------------------------------------------------------------------------

Tensor VqModel::resBlock(Backend& be, const VqResBlock& b, const Tensor& x) const {
    Tensor h = be.activation(be.groupNorm(x, kGroups, b.norm1_w, b.norm1_b, kGroupEps), Activation::Silu);
    h = be.conv2d(h, b.conv1_w, &b.conv1_b, 1, 1);
    h = be.activation(be.groupNorm(h, kGroups, b.norm2_w, b.norm2_b, kGroupEps), Activation::Silu);
    h = be.conv2d(h, b.conv2_w, &b.conv2_b, 1, 1);
    Tensor skip = b.nin_w.defined() ? be.conv2d(x, b.nin_w, &b.nin_b, 1, 0) : x;
    return be.add(skip, h);
}

// Single-head attention over the h*w positions, channels as the head dimension.
Tensor VqModel::attnBlock(Backend& be, const VqAttnBlock& a, const Tensor& x) const {
    const int64_t b = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), n = hh * ww;
    Tensor h = be.groupNorm(x, kGroups, a.norm_w, a.norm_b, kGroupEps);
    auto tokens = [&](const Tensor& w, const Tensor& bias) {
        return be.transposeLast2(be.conv2d(h, w, &bias, 1, 0).reshape({b, c, n})); // [B, N, C]
    };
    Tensor q = tokens(a.q_w, a.q_b).reshape({b, n, 1, c});
    Tensor k = tokens(a.k_w, a.k_b).reshape({b, 1, n, c});
    Tensor v = tokens(a.v_w, a.v_b).reshape({b, 1, n, c});
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    Tensor o = be.attention(q, k, v, n, full, 1.0f / std::sqrt(static_cast<float>(c)));
    o = be.transposeLast2(o.reshape({b, n, c})).reshape({b, c, hh, ww});
    return be.add(x, be.conv2d(o, a.proj_w, &a.proj_b, 1, 0));
}

Tensor VqModel::runCoder(Backend& be, const VqCoder& c, Tensor x, bool decoder,
                         bool release_per_level) const {
    auto mid = [&] {
        x = resBlock(be, c.mid_1, x);
        x = attnBlock(be, c.mid_attn, x);
        x = resBlock(be, c.mid_2, x);
    };
    x = be.conv2d(x, c.conv_in_w, &c.conv_in_b, 1, 1);
    if (decoder) mid();
    for (const VqLevel& lv : c.levels) {
        for (size_t i = 0; i < lv.blocks.size(); ++i) {
            x = resBlock(be, lv.blocks[i], x);
            if (!lv.attn.empty()) x = attnBlock(be, lv.attn[i], x);
        }
        if (!lv.resample_w.defined()) continue;
        if (decoder) {
            x = be.conv2d(be.upsampleNearest2x(x), lv.resample_w, &lv.resample_b, 1, 1);
        } else {
            // Asymmetric (right/bottom) padding, then a stride-2 conv without padding.
            x = be.conv2d(be.padRightBottom(x, 1), lv.resample_w, &lv.resample_b, 2, 0);
        }
        // The level's blocks (a quarter of the next level's size each) are not reused at the next
        // resolution; a caching allocator would hold them all the way up.
        if (release_per_level) be.releaseCached();
    }
    if (!decoder) mid();
    x = be.activation(be.groupNorm(x, kGroups, c.norm_out_w, c.norm_out_b, kGroupEps), Activation::Silu);
    return be.conv2d(x, c.conv_out_w, &c.conv_out_b, 1, 1);
}

// ---- decode ---------------------------------------------------------------------------------------------

Tensor VqModel::codesFor(Backend& be, const Tensor& ids, int64_t h, int64_t w) const {
    TS_CHECK(ids.rank() == 2 && ids.dim(1) == h * w,
             "image tokens must be [batch, " + std::to_string(h * w) + "], got " + shapeString(ids.shape()));
    const int64_t b = ids.dim(0);
    // embedding() rejects ids outside the codebook.
    Tensor rows = be.embedding(codebook_unit_, ids); // [B, h*w, C]
    return be.transposeLast2(rows).reshape({b, code_dim_, h, w});
}

Tensor VqModel::decodeCodes(Backend& be, const Tensor& codes) const {
    TS_CHECK(codes.rank() == 4 && codes.dim(1) == code_dim_, "codes must be [batch, " +
                                                                 std::to_string(code_dim_) + ", h, w], got " +
                                                                 shapeString(codes.shape()));
    Tensor x = be.conv2d(codes, post_quant_w_, &post_quant_b_, 1, 0);
    return runCoder(be, decoder_, x, true);
}

Tensor VqModel::decodeWindow(Backend& be, const Tensor& codes) const {
    Tensor x = be.conv2d(codes, post_quant_w_, &post_quant_b_, 1, 0);
    return runCoder(be, decoder_, x, true, /*release_per_level=*/true);
}

// Windows of tile + 2·halo tokens (clipped at the image border) are decoded one at a time and blended
// into a host image: along each axis a window's weight ramps linearly from 0 at an inner edge to 1 at
// 2·halo tokens from it (1 throughout along the image border), and every pixel is the weighted mean of
// the windows covering it. Two neighbours thus cross-fade over the 2·halo tokens around their tile
// border, where each is only half a halo from its own edge, so no hard seam is left. The backend's
// cached blocks are returned (Backend::releaseCached) after each decoder level of a window and after
// each window: a caching allocator would otherwise keep every level's blocks beside the largest
// level's, and border windows clipped to other shapes beside the full windows' ones. Peak memory is
// thus the largest level of one window plus the host image and its weights, whatever the grid.
std::vector<float> VqModel::decodeCodesTiledToHost(Backend& be, const Tensor& codes, const VqTiling& tiling,
                                                   Shape& shape) const {
    TS_CHECK(codes.rank() == 4 && codes.dim(1) == code_dim_, "codes must be [batch, " +
                                                                 std::to_string(code_dim_) + ", h, w], got " +
                                                                 shapeString(codes.shape()));
    TS_CHECK(tiling.tile >= 1 && tiling.halo >= 0,
             "tiled VQ decode: the tile must be at least 1 token and the halo must not be negative (got tile " +
                 std::to_string(tiling.tile) + ", halo " + std::to_string(tiling.halo) + ")");
    const int64_t b = codes.dim(0), h = codes.dim(2), w = codes.dim(3), f = downsample(), t = tiling.tile,
                  halo = tiling.halo;
    if (t >= h && t >= w) {
        const Tensor whole = decodeCodes(be, codes);
        shape = whole.shape();
        return be.readF32(whole);
    }
    const int64_t ph = h * f, pw = w * f;
    int64_t ch = 0;
    std::vector<float> sum, weight(static_cast<size_t>(ph * pw), 0.0f);
    // Weight of pixel p in window [lo, hi) (pixels) of a side of `side` pixels.
    const double ramp = static_cast<double>(2 * halo * f);
    auto axisWeight = [&](int64_t p, int64_t lo, int64_t hi, int64_t side) {
        double d = 1e30;
        if (lo > 0) d = std::min(d, static_cast<double>(p - lo) + 0.5);
        if (hi < side) d = std::min(d, static_cast<double>(hi - p) - 0.5);
        return ramp <= 0 ? 1.0 : std::min(1.0, d / ramp);
    };
    for (int64_t y0 = 0; y0 < h; y0 += t) {
        const int64_t wy0 = std::max<int64_t>(0, y0 - halo), wy1 = std::min(h, y0 + t + halo);
        for (int64_t x0 = 0; x0 < w; x0 += t) {
            const int64_t wx0 = std::max<int64_t>(0, x0 - halo), wx1 = std::min(w, x0 + t + halo);
            std::vector<float> win;
            {
                const Tensor pixels = decodeWindow(be, be.slice(be.slice(codes, 2, wy0, wy1), 3, wx0, wx1));
                if (ch == 0) {
                    ch = pixels.dim(1);
                    sum.assign(static_cast<size_t>(b * ch * ph * pw), 0.0f);
                }
                win = be.readF32(pixels);
            }
            be.releaseCached();
            const int64_t oy = wy0 * f, ox = wx0 * f, wh = (wy1 - wy0) * f, ww = (wx1 - wx0) * f;
            std::vector<float> wx(static_cast<size_t>(ww));
            for (int64_t x = 0; x < ww; ++x)
                wx[static_cast<size_t>(x)] = static_cast<float>(axisWeight(ox + x, ox, ox + ww, pw));
            for (int64_t y = 0; y < wh; ++y) {
                const float wy = static_cast<float>(axisWeight(oy + y, oy, oy + wh, ph));
                for (int64_t x = 0; x < ww; ++x)
                    weight[static_cast<size_t>((oy + y) * pw + ox + x)] += wy * wx[static_cast<size_t>(x)];
                for (int64_t plane = 0; plane < b * ch; ++plane) {
                    const float* src = win.data() + (plane * wh + y) * ww;
                    float* dst = sum.data() + (plane * ph + oy + y) * pw + ox;
                    for (int64_t x = 0; x < ww; ++x) dst[x] += wy * wx[static_cast<size_t>(x)] * src[x];
                }
            }
        }
    }
    for (int64_t plane = 0; plane < b * ch; ++plane)
        for (int64_t i = 0; i < ph * pw; ++i) sum[static_cast<size_t>(plane * ph * pw + i)] /= weight[static_cast<size_t>(i)];
    shape = {b, ch, ph, pw};
    return sum;
}

Tensor VqModel::decodeCodesTiled(Backend& be, const Tensor& codes, const VqTiling& tiling) const {
    Shape shape;
    std::vector<float> pixels = decodeCodesTiledToHost(be, codes, tiling, shape);
    return be.fromF32(pixels, shape);
}

// ---- encode ---------------------------------------------------------------------------------------------

VqEncoding VqModel::encode(Backend& be, const Tensor& pixels) const {
    const int64_t in_ch = encoder_.conv_in_w.dim(1);
    TS_CHECK(pixels.rank() == 4 && pixels.dim(1) == in_ch, "pixels must be [batch, " + std::to_string(in_ch) +
                                                               ", H, W], got " + shapeString(pixels.shape()));
    const int64_t f = downsample();
    TS_CHECK(pixels.dim(2) % f == 0 && pixels.dim(3) % f == 0 && pixels.dim(2) > 0 && pixels.dim(3) > 0,
             "image sides must be multiples of " + std::to_string(f) + ", got " +
                 shapeString(pixels.shape()));
    VqEncoding out;
    Tensor z = runCoder(be, encoder_, pixels, false);
    out.pre_quant = be.conv2d(z, quant_conv_w_, &quant_conv_b_, 1, 0);
    const int64_t b = out.pre_quant.dim(0), c = code_dim_, h = out.pre_quant.dim(2), w = out.pre_quant.dim(3);
    const int64_t n = b * h * w;
    Tensor flat = be.transposeLast2(out.pre_quant.reshape({b, c, h * w})).reshape({n, c});
    // With codebook_l2_norm the search runs between unit vectors (F.normalize of latent and rows, as the
    // original quantiser does) and the result is the unit row; pre_quant stays as quant_conv gave it.
    if (l2_norm_) flat = be.rmsNorm(flat, inv_sqrt_dim_, 1e-30f);
    const Tensor& book = l2_norm_ ? codebook_unit_ : codebook_;
    // |z - e|² = |z|² + |e|² - 2 z·e, as the reference quantiser computes it; the argmin is read back.
    Tensor ones = be.fromF32(std::vector<float>(static_cast<size_t>(c), 1.0f), {1, c});
    std::vector<float> z_sq = be.readF32(be.matmul(be.mul(flat, flat), ones));
    std::vector<float> rest =
        be.readF32(be.add(be.scale(be.matmul(flat, book), -2.0f), l2_norm_ ? unit_sq_ : codebook_sq_));
    std::vector<int64_t> ids(static_cast<size_t>(n));
    const size_t v = static_cast<size_t>(codebook_size_);
    for (size_t i = 0; i < ids.size(); ++i) {
        float best = std::numeric_limits<float>::infinity();
        int64_t arg = 0;
        for (size_t j = 0; j < v; ++j) {
            const float d = z_sq[i] + rest[i * v + j];
            if (d < best) {
                best = d;
                arg = static_cast<int64_t>(j);
            }
        }
        ids[i] = arg;
    }
    out.indices = be.fromI64(ids, {b, h * w});
    out.quantized = be.transposeLast2(be.embedding(book, out.indices)).reshape({b, c, h, w});
    return out;
}

} // namespace tessera::janus
