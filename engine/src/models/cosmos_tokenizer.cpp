// Cosmos discrete video tokenizer (DV, factorised causal 3D encoder/decoder, FSQ), native.
// Sections: FSQ · Haar patcher · config · loading · blocks · decode · encode.
//
// Written against the reference set's description of the official modules (tests/data/reference/
// cosmos_tiny/README.md). Two steps run on the host rather than as backend ops: FSQ (a few integer and
// tanh operations per latent position) and the Haar (un)patcher (a signed re-arrangement of the first
// and last activation, which crosses the host boundary anyway: decode returns host frames, encode takes
// them).
#include "models/cosmos_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

namespace fs = std::filesystem;

namespace tessera {

// ---- FSQ -------------------------------------------------------------------------------------------------

int64_t CosmosFsq::codebookSize() const {
    int64_t n = 1;
    for (int64_t l : levels) n *= l;
    return n;
}

void CosmosFsq::indexToCode(int64_t index, float* code) const {
    int64_t basis = 1;
    for (size_t i = 0; i < levels.size(); ++i) {
        const int64_t half = levels[i] / 2;
        const int64_t digit = (index / basis) % levels[i];
        code[i] = static_cast<float>(digit - half) / static_cast<float>(half);
        basis *= levels[i];
    }
}

int64_t CosmosFsq::codeToIndex(const float* code) const {
    int64_t basis = 1, index = 0;
    for (size_t i = 0; i < levels.size(); ++i) {
        const int64_t half = levels[i] / 2;
        const int64_t digit = static_cast<int64_t>(std::nearbyint(code[i] * static_cast<float>(half))) + half;
        if (digit < 0 || digit >= levels[i]) return -1;
        index += digit * basis;
        basis *= levels[i];
    }
    return index;
}

int64_t CosmosFsq::quantize(const float* z, float* code) const {
    // In float32 like the official module: bound(z) = tanh(z + atanh(off/half_l))·half_l − off.
    int64_t basis = 1, index = 0;
    for (size_t i = 0; i < levels.size(); ++i) {
        const int64_t l = levels[i], half = l / 2;
        const float half_l = static_cast<float>(l - 1) * (1.0f + 1e-3f) / 2.0f;
        const float offset = l % 2 == 0 ? 0.5f : 0.0f;
        const float shift = std::atanh(offset / half_l);
        const float bounded = std::tanh(z[i] + shift) * half_l - offset;
        const int64_t q = static_cast<int64_t>(std::nearbyint(bounded)); // round half to even, as torch
        if (code) code[i] = static_cast<float>(q) / static_cast<float>(half);
        index += std::clamp<int64_t>(q + half, 0, l - 1) * basis;
        basis *= l;
    }
    return index;
}

namespace cosmos {

// ---- Haar patcher ----------------------------------------------------------------------------------------
// One level maps [T][g][H][W] to [T/2][8g][H/2][W/2]: subband k = 4·kt + 2·ky + kx at channel k·g + c holds
// (1/8)·Σ over the 2×2×2 block of (−1)^(kt·pt + ky·py + kx·px)·x; the inverse is the same signed sum
// without the 1/8 (the official 1/√2 filters and rescales combine to exactly these factors).

namespace {

inline float haarSign(int k, int p) {
    const int kt = k >> 2, ky = (k >> 1) & 1, kx = k & 1, pt = p >> 2, py = (p >> 1) & 1, px = p & 1;
    return ((kt * pt + ky * py + kx * px) & 1) ? -1.0f : 1.0f;
}

std::vector<float> haarLevel(const std::vector<float>& in, int64_t t, int64_t g, int64_t h, int64_t w) {
    const int64_t t2 = t / 2, h2 = h / 2, w2 = w / 2;
    std::vector<float> out(static_cast<size_t>(t2 * 8 * g * h2 * w2));
    for (int64_t ti = 0; ti < t2; ++ti)
        for (int64_t c = 0; c < g; ++c)
            for (int64_t y = 0; y < h2; ++y)
                for (int64_t x = 0; x < w2; ++x) {
                    float v[8];
                    for (int p = 0; p < 8; ++p)
                        v[p] = in[static_cast<size_t>(
                            (((2 * ti + (p >> 2)) * g + c) * h + 2 * y + ((p >> 1) & 1)) * w + 2 * x +
                            (p & 1))];
                    for (int k = 0; k < 8; ++k) {
                        float s = 0;
                        for (int p = 0; p < 8; ++p) s += haarSign(k, p) * v[p];
                        out[static_cast<size_t>(((ti * 8 * g + k * g + c) * h2 + y) * w2 + x)] = s * 0.125f;
                    }
                }
    return out;
}

std::vector<float> inverseHaarLevel(const std::vector<float>& in, int64_t t, int64_t g, int64_t h,
                                    int64_t w) {
    const int64_t h2 = 2 * h, w2 = 2 * w;
    std::vector<float> out(static_cast<size_t>(2 * t * g * h2 * w2));
    for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t c = 0; c < g; ++c)
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x) {
                    float coef[8];
                    for (int k = 0; k < 8; ++k)
                        coef[k] = in[static_cast<size_t>(((ti * 8 * g + k * g + c) * h + y) * w + x)];
                    for (int p = 0; p < 8; ++p) {
                        float s = 0;
                        for (int k = 0; k < 8; ++k) s += haarSign(k, p) * coef[k];
                        out[static_cast<size_t>(
                            (((2 * ti + (p >> 2)) * g + c) * h2 + 2 * y + ((p >> 1) & 1)) * w2 + 2 * x +
                            (p & 1))] = s;
                    }
                }
    return out;
}

int log2Exact(int64_t v) {
    int n = 0;
    while (v > 1 && v % 2 == 0) {
        v /= 2;
        ++n;
    }
    return v == 1 ? n : -1;
}

} // namespace

std::vector<float> haarPatch(const std::vector<float>& fchw, int64_t frames, int64_t c, int64_t h, int64_t w,
                             int64_t patch) {
    // The first frame stands for `patch` frames, so 1 + p·k frames give 1 + k latent frames.
    const size_t frame = static_cast<size_t>(c * h * w);
    std::vector<float> x;
    x.reserve(frame * static_cast<size_t>(frames + patch - 1));
    for (int64_t i = 0; i < patch; ++i)
        x.insert(x.end(), fchw.begin(), fchw.begin() + static_cast<ptrdiff_t>(frame));
    x.insert(x.end(), fchw.begin() + static_cast<ptrdiff_t>(frame), fchw.end());
    int64_t t = frames + patch - 1, g = c;
    for (int l = log2Exact(patch); l > 0; --l) {
        x = haarLevel(x, t, g, h, w);
        t /= 2, g *= 8, h /= 2, w /= 2;
    }
    return x;
}

std::vector<float> haarUnpatch(const std::vector<float>& tchw, int64_t t, int64_t c, int64_t h, int64_t w,
                               int64_t patch) {
    std::vector<float> x = tchw;
    for (int l = log2Exact(patch); l > 0; --l) {
        x = inverseHaarLevel(x, t, c / 8, h, w);
        t *= 2, c /= 8, h *= 2, w *= 2;
    }
    const size_t drop = static_cast<size_t>((patch - 1) * c * h * w);
    return std::vector<float>(x.begin() + static_cast<ptrdiff_t>(drop), x.end());
}

// ---- config ----------------------------------------------------------------------------------------------

namespace {

constexpr float kNormEps = 1e-6f;

struct Config {
    std::vector<int64_t> levels, mult;
    int64_t channels = 0, res_blocks = 0, z_channels = 0, embedding_dim = 0, patch = 0, spatial = 0,
            temporal = 0, in_channels = 3, out_channels = 3;
    int spatial_steps = 0; // log2(spatial / patch): resampling levels
};

Expected<Config> parseConfig(const nlohmann::json& j, const std::string& src) {
    auto bad = [&](const std::string& m) { return Status::error(src + ": " + m); };
    auto integer = [&](const char* key, int64_t lo, int64_t hi, int64_t& out, bool required = true) -> bool {
        if (!j.contains(key)) return !required;
        if (!j[key].is_number_integer()) return false;
        out = j[key].get<int64_t>();
        return out >= lo && out <= hi;
    };
    auto list = [&](const char* key, int64_t lo, int64_t hi, std::vector<int64_t>& out) -> bool {
        if (!j.contains(key) || !j[key].is_array() || j[key].empty() || j[key].size() > 16) return false;
        for (const auto& v : j[key]) {
            if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) return false;
            out.push_back(v.get<int64_t>());
        }
        return true;
    };
    Config c;
    if (!list("levels", 2, 1 << 10, c.levels))
        return bad("levels must be a list of integers >= 2 (FSQ levels)");
    if (!list("channels_mult", 1, 64, c.mult))
        return bad("channels_mult must be a list of positive integers");
    if (!integer("channels", 1, 1 << 14, c.channels)) return bad("channels must be a positive integer");
    if (!integer("num_res_blocks", 1, 64, c.res_blocks))
        return bad("num_res_blocks must be a positive integer");
    if (!integer("z_channels", 1, 1 << 14, c.z_channels)) return bad("z_channels must be a positive integer");
    if (!integer("embedding_dim", 1, 16, c.embedding_dim))
        return bad("embedding_dim must be a positive integer");
    if (!integer("patch_size", 1, 64, c.patch)) return bad("patch_size must be a positive integer");
    if (!integer("spatial_compression", 1, 1 << 10, c.spatial))
        return bad("spatial_compression must be a positive integer");
    if (!integer("temporal_compression", 1, 64, c.temporal))
        return bad("temporal_compression must be a positive integer");
    if (!integer("in_channels", 1, 16, c.in_channels, false))
        return bad("in_channels must be a small positive integer");
    if (!integer("out_channels", 1, 16, c.out_channels, false))
        return bad("out_channels must be a small positive integer");
    if (c.embedding_dim != static_cast<int64_t>(c.levels.size()))
        return bad("embedding_dim " + std::to_string(c.embedding_dim) + " differs from the " +
                   std::to_string(c.levels.size()) + " FSQ levels");
    int64_t codes = 1;
    for (int64_t l : c.levels) {
        codes *= l;
        if (codes > std::numeric_limits<int32_t>::max())
            return bad("FSQ levels give more codes than int32 indices hold");
    }
    if (j.value("patch_method", std::string("haar")) != "haar")
        return bad("only patch_method \"haar\" is supported");
    if (j.contains("quantizer") && j["quantizer"] != "FSQ") return bad("only the FSQ quantizer is supported");
    for (const char* key : {"encoder", "decoder"})
        if (j.contains(key) && j[key] != "FACTORIZED")
            return bad(std::string(key) + ": only FACTORIZED is supported");
    if (j.contains("num_groups") && j["num_groups"] != 1)
        return bad("num_groups must be 1 (the per-frame normalisation of the official DV models)");
    const int lp = log2Exact(c.patch), ls = log2Exact(c.spatial), lt = log2Exact(c.temporal);
    if (lp < 0 || ls < 0 || lt < 0) return bad("patch_size and the compressions must be powers of two");
    if (lt != lp)
        return bad(
            "temporal_compression " + std::to_string(c.temporal) +
            " needs temporal resampling inside the "
            "network, which is not implemented (only temporal_compression == patch_size, as in DV4x8x8)");
    c.spatial_steps = ls - lp;
    if (c.spatial_steps < 0 || c.spatial_steps > static_cast<int>(c.mult.size()) - 1)
        return bad("spatial_compression " + std::to_string(c.spatial) + " does not fit patch_size " +
                   std::to_string(c.patch) + " and " + std::to_string(c.mult.size()) + " levels");
    return c;
}

// ---- loading ---------------------------------------------------------------------------------------------

struct Loader {
    WeightBinder& wb;
    Backend& be;

    Conv3d conv(const std::string& name, int64_t cout, int64_t cin, int64_t kt, int64_t k) {
        Conv3d c;
        c.kt = kt;
        c.k = k;
        Tensor w = wb.get(name + ".conv3d.weight", {cout, cin, kt, k, k});
        c.b = wb.get(name + ".conv3d.bias", {cout});
        if (!w.defined()) return c;
        if (kt == 1) {
            c.w = w.reshape({cout, cin, k, k});
        } else {
            for (int64_t j = 0; j < kt; ++j)
                c.taps.push_back(be.slice(w, 2, j, j + 1).reshape({cout, cin, 1, 1}));
        }
        return c;
    }
    Norm norm(const std::string& name, int64_t ch) {
        return {wb.get(name + ".norm.weight", {ch}), wb.get(name + ".norm.bias", {ch})};
    }
    ResBlock res(const std::string& p, int64_t in, int64_t out) {
        ResBlock r;
        r.norm1 = norm(p + ".norm1", in);
        r.conv1s = conv(p + ".conv1.0", out, in, 1, 3);
        r.conv1t = conv(p + ".conv1.1", out, out, 3, 1);
        r.norm2 = norm(p + ".norm2", out);
        r.conv2s = conv(p + ".conv2.0", out, out, 1, 3);
        r.conv2t = conv(p + ".conv2.1", out, out, 3, 1);
        if (in != out) r.nin = conv(p + ".nin_shortcut", out, in, 1, 1);
        return r;
    }
    AttnBlock attn(const std::string& p, int64_t ch) {
        return {norm(p + ".norm", ch), conv(p + ".q", ch, ch, 1, 1), conv(p + ".k", ch, ch, 1, 1),
                conv(p + ".v", ch, ch, 1, 1), conv(p + ".proj_out", ch, ch, 1, 1)};
    }
    void mid(Coder& c, const std::string& p, int64_t ch) {
        c.mid1 = res(p + ".mid.block_1", ch, ch);
        c.attn_spatial = attn(p + ".mid.attn_1.0", ch);
        c.attn_temporal = attn(p + ".mid.attn_1.1", ch);
        c.mid2 = res(p + ".mid.block_2", ch, ch);
    }
    // Attention inside the levels (official attn_resolutions reached) is not implemented: say so rather
    // than silently skipping tensors the checkpoint carries.
    bool levelAttention(const std::string& p) const { return wb.has(p + ".attn.0.norm.norm.weight"); }
};

} // namespace

Expected<std::unique_ptr<Model>> Model::load(const std::string& dir, Backend& be, bool with_encoder) {
    try {
        if (!fs::exists(fs::path(dir) / "config.json")) return Status::error(dir + ": config.json missing");
        auto ckpt = Checkpoint::open(dir);
        if (!ckpt) return ckpt.status();
        const std::string src = (fs::path(dir) / "config.json").string();
        auto cfg = parseConfig(ckpt->config().json(), src);
        if (!cfg) return cfg.status();
        const Config& c = *cfg;

        auto m = std::make_unique<Model>();
        m->fsq_.levels = c.levels;
        m->temporal_ = c.temporal;
        m->spatial_ = c.spatial;
        m->patch_ = c.patch;
        m->channels_out_ = c.out_channels;
        m->has_encoder_ = with_encoder;

        WeightBinder wb(*ckpt, be);
        Loader ld{wb, be};
        const int64_t nlev = static_cast<int64_t>(c.mult.size()), p3 = c.patch * c.patch * c.patch;
        std::vector<std::string> unsupported;

        // Decoder: levels run L−1 → 0; level i (i ≠ 0) upsamples spatially while (L − 1 − i) < steps.
        {
            Coder& d = m->decoder_;
            int64_t ch = c.channels * c.mult.back();
            m->post_quant_conv_ = ld.conv("post_quant_conv", c.z_channels, c.embedding_dim, 1, 1);
            d.conv_in_s = ld.conv("decoder.conv_in.0", ch, c.z_channels, 1, 3);
            d.conv_in_t = ld.conv("decoder.conv_in.1", ch, ch, 3, 1);
            ld.mid(d, "decoder", ch);
            for (int64_t i = nlev - 1; i >= 0; --i) {
                const std::string p = "decoder.up." + std::to_string(i);
                if (ld.levelAttention(p)) unsupported.push_back(p + ".attn");
                Level lv;
                const int64_t out = c.channels * c.mult[static_cast<size_t>(i)];
                for (int64_t b = 0; b <= c.res_blocks; ++b) {
                    lv.blocks.push_back(ld.res(p + ".block." + std::to_string(b), ch, out));
                    ch = out;
                }
                if (i != 0 && (nlev - 1 - i) < c.spatial_steps) {
                    lv.resample = true;
                    lv.resample_conv = ld.conv(p + ".upsample.conv2", ch, ch, 1, 3);
                    lv.resample_out = ld.conv(p + ".upsample.conv3", ch, ch, 1, 1);
                }
                d.levels.push_back(std::move(lv));
                d.level_index.push_back(static_cast<int>(i));
            }
            d.norm_out = ld.norm("decoder.norm_out", ch);
            d.conv_out_s = ld.conv("decoder.conv_out.0", c.out_channels * p3, ch, 1, 3);
            d.conv_out_t = ld.conv("decoder.conv_out.1", c.out_channels * p3, c.out_channels * p3, 3, 1);
        }
        // Encoder: levels 0 → L−1; level i (i ≠ L−1) downsamples spatially while i < steps.
        if (with_encoder) {
            Coder& e = m->encoder_;
            int64_t ch = c.channels;
            e.conv_in_s = ld.conv("encoder.conv_in.0", ch, c.in_channels * p3, 1, 3);
            e.conv_in_t = ld.conv("encoder.conv_in.1", ch, ch, 3, 1);
            for (int64_t i = 0; i < nlev; ++i) {
                const std::string p = "encoder.down." + std::to_string(i);
                if (ld.levelAttention(p)) unsupported.push_back(p + ".attn");
                Level lv;
                const int64_t out = c.channels * c.mult[static_cast<size_t>(i)];
                for (int64_t b = 0; b < c.res_blocks; ++b) {
                    lv.blocks.push_back(ld.res(p + ".block." + std::to_string(b), ch, out));
                    ch = out;
                }
                if (i != nlev - 1 && i < c.spatial_steps) {
                    lv.resample = true;
                    lv.resample_conv = ld.conv(p + ".downsample.conv1", ch, ch, 1, 3);
                    lv.resample_out = ld.conv(p + ".downsample.conv3", ch, ch, 1, 1);
                    // The official block adds a 2×2 mean pool of the same padded input to the stride-2
                    // 3×3 conv; the pool's window is the kernel's top-left 2×2, so it folds into the
                    // weight as +1/4 on the diagonal (Cout == Cin).
                    if (lv.resample_conv.w.defined()) {
                        std::vector<float> w = be.readF32(lv.resample_conv.w);
                        for (int64_t o = 0; o < ch; ++o)
                            for (int64_t ky = 0; ky < 2; ++ky)
                                for (int64_t kx = 0; kx < 2; ++kx)
                                    w[static_cast<size_t>(((o * ch + o) * 3 + ky) * 3 + kx)] += 0.25f;
                        lv.resample_conv.w = be.fromF32(w, {ch, ch, 3, 3});
                    }
                }
                e.levels.push_back(std::move(lv));
                e.level_index.push_back(static_cast<int>(i));
            }
            ld.mid(e, "encoder", ch);
            e.norm_out = ld.norm("encoder.norm_out", ch);
            e.conv_out_s = ld.conv("encoder.conv_out.0", c.z_channels, ch, 1, 3);
            e.conv_out_t = ld.conv("encoder.conv_out.1", c.z_channels, c.z_channels, 3, 1);
            m->quant_conv_ = ld.conv("quant_conv", c.embedding_dim, c.z_channels, 1, 1);
        }
        Status st = wb.finish();
        if (!st.ok()) return Status::error(dir + ": " + st.message());
        if (!unsupported.empty())
            return Status::error(dir + ": attention inside the resolution levels (" + unsupported.front() +
                                 ") is not implemented; only the mid-block attention of the DV models is");
        return m;
    } catch (const Error& e) {
        return Status::error(dir + ": " + e.what());
    } catch (const std::exception& e) {
        return Status::error(dir + ": " + e.what());
    }
}

// ---- blocks ----------------------------------------------------------------------------------------------

Tensor Conv3d::run(Backend& be, const Tensor& x, int stride, int pad) const {
    if (kt == 1) return be.conv2d(x, w, &b, stride, pad < 0 ? static_cast<int>(k / 2) : pad);
    // Causal in time: output frame t reads frames t − (kt−1) … t, the first frame standing in for the
    // frames before the clip.
    const int64_t frames = x.dim(0);
    Tensor y = be.conv2d(x, taps.back(), &b, 1, 0);
    for (int64_t j = 0; j + 1 < kt; ++j) {
        const int64_t shift = kt - 1 - j;
        std::vector<int64_t> idx(static_cast<size_t>(frames));
        for (int64_t t = 0; t < frames; ++t) idx[static_cast<size_t>(t)] = std::max<int64_t>(0, t - shift);
        y = be.add(y, be.conv2d(be.gatherRows(x, idx), taps[static_cast<size_t>(j)], nullptr, 1, 0));
    }
    return y;
}

Tensor Norm::run(Backend& be, const Tensor& x) const {
    return be.groupNorm(x, 1, w, b, kNormEps); // frames are the batch: one group per frame
}

namespace {

Tensor silu(Backend& be, const Tensor& x) {
    return be.activation(x, Activation::Silu);
}

Tensor resBlock(Backend& be, const ResBlock& r, const Tensor& x) {
    Tensor h = silu(be, r.norm1.run(be, x));
    h = r.conv1t.run(be, r.conv1s.run(be, h));
    h = silu(be, r.norm2.run(be, h));
    h = r.conv2t.run(be, r.conv2s.run(be, h));
    return be.add(r.nin.b.defined() ? r.nin.run(be, x) : x, h);
}

// Single-head attention within each frame over its H·W positions.
Tensor spatialAttn(Backend& be, const AttnBlock& a, const Tensor& x) {
    const int64_t t = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), n = hh * ww;
    Tensor h = a.norm.run(be, x);
    auto tokens = [&](const Conv3d& cv) { return be.transposeLast2(cv.run(be, h).reshape({t, c, n})); };
    Tensor q = tokens(a.q).reshape({t, n, 1, c});
    Tensor k = tokens(a.k).reshape({t, 1, n, c});
    Tensor v = tokens(a.v).reshape({t, 1, n, c});
    AttentionMask full;
    full.kind = AttentionMask::Kind::Full;
    Tensor o = be.attention(q, k, v, n, full, 1.0f / std::sqrt(static_cast<float>(c)));
    o = be.transposeLast2(o.reshape({t, n, c})).reshape({t, c, hh, ww});
    return be.add(x, a.proj.run(be, o));
}

// Single-head attention per pixel over the frames, causal (frame t sees frames ≤ t).
Tensor temporalAttn(Backend& be, const AttnBlock& a, const Tensor& x) {
    const int64_t t = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), n = hh * ww;
    Tensor h = a.norm.run(be, x);
    // [T, C, N] → [N, T, C]
    auto perPixel = [&](const Tensor& y) {
        Tensor r = be.transposeLast2(y.reshape({t, c, n})).reshape({t, n * c}); // [T, N·C]
        return be.transposeLast2(be.transposeLast2(r).reshape({n, c, t}));      // [N, T, C]
    };
    Tensor q = perPixel(a.q.run(be, h)).reshape({n, t, 1, c});
    Tensor k = perPixel(a.k.run(be, h)).reshape({n, 1, t, c});
    Tensor v = perPixel(a.v.run(be, h)).reshape({n, 1, t, c});
    AttentionMask causal;
    causal.kind = AttentionMask::Kind::Causal;
    Tensor o = be.attention(q, k, v, t, causal, 1.0f / std::sqrt(static_cast<float>(c))); // [N, T, 1, C]
    // [N, T, C] → [T, C, N]
    Tensor r = be.transposeLast2(be.transposeLast2(o.reshape({n, t, c})).reshape({n * c, t})); // [T, N·C]
    o = be.transposeLast2(r.reshape({t, n, c})).reshape({t, c, hh, ww});
    return be.add(x, a.proj.run(be, o));
}

void midBlock(Backend& be, const Coder& c, Tensor& x, const std::string& prefix, const Probe& probe) {
    auto emit = [&](const char* name) {
        if (probe) probe(prefix + name, x);
    };
    x = resBlock(be, c.mid1, x);
    emit("mid_block_1");
    x = spatialAttn(be, c.attn_spatial, x);
    emit("mid_attn_spatial");
    x = temporalAttn(be, c.attn_temporal, x);
    emit("mid_attn_temporal");
    x = resBlock(be, c.mid2, x);
    emit("mid_block_2");
}

Tensor convOut(Backend& be, const Coder& c, const Tensor& x) {
    Tensor h = silu(be, c.norm_out.run(be, x));
    return c.conv_out_t.run(be, c.conv_out_s.run(be, h));
}

} // namespace

// ---- decode ----------------------------------------------------------------------------------------------

Tensor Model::runDecoder(Backend& be, Tensor x, const Probe& probe) const {
    const Coder& d = decoder_;
    auto emit = [&](const std::string& name) {
        if (probe) probe("decode_" + name, x);
    };
    x = post_quant_conv_.run(be, x);
    emit("post_quant");
    x = d.conv_in_t.run(be, d.conv_in_s.run(be, x));
    emit("conv_in");
    midBlock(be, d, x, "decode_", probe);
    for (size_t l = 0; l < d.levels.size(); ++l) {
        const Level& lv = d.levels[l];
        const std::string name = "up" + std::to_string(d.level_index[l]);
        for (const ResBlock& b : lv.blocks) x = resBlock(be, b, x);
        if (lv.resample) {
            x = be.upsampleNearest2x(x);
            x = lv.resample_out.run(be, be.add(x, lv.resample_conv.run(be, x)));
            emit(name + "_upsample");
        } else {
            emit(name + "_out");
        }
    }
    x = convOut(be, d, x);
    emit("conv_out");
    return x;
}

Expected<VideoF32> Model::decodeProbed(Backend& be, const std::vector<int32_t>& codes, int64_t latent_frames,
                                       int64_t h, int64_t w, const Probe& probe) const {
    constexpr int64_t kMaxSide = 1 << 12, kMaxFrames = 1 << 12;
    if (latent_frames < 1 || h < 1 || w < 1 || latent_frames > kMaxFrames || h > kMaxSide || w > kMaxSide)
        return Status::error("Cosmos decode: latent grid " + std::to_string(latent_frames) + "×" +
                             std::to_string(h) + "×" + std::to_string(w) + " out of range");
    if (static_cast<int64_t>(codes.size()) != latent_frames * h * w)
        return Status::error("Cosmos decode: " + std::to_string(codes.size()) +
                             " codes for a latent grid of " + std::to_string(latent_frames) + "×" +
                             std::to_string(h) + "×" + std::to_string(w));
    const int64_t dim = static_cast<int64_t>(fsq_.levels.size()), n = fsq_.codebookSize(), hw = h * w;
    std::vector<float> lat(static_cast<size_t>(latent_frames * dim * hw));
    std::vector<float> code(static_cast<size_t>(dim));
    for (int64_t t = 0; t < latent_frames; ++t)
        for (int64_t i = 0; i < hw; ++i) {
            const int64_t idx = codes[static_cast<size_t>(t * hw + i)];
            if (idx < 0 || idx >= n)
                return Status::error("Cosmos decode: code " + std::to_string(idx) + " at latent frame " +
                                     std::to_string(t) + " outside the codebook [0, " + std::to_string(n) +
                                     ")");
            fsq_.indexToCode(idx, code.data());
            for (int64_t c = 0; c < dim; ++c)
                lat[static_cast<size_t>((t * dim + c) * hw + i)] = code[static_cast<size_t>(c)];
        }
    try {
        Tensor x = be.fromF32(lat, {latent_frames, dim, h, w});
        if (probe) probe("decode_codes", x);
        x = runDecoder(be, x, probe);
        const int64_t ch = x.dim(1), hh = x.dim(2), ww = x.dim(3);
        std::vector<float> frames = haarUnpatch(be.readF32(x), latent_frames, ch, hh, ww, patch_);
        VideoF32 v;
        v.frames = latent_frames * patch_ - (patch_ - 1);
        v.height = hh * patch_;
        v.width = ww * patch_;
        const int64_t oc = channels_out_, plane = v.height * v.width;
        TS_CHECK(oc == 3,
                 "Cosmos decode: the decoder has " + std::to_string(oc) + " output channels, RGB needs 3");
        v.rgb.resize(static_cast<size_t>(v.frames * plane * 3));
        for (int64_t f = 0; f < v.frames; ++f)
            for (int64_t c = 0; c < 3; ++c)
                for (int64_t p = 0; p < plane; ++p)
                    v.rgb[static_cast<size_t>((f * plane + p) * 3 + c)] =
                        frames[static_cast<size_t>((f * 3 + c) * plane + p)];
        return v;
    } catch (const Error& e) {
        return Status::error(std::string("Cosmos decode: ") + e.what());
    }
}

// ---- encode ----------------------------------------------------------------------------------------------

Tensor Model::runEncoder(Backend& be, Tensor x, const Probe& probe) const {
    const Coder& e = encoder_;
    auto emit = [&](const std::string& name) {
        if (probe) probe("encode_" + name, x);
    };
    x = e.conv_in_t.run(be, e.conv_in_s.run(be, x));
    emit("conv_in");
    for (size_t l = 0; l < e.levels.size(); ++l) {
        const Level& lv = e.levels[l];
        for (const ResBlock& b : lv.blocks) x = resBlock(be, b, x);
        if (lv.resample) {
            x = lv.resample_out.run(be, lv.resample_conv.run(be, be.padRightBottom(x, 1), 2, 0));
            emit("down" + std::to_string(e.level_index[l]) + "_downsample");
        }
    }
    midBlock(be, e, x, "encode_", probe);
    x = convOut(be, e, x);
    emit("z");
    x = quant_conv_.run(be, x);
    emit("pre_quant");
    return x;
}

Expected<std::vector<int32_t>> Model::encodeProbed(Backend& be, const VideoF32& video,
                                                   const Probe& probe) const {
    if (!has_encoder_) return Status::error("Cosmos encode: the tokenizer was loaded without its encoder");
    const int64_t f = video.frames, hh = video.height, ww = video.width;
    if (f < 1 || (f - 1) % temporal_ != 0 || hh < spatial_ || ww < spatial_ || hh % spatial_ != 0 ||
        ww % spatial_ != 0 || f > (1 << 14) || hh > (1 << 15) || ww > (1 << 15))
        return Status::error("Cosmos encode: a video of " + std::to_string(f) + " frames of " +
                             std::to_string(ww) + "×" + std::to_string(hh) + " is not 1 + " +
                             std::to_string(temporal_) + "·k frames of a size that is a multiple of " +
                             std::to_string(spatial_));
    const int64_t plane = hh * ww;
    if (static_cast<int64_t>(video.rgb.size()) != f * plane * 3)
        return Status::error("Cosmos encode: " + std::to_string(video.rgb.size()) + " values for " +
                             std::to_string(f) + " RGB frames of " + std::to_string(ww) + "×" +
                             std::to_string(hh));
    std::vector<float> fchw(video.rgb.size());
    for (int64_t i = 0; i < f; ++i)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t p = 0; p < plane; ++p)
                fchw[static_cast<size_t>((i * 3 + c) * plane + p)] =
                    video.rgb[static_cast<size_t>((i * plane + p) * 3 + c)];
    const int64_t t = 1 + (f - 1) / patch_, p3 = patch_ * patch_ * patch_;
    try {
        Tensor x = be.fromF32(haarPatch(fchw, f, 3, hh, ww, patch_), {t, 3 * p3, hh / patch_, ww / patch_});
        if (probe) probe("encode_patched", x);
        x = runEncoder(be, x, probe);
        const int64_t dim = x.dim(1), h = x.dim(2), w = x.dim(3), hw = h * w;
        TS_CHECK(dim == static_cast<int64_t>(fsq_.levels.size()),
                 "Cosmos encode: latent width differs from the FSQ levels");
        const std::vector<float> z = be.readF32(x);
        std::vector<int32_t> ids(static_cast<size_t>(t * hw));
        std::vector<float> codes(z.size()), zi(static_cast<size_t>(dim)), ci(static_cast<size_t>(dim));
        for (int64_t ti = 0; ti < t; ++ti)
            for (int64_t i = 0; i < hw; ++i) {
                for (int64_t c = 0; c < dim; ++c)
                    zi[static_cast<size_t>(c)] = z[static_cast<size_t>((ti * dim + c) * hw + i)];
                ids[static_cast<size_t>(ti * hw + i)] =
                    static_cast<int32_t>(fsq_.quantize(zi.data(), ci.data()));
                for (int64_t c = 0; c < dim; ++c)
                    codes[static_cast<size_t>((ti * dim + c) * hw + i)] = ci[static_cast<size_t>(c)];
            }
        if (probe) probe("encode_codes", be.fromF32(codes, {t, dim, h, w}));
        return ids;
    } catch (const Error& e) {
        return Status::error(std::string("Cosmos encode: ") + e.what());
    }
}

} // namespace cosmos

Expected<std::unique_ptr<CosmosTokenizer>> CosmosTokenizer::load(const std::string& dir, Backend& be,
                                                                 bool with_encoder) {
    auto m = cosmos::Model::load(dir, be, with_encoder);
    if (!m) return m.status();
    return std::unique_ptr<CosmosTokenizer>(std::move(*m));
}

} // namespace tessera
