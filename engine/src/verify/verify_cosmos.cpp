// Cosmos video tokenizer reference sets (config.json with FSQ levels + model.safetensors + goldens):
// FSQ both ways and the quantiser's forward pass, the decoder's intermediates and frames, causality
// (a latent frame never changes the frames of earlier latent frames) and, when the set has them, the
// encoder's intermediates and indices.
#include "models/cosmos_tokenizer.h"
#include "verify/verify_internal.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace tessera::verify {

bool isCosmosConfig(const ModelConfig& cfg) {
    const auto& j = cfg.json();
    return j.contains("levels") && j.contains("patch_size") && j.contains("temporal_compression") &&
           j.contains("spatial_compression");
}

namespace {

// Reference layout [1, C, T, H, W] → the engine's [T, C, H, W].
std::vector<float> ctToTc(const std::vector<float>& x, const Shape& s) {
    if (s.size() != 5) return x;
    const int64_t c = s[1], t = s[2], hw = s[3] * s[4];
    std::vector<float> out(x.size());
    for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t ti = 0; ti < t; ++ti)
            std::copy_n(x.begin() + (ci * t + ti) * hw, hw, out.begin() + (ti * c + ci) * hw);
    return out;
}

// [F][H][W][3] → [1, 3, F, H, W] and back.
std::vector<float> videoToCfhw(const VideoF32& v) {
    const int64_t plane = v.height * v.width;
    std::vector<float> out(v.rgb.size());
    for (int64_t f = 0; f < v.frames; ++f)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t p = 0; p < plane; ++p)
                out[static_cast<size_t>((c * v.frames + f) * plane + p)] =
                    v.rgb[static_cast<size_t>((f * plane + p) * 3 + c)];
    return out;
}

VideoF32 videoFromCfhw(const std::vector<float>& x, const Shape& s) {
    VideoF32 v;
    v.frames = s[2], v.height = s[3], v.width = s[4];
    const int64_t plane = v.height * v.width;
    v.rgb.resize(x.size());
    for (int64_t f = 0; f < v.frames; ++f)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t p = 0; p < plane; ++p)
                v.rgb[static_cast<size_t>((f * plane + p) * 3 + c)] =
                    x[static_cast<size_t>((c * v.frames + f) * plane + p)];
    return v;
}

VideoF32 firstFrames(const VideoF32& v, int64_t n) {
    VideoF32 out = v;
    out.frames = n;
    out.rgb.resize(static_cast<size_t>(n * v.height * v.width * 3));
    return out;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b, size_t begin, size_t end) {
    double m = 0;
    for (size_t i = begin; i < end && i < a.size() && i < b.size(); ++i)
        m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
    return m;
}

std::vector<int32_t> toI32(const std::vector<int64_t>& v) {
    return std::vector<int32_t>(v.begin(), v.end());
}

std::vector<int64_t> toI64(const std::vector<int32_t>& v) {
    return std::vector<int64_t>(v.begin(), v.end());
}

constexpr double kTolerance = 1e-4;   // float tensors against the official float32 run (README)
constexpr double kCausalSame = 1e-5;  // frames that must not change (the official run gives 0)
constexpr double kCausalMoved = 1e-3; // frames that must change when their latent frame does

} // namespace

Expected<VerifyReport> verifyCosmos(const std::string& dir, Backend& be) {
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    const bool with_encoder = gold->ckpt.has("encode_video");
    auto model = cosmos::Model::load(dir, be, with_encoder);
    if (!model) return model.status();
    const cosmos::Model& m = **model;
    const CosmosFsq& fsq = m.fsq();
    const size_t dim = fsq.levels.size();

    VerifyReport r;
    r.kind = "cosmos";
    std::map<std::string, Tensor> g;
    for (const std::string& name : gold->ckpt.names()) {
        auto t = gold->tensor(name, be);
        if (!t) return t.status();
        g[name] = *t;
    }
    auto need = [&](std::initializer_list<const char*> names) -> Status {
        for (const char* n : names)
            if (!g.count(n)) return Status::error(dir + "/golden.safetensors: " + n + " missing");
        return Status();
    };

    // ---- FSQ
    if (Status s = need(
            {"fsq_indices", "fsq_codes", "fsq_codes_to_indices", "fsq_z", "fsq_z_codes", "fsq_z_indices"});
        !s.ok())
        return s;
    {
        const std::vector<int64_t> idx = be.readI64(g["fsq_indices"]);
        std::vector<float> codes(idx.size() * dim);
        for (size_t i = 0; i < idx.size(); ++i) fsq.indexToCode(idx[i], codes.data() + i * dim);
        r.checks.push_back(compareF32("fsq_codes", codes, be.readF32(g["fsq_codes"]), 0.0));
        const std::vector<float> want_codes = be.readF32(g["fsq_codes"]);
        std::vector<int64_t> back(want_codes.size() / dim);
        for (size_t i = 0; i < back.size(); ++i) back[i] = fsq.codeToIndex(want_codes.data() + i * dim);
        r.checks.push_back(compareIds("fsq_codes_to_indices", back, be.readI64(g["fsq_codes_to_indices"])));
        const std::vector<float> z = be.readF32(g["fsq_z"]);
        std::vector<float> zc(z.size());
        std::vector<int64_t> zi(z.size() / dim);
        for (size_t i = 0; i < zi.size(); ++i) zi[i] = fsq.quantize(z.data() + i * dim, zc.data() + i * dim);
        r.checks.push_back(compareF32("fsq_z_codes", zc, be.readF32(g["fsq_z_codes"]), 0.0));
        r.checks.push_back(compareIds("fsq_z_indices", zi, be.readI64(g["fsq_z_indices"])));
        // Every index survives index → code → index.
        const int64_t n = fsq.codebookSize();
        std::vector<int64_t> all(static_cast<size_t>(n)), round(static_cast<size_t>(n));
        std::vector<float> code(dim);
        for (int64_t i = 0; i < n; ++i) {
            all[static_cast<size_t>(i)] = i;
            fsq.indexToCode(i, code.data());
            round[static_cast<size_t>(i)] = fsq.codeToIndex(code.data());
        }
        r.checks.push_back(compareIds("fsq_roundtrip_all_" + std::to_string(n), round, all));
    }

    // ---- decode
    if (Status s = need({"decode_indices", "decode_video", "decode_first_frame_video"}); !s.ok()) return s;
    const Shape lat = g["decode_indices"].shape();
    if (lat.size() != 4 || lat[0] != 1) return Status::error(dir + ": decode_indices must be [1, T, h, w]");
    const int64_t tl = lat[1], lh = lat[2], lw = lat[3];
    const std::vector<int32_t> codes = toI32(be.readI64(g["decode_indices"]));
    std::map<std::string, std::vector<float>> seen;
    auto probe = [&](const std::string& name, const Tensor& x) { seen[name] = be.readF32(x); };
    auto video = m.decodeProbed(be, codes, tl, lh, lw, probe);
    if (!video) return video.status();
    auto compareProbes = [&](const char* prefix, std::initializer_list<const char*> skip) {
        for (const auto& entry : g) { // not a structured binding: the lambda below captures the name
            const std::string& name = entry.first;
            const Tensor& t = entry.second;
            if (name.rfind(prefix, 0) != 0 || std::find_if(skip.begin(), skip.end(), [&](const char* s) {
                                                  return name == s;
                                              }) != skip.end())
                continue;
            if (!seen.count(name)) {
                VerifyCheck c;
                c.name = name;
                c.max_abs_diff = INFINITY;
                c.detail = "the native tokenizer has no intermediate of this name";
                r.checks.push_back(c);
                continue;
            }
            r.checks.push_back(compareF32(name, seen[name], ctToTc(be.readF32(t), t.shape()), kTolerance));
        }
    };
    compareProbes("decode_", {"decode_indices", "decode_video", "decode_first_frame_video"});
    const std::vector<float> got_video = videoToCfhw(*video);
    r.checks.push_back(compareF32("decode_video", got_video, be.readF32(g["decode_video"]), kTolerance));
    auto first = m.decode(be, std::vector<int32_t>(codes.begin(), codes.begin() + lh * lw), 1, lh, lw);
    if (!first) return first.status();
    r.checks.push_back(compareF32("decode_first_frame_video", videoToCfhw(*first),
                                  be.readF32(g["decode_first_frame_video"]), kTolerance));

    // ---- causality: change latent frame k; the frames of latent frames < k stay, later ones move.
    const size_t frame_values = static_cast<size_t>(video->height * video->width * 3);
    for (int64_t k = 1; k < tl; ++k) {
        std::vector<int32_t> changed = codes;
        for (int64_t i = k * lh * lw; i < (k + 1) * lh * lw; ++i)
            changed[static_cast<size_t>(i)] =
                static_cast<int32_t>((changed[static_cast<size_t>(i)] + 31337) % fsq.codebookSize());
        auto v2 = m.decode(be, changed, tl, lh, lw);
        if (!v2) return v2.status();
        const size_t kept = static_cast<size_t>(1 + 4 * (k - 1)) * frame_values;
        VerifyCheck c;
        c.name = "causality_latent_frame_" + std::to_string(k);
        c.tolerance = kCausalSame;
        c.max_abs_diff = maxAbsDiff(video->rgb, v2->rgb, 0, kept);
        const double moved = maxAbsDiff(video->rgb, v2->rgb, kept, video->rgb.size());
        c.passed = c.max_abs_diff <= kCausalSame && moved > kCausalMoved;
        c.detail = "earlier frames max |Δ| " + std::to_string(c.max_abs_diff) + ", later frames max |Δ| " +
                   std::to_string(moved) +
                   (moved > kCausalMoved ? "" : " (the change did not reach the later frames)");
        r.checks.push_back(c);
    }
    if (tl > 1) {
        auto prefix =
            m.decode(be, std::vector<int32_t>(codes.begin(), codes.end() - lh * lw), tl - 1, lh, lw);
        if (!prefix) return prefix.status();
        const int64_t nf = prefix->frames;
        r.checks.push_back(compareF32("causality_prefix_" + std::to_string(tl - 1) + "_latent_frames",
                                      prefix->rgb, firstFrames(*video, nf).rgb, kCausalSame));
    }

    // ---- encode
    if (!with_encoder) {
        r.notes.push_back("no encode goldens (encode_video, encode_indices): the encoder was not verified");
        return r;
    }
    if (Status s = need({"encode_indices", "encode_first_frame_indices"}); !s.ok()) return s;
    const Shape vs = g["encode_video"].shape();
    if (vs.size() != 5 || vs[0] != 1 || vs[1] != 3)
        return Status::error(dir + ": encode_video must be [1, 3, F, H, W]");
    const VideoF32 in = videoFromCfhw(be.readF32(g["encode_video"]), vs);
    seen.clear();
    auto ids = m.encodeProbed(be, in, probe);
    if (!ids) return ids.status();
    compareProbes("encode_", {"encode_video", "encode_indices", "encode_first_frame_indices"});
    r.checks.push_back(compareIds("encode_indices", toI64(*ids), be.readI64(g["encode_indices"])));
    auto first_ids = m.encode(be, firstFrames(in, 1));
    if (!first_ids) return first_ids.status();
    r.checks.push_back(compareIds("encode_first_frame_indices", toI64(*first_ids),
                                  be.readI64(g["encode_first_frame_indices"])));
    return r;
}

} // namespace tessera::verify
