// MM-RoPE reference sets (Lumos-1): meta.json + golden.safetensors with the positions, cos/sin, rotated
// q/k and the frame-causal mask computed by the official functions.
#include <filesystem>
#include <fstream>

#include "tessera/engine/mm_rope.h"
#include "verify/verify_internal.h"

namespace fs = std::filesystem;

namespace tessera::verify {

bool isMmRopeSet(const std::string& dir) {
    if (!fs::exists(fs::path(dir) / "meta.json")) return false;
    auto g = Goldens::open(dir);
    return g && g->ckpt.has("pos_t") && g->ckpt.has("cos");
}

namespace {

// [1, H, T, D] (the reference layout) -> [1, T, H, D] (the backend's).
std::vector<float> headsToTokens(const std::vector<float>& x, int64_t heads, int64_t t, int64_t d) {
    std::vector<float> out(x.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < t; ++i)
            for (int64_t e = 0; e < d; ++e) out[static_cast<size_t>((i * heads + h) * d + e)] = x[static_cast<size_t>((h * t + i) * d + e)];
    return out;
}

} // namespace

Expected<VerifyReport> verifyMmRope(const std::string& dir, Backend& be) {
    nlohmann::json meta;
    try {
        std::ifstream in(fs::path(dir) / "meta.json");
        meta = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        return Status::error(dir + "/meta.json: " + e.what());
    }
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    auto load = [&](const char* name) { return gold->tensor(name, be); };
    auto ids_t = load("input_ids");
    if (!ids_t) return ids_t.status();
    const std::vector<int64_t> ids = be.readI64(*ids_t);
    auto pos = mmRopePositions(ids);
    if (!pos) return pos.status();

    VerifyReport r;
    r.kind = "mmrope";
    for (const auto& [name, got] : std::vector<std::pair<const char*, const std::vector<int64_t>*>>{
             {"pos_text", &pos->text}, {"pos_t", &pos->t}, {"pos_h", &pos->h}, {"pos_w", &pos->w}}) {
        auto want = load(name);
        if (!want) return want.status();
        r.checks.push_back(compareIds(name, *got, be.readI64(*want)));
    }
    auto flag = load("content_flag");
    if (!flag) return flag.status();
    r.checks.push_back(compareIds("content_flag", std::vector<int64_t>(pos->content.begin(), pos->content.end()), be.readI64(*flag)));

    const int64_t d = meta.value("head_dim", 0), heads = meta.value("heads", 0), t = static_cast<int64_t>(ids.size());
    const double theta = meta.value("rope_theta", 10000.0);
    if (d <= 0 || d % 16 != 0 || heads <= 0) return Status::error(dir + "/meta.json: head_dim (multiple of 16) and heads needed");
    RopeTables tables = mmRopeTables(be, *pos, d, theta);
    for (const auto& [name, got] : std::vector<std::pair<const char*, Tensor*>>{{"cos", &tables.cos}, {"sin", &tables.sin}}) {
        auto want = load(name);
        if (!want) return want.status();
        r.checks.push_back(compareF32(name, be.readF32(*got), be.readF32(*want), 1e-4));
    }
    for (const auto& [in, out] : std::vector<std::pair<const char*, const char*>>{{"q", "q_rot"}, {"k", "k_rot"}}) {
        auto x = load(in), want = load(out);
        if (!x || !want) return x ? want.status() : x.status();
        Tensor xt = be.fromF32(headsToTokens(be.readF32(*x), heads, t, d), {1, t, heads, d});
        Tensor wt = be.fromF32(headsToTokens(be.readF32(*want), heads, t, d), {1, t, heads, d});
        r.checks.push_back(compareF32(out, be.readF32(be.rope(xt, tables.cos, tables.sin)), be.readF32(wt), 1e-4));
    }
    auto allowed = load("allowed");
    if (!allowed) return allowed.status();
    std::vector<uint8_t> want_mask(static_cast<size_t>(allowed->numel()));
    be.read(*allowed, want_mask.data());
    const std::vector<uint8_t> got_mask = frameCausalMask(ids);
    r.checks.push_back(compareIds("allowed", std::vector<int64_t>(got_mask.begin(), got_mask.end()),
                                  std::vector<int64_t>(want_mask.begin(), want_mask.end())));
    return r;
}

} // namespace tessera::verify
