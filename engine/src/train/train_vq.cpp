// VQ tokenizer training (train_vq.h). Sections: parameters · blocks · forward · save.
#include "tessera/engine/train_vq.h"

#include "tessera/engine/train_loop.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

namespace tessera::train {
namespace {

constexpr int kGroups = 32;
constexpr float kGroupEps = 1e-6f;
const std::string kPrefix = "model.vqmodel.";

std::string at(const std::string& p, int i) {
    return p + "." + std::to_string(i);
}

using T = Tape<float>;

} // namespace

// ---- parameters --------------------------------------------------------------------------------------

VqTrainModel::VqTrainModel(const VqTrainConfig& config, uint64_t seed) : config_(config) {
    const int64_t ch = config.channels, z = config.z_channels;
    if (ch <= 0 || ch % kGroups != 0 || z <= 0 || z % kGroups != 0)
        throw Error("VQ training: channels and z_channels must be positive multiples of 32, got " +
                    std::to_string(ch) + " and " + std::to_string(z));
    if (config.levels < 1 || config.levels > 6 || config.blocks < 1 || config.codebook < 2 ||
        config.code_dim < 1)
        throw Error("VQ training: need 1..6 levels, at least 1 block, 2 codes and a code width of 1 or more");
    std::mt19937_64 rng(seed);
    auto add = [&](const std::string& name, Shape shape, float fill = 0, double fan_in = 0) {
        Parameter<float> p;
        p.name = kPrefix + name;
        p.shape = shape;
        p.value.assign(static_cast<size_t>(shapeNumel(shape)), fill);
        if (fan_in > 0) { // Kaiming-uniform-like start (as torch's conv default)
            const double bound = 1.0 / std::sqrt(fan_in);
            std::uniform_real_distribution<double> d(-bound, bound);
            for (float& v : p.value) v = static_cast<float>(d(rng));
        }
        p.zeroGrad();
        params_.push_back(std::move(p));
    };
    auto conv = [&](const std::string& n, int64_t out, int64_t in, int64_t k) {
        add(n + ".weight", {out, in, k, k}, 0, static_cast<double>(in * k * k));
        add(n + ".bias", {out});
    };
    auto norm = [&](const std::string& n, int64_t c) {
        add(n + ".weight", {c}, 1.0f);
        add(n + ".bias", {c});
    };
    auto res = [&](const std::string& n) {
        norm(n + ".norm1", ch);
        conv(n + ".conv1", ch, ch, 3);
        norm(n + ".norm2", ch);
        conv(n + ".conv2", ch, ch, 3);
    };
    auto mid = [&](const std::string& n) {
        res(n + ".mid.block_1");
        norm(n + ".mid.attn_1.norm", ch);
        for (const char* x : {"q", "k", "v", "proj_out"}) conv(n + ".mid.attn_1." + x, ch, ch, 1);
        res(n + ".mid.block_2");
    };
    auto coder = [&](const std::string& n, bool decoder) {
        conv(n + ".conv_in", ch, decoder ? z : 3, 3);
        if (decoder) mid(n);
        for (int l = 0; l < config.levels; ++l) {
            const std::string lp = at(n + (decoder ? ".up" : ".down"), l);
            for (int b = 0; b < config.blocks; ++b) res(at(lp + ".block", b));
            if (l + 1 < config.levels)
                conv(lp + (decoder ? ".upsample.conv" : ".downsample.conv"), ch, ch, 3);
        }
        if (!decoder) mid(n);
        norm(n + ".norm_out", ch);
        conv(n + ".conv_out", decoder ? 3 : z, ch, 3);
    };
    coder("encoder", false);
    conv("quant_conv", config.code_dim, z, 1);
    add("quantize.embedding.weight", {config.codebook, config.code_dim}, 0, 1.0);
    conv("post_quant_conv", z, config.code_dim, 1);
    coder("decoder", true);
}

Parameter<float>& VqTrainModel::param(const std::string& name) {
    for (auto& p : params_)
        if (p.name == kPrefix + name) return p;
    throw Error("VQ training: no parameter " + kPrefix + name);
}

// ---- forward -------------------------------------------------------------------------------------------

// The square roots of VqTrainConfig::object_weight's pixel weights, [B, 3, H, W] (the same for the three
// channels of a pixel): mse(r·√w, x·√w) is the weighted MSE. A pixel's distance is the larger of the
// target's and the reconstruction's (`recon`, a constant here) from the target's median colour.
static std::vector<float> objectWeights(const std::vector<float>& pixels, const std::vector<float>& recon,
                                        int64_t batch, int64_t height, int64_t width, float alpha) {
    const size_t hw = static_cast<size_t>(height * width);
    std::vector<float> out(pixels.size());
    std::vector<float> channel(hw), w(hw);
    for (size_t b = 0; b < static_cast<size_t>(batch); ++b) {
        const float* img = pixels.data() + b * 3 * hw;
        const float* rec = recon.data() + b * 3 * hw;
        float median[3];
        for (size_t c = 0; c < 3; ++c) {
            channel.assign(img + c * hw, img + (c + 1) * hw);
            std::nth_element(channel.begin(), channel.begin() + static_cast<ptrdiff_t>(hw / 2),
                             channel.end());
            median[c] = channel[hw / 2];
        }
        double sum = 0;
        for (size_t p = 0; p < hw; ++p) {
            double d2 = 0, r2 = 0;
            for (size_t c = 0; c < 3; ++c) {
                d2 += (img[c * hw + p] - median[c]) * (img[c * hw + p] - median[c]);
                r2 += (rec[c * hw + p] - median[c]) * (rec[c * hw + p] - median[c]);
            }
            w[p] = 1.0f + alpha * static_cast<float>(std::min(1.0, std::sqrt(std::max(d2, r2))));
            sum += w[p];
        }
        const double mean = sum / static_cast<double>(hw);
        for (size_t p = 0; p < hw; ++p)
            for (size_t c = 0; c < 3; ++c)
                out[b * 3 * hw + c * hw + p] = static_cast<float>(std::sqrt(w[p] / mean));
    }
    return out;
}

VqTrainModel::Forward VqTrainModel::forward(T& t, const std::vector<float>& pixels, int64_t batch,
                                            int64_t height, int64_t width) {
    const int64_t f = downsample();
    if (batch < 1 || height % f != 0 || width % f != 0 || height < f || width < f ||
        pixels.size() != static_cast<size_t>(batch * 3 * height * width))
        throw Error("VQ training: images must be [B, 3, H, W] with sides multiples of " + std::to_string(f));
    auto leaf = [&](const std::string& n) { return t.leaf(param(n)); };
    auto conv = [&](const std::string& n, Var x, int stride, int pad) {
        return t.conv2d(x, leaf(n + ".weight"), leaf(n + ".bias"), stride, pad);
    };
    auto normAct = [&](const std::string& n, Var x, bool act) {
        Var y = t.groupNorm(x, kGroups, leaf(n + ".weight"), leaf(n + ".bias"), kGroupEps);
        return act ? t.silu(y) : y;
    };
    auto res = [&](const std::string& n, Var x) {
        Var h = conv(n + ".conv1", normAct(n + ".norm1", x, true), 1, 1);
        h = conv(n + ".conv2", normAct(n + ".norm2", h, true), 1, 1);
        return t.add(x, h);
    };
    const int64_t ch = config_.channels;
    auto attn = [&](const std::string& n, Var x) {
        const Shape s = t.shape(x); // [B, C, h, w]
        Var h = normAct(n + ".norm", x, false);
        auto tokens = [&](const char* which) {
            return t.reshape(t.channelsLast(conv(n + "." + which, h, 1, 0)), {s[0], s[2] * s[3], ch});
        };
        AttentionSpec spec;
        spec.heads = spec.kv_heads = 1;
        spec.head_dim = ch;
        spec.causal = false;
        Var o = t.attention(tokens("q"), tokens("k"), tokens("v"), spec);
        o = t.channelsFirst(t.reshape(o, {s[0] * s[2] * s[3], ch}), s[0], s[2], s[3]);
        return t.add(x, conv(n + ".proj_out", o, 1, 0));
    };
    auto mid = [&](const std::string& n, Var x) {
        x = res(n + ".mid.block_1", x);
        x = attn(n + ".mid.attn_1", x);
        return res(n + ".mid.block_2", x);
    };
    // The 3x3 weight placed in the bottom-right of a zero 5x5 kernel (see the header).
    std::vector<float> embed(25 * 9, 0.0f);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            embed[static_cast<size_t>(((i + 2) * 5 + (j + 2)) * 9 + i * 3 + j)] = 1.0f;
    auto downsampleConv = [&](const std::string& n, Var x) {
        Var w = leaf(n + ".weight");
        Var w5 = t.linear(t.reshape(w, {ch * ch, 9}), t.constant(embed, {25, 9}));
        return t.conv2d(x, t.reshape(w5, {ch, ch, 5, 5}), leaf(n + ".bias"), 2, 2);
    };

    Var x = t.constant(pixels, {batch, 3, height, width});
    // Encoder.
    Var h = conv("encoder.conv_in", x, 1, 1);
    for (int l = 0; l < config_.levels; ++l) {
        const std::string lp = at("encoder.down", l);
        for (int b = 0; b < config_.blocks; ++b) h = res(at(lp + ".block", b), h);
        if (l + 1 < config_.levels) h = downsampleConv(lp + ".downsample.conv", h);
    }
    h = mid("encoder", h);
    h = conv("encoder.conv_out", normAct("encoder.norm_out", h, true), 1, 1);
    Var zq = conv("quant_conv", h, 1, 0);
    const int64_t gh = height / f, gw = width / f, d = config_.code_dim;
    // Unit vectors: x / |x| = rmsNorm(x) / sqrt(d).
    Var inv =
        t.constant(std::vector<float>(static_cast<size_t>(d), 1.0f / std::sqrt(static_cast<float>(d))), {d});
    Var zn = t.rmsNorm(t.channelsLast(zq), inv, 1e-12f);
    Var book = t.rmsNorm(leaf("quantize.embedding.weight"), inv, 1e-12f);
    auto q = t.vectorQuantize(zn, book);
    Var codebook_loss = t.mse(q.codes, t.stopGradient(zn));
    Var commit = t.mse(zn, t.stopGradient(q.codes));
    // Decoder.
    h = conv("post_quant_conv", t.channelsFirst(q.straight_through, batch, gh, gw), 1, 0);
    h = conv("decoder.conv_in", h, 1, 1);
    h = mid("decoder", h);
    for (int l = 0; l < config_.levels; ++l) {
        const std::string lp = at("decoder.up", l);
        for (int b = 0; b < config_.blocks; ++b) h = res(at(lp + ".block", b), h);
        if (l + 1 < config_.levels) h = conv(lp + ".upsample.conv", t.upsampleNearest2x(h), 1, 1);
    }
    Var recon = conv("decoder.conv_out", normAct("decoder.norm_out", h, true), 1, 1);
    Forward out;
    out.reconstruction = recon;
    out.pixel_loss = t.mse(recon, x);
    Var rec_loss = out.pixel_loss;
    if (config_.object_weight > 0) {
        const std::vector<float> w =
            objectWeights(pixels, t.value(recon), batch, height, width, config_.object_weight);
        Var sw = t.constant(w, {batch, 3, height, width});
        rec_loss = t.mse(t.mul(recon, sw), t.mul(x, sw));
    }
    out.loss = t.add(t.add(rec_loss, codebook_loss), t.scale(commit, config_.commitment));
    out.codes = q.indices;
    out.latents = zn;
    return out;
}

int VqTrainModel::restartUnusedCodes(const std::vector<float>& pixels, int64_t batch, int64_t height,
                                     int64_t width) {
    T t;
    const Forward fwd = forward(t, pixels, batch, height, width);
    const auto& z = t.value(fwd.latents);
    const int64_t d = config_.code_dim, n = static_cast<int64_t>(fwd.codes.size());
    auto& book = param("quantize.embedding.weight").value;
    std::vector<bool> used(static_cast<size_t>(config_.codebook), false);
    for (int64_t c : fwd.codes) used[static_cast<size_t>(c)] = true;
    // Distance of each latent to its code's unit row.
    std::vector<std::pair<double, int64_t>> far(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const float* row = &book[static_cast<size_t>(fwd.codes[static_cast<size_t>(i)] * d)];
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) norm += static_cast<double>(row[j]) * row[j];
        norm = std::sqrt(std::max(norm, 1e-24));
        double dist = 0;
        for (int64_t j = 0; j < d; ++j) {
            const double e = z[static_cast<size_t>(i * d + j)] - row[j] / norm;
            dist += e * e;
        }
        far[static_cast<size_t>(i)] = {-dist, i}; // ascending sort = farthest first, ties by index
    }
    std::sort(far.begin(), far.end());
    int moved = 0;
    for (int64_t c = 0; c < config_.codebook && moved < n; ++c) {
        if (used[static_cast<size_t>(c)]) continue;
        const int64_t src = far[static_cast<size_t>(moved)].second;
        std::copy_n(&z[static_cast<size_t>(src * d)], d, &book[static_cast<size_t>(c * d)]);
        ++moved;
    }
    return moved;
}

// ---- save ----------------------------------------------------------------------------------------------

Status VqTrainModel::save(const std::string& dir, DType dtype) const {
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
        return Status::error("a VQ tokenizer is saved in f32, f16 or bf16");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::vector<NamedF32> tensors;
    for (const auto& p : params_) tensors.push_back({p.name, p.shape, &p.value, dtype});
    if (Status s = writeSafetensorsF32(dir + "/model.safetensors", tensors, {{"format", "pt"}}); !s.ok())
        return s;
    nlohmann::json cfg = {{"model_type", "janus_vq"},
                          {"torch_dtype", dtype == DType::F32   ? "float32"
                                          : dtype == DType::F16 ? "float16"
                                                                : "bfloat16"},
                          {"vq_config",
                           {{"num_embeddings", config_.codebook},
                            {"embed_dim", config_.code_dim},
                            {"base_channels", config_.channels},
                            {"latent_channels", config_.z_channels},
                            {"channel_multiplier", std::vector<int>(static_cast<size_t>(config_.levels), 1)},
                            {"num_res_blocks", config_.blocks},
                            {"codebook_l2_norm", true},
                            {"in_channels", 3},
                            {"out_channels", 3}}}};
    std::ofstream out(dir + "/config.json", std::ios::binary);
    if (!(out << cfg.dump(2) << '\n') || !out.flush())
        return Status::error("cannot write " + dir + "/config.json");
    return Status();
}

} // namespace tessera::train
