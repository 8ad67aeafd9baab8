// The pipeline's cached, cropped two-branch frame steps against whole-sequence forwards without a cache
// (the reference's "no KV cache" path): every step's guided logits must equal l_u + g·(l_c − l_u) computed
// from fresh forwards of each branch's full sequence with the frame-causal mask and full MM-RoPE tables.
#include "tessera/engine/bench.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"
#include "tessera/engine/mm_rope.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera {

namespace {

constexpr int64_t kSteps = 4, kCells = 32, kCodes = 64000, kPrefix = 8, kVideoStart = 5;

// Logits [T, V] of a whole sequence, from nothing cached. MM-RoPE positions come from the sequence as
// generated (`layout`): the reference computes them before a committed frame is history-masked, and a
// MASK written over a newline must not move the columns.
std::vector<float> wholeForward(CausalLM& lm, Backend& be, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& layout) {
    const int64_t t = static_cast<int64_t>(ids.size());
    EXPECT_EQ(layout.size(), ids.size());
    auto pos = mmRopePositions(layout);
    EXPECT_TRUE(pos.ok());
    RopeTables rope = mmRopeTables(be, *pos, lm.config().head_dim, lm.config().rope_theta);
    const std::vector<uint8_t> allowed = frameCausalMask(ids);
    AttentionMask mask;
    mask.kind = AttentionMask::Kind::Explicit;
    mask.allowed = be.upload(allowed.data(), DType::U8, {t, t});
    KvCache cache = lm.newCache(1, t);
    Tensor h = lm.forward(lm.embed(be.fromI64(ids, {1, t})), cache, mask, &rope);
    return be.readF32(lm.logits(h));
}

// Guided logits over the codes at the frame whose [8197] is at `cond_start` (uncond: minus kVideoStart).
std::vector<float> guided(CausalLM& lm, Backend& be, const std::vector<int64_t>& cond,
                          const std::vector<int64_t>& uncond, const std::vector<int64_t>& layout,
                          int64_t cond_start, float g) {
    const std::vector<float> lc = wholeForward(lm, be, cond, layout);
    const std::vector<float> lu =
        wholeForward(lm, be, uncond, std::vector<int64_t>(layout.begin() + kVideoStart, layout.end()));
    const int64_t vocab = lm.config().vocab;
    std::vector<float> out;
    for (int64_t r = 0; r < 4; ++r)
        for (int64_t c = 0; c < 8; ++c) {
            const int64_t row_c = cond_start + 3 + r * 9 + c, row_u = row_c - kVideoStart;
            for (int64_t k = 0; k < kCodes; ++k) {
                const float vc = lc[static_cast<size_t>(row_c * vocab + 65536 + k)];
                const float vu = lu[static_cast<size_t>(row_u * vocab + 65536 + k)];
                out.push_back(vu + g * (vc - vu));
            }
        }
    return out;
}

void expectClose(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]) /
                                    std::max(1.0, std::fabs(static_cast<double>(want[i]))));
    EXPECT_LT(worst, 1e-4) << what;
}

} // namespace

TEST(LumosForward, CachedFrameStepsEqualWholeSequenceForwards) {
    const std::string dir =
        (fs::temp_directory_path() / ("tessera_lumos_fwd_" + std::to_string(::getpid()))).string();
    auto cfg = lumosPresetConfig("lumos-tiny");
    ASSERT_TRUE(cfg.ok());
    ASSERT_TRUE(bench::writeRandomCheckpoint(*cfg, dir, 3).ok());
    struct Cleanup {
        std::string d;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(d, ec);
        }
    } cleanup{dir};

    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    auto p = LumosPipeline::load(dir, **be);
    ASSERT_TRUE(p.ok()) << p.error();
    LumosRequest req;
    req.prompt_ids = {5, 6, 7};
    req.width = 64;
    req.height = 32;
    req.fps = 2;
    req.duration_s = 1;
    req.steps = kSteps;
    req.seed = 9;
    req.capture_guided_steps = kSteps + 2;
    std::vector<LumosProgress> pr;
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    auto r = (*p)->generate(req, ctx, [&](const LumosProgress& x) { pr.push_back(x); });
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->guided_logits.size(), static_cast<size_t>(kSteps + 2));
    ASSERT_EQ(r->committed.size(), 1u);

    auto ckpt = Checkpoint::open(dir);
    ASSERT_TRUE(ckpt.ok());
    auto lm = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(lm.ok());
    const std::vector<int64_t> prefix = lumosPrefix({5, 6, 7}, 1, 2);
    ASSERT_EQ(static_cast<int64_t>(prefix.size()), kPrefix);
    auto branches = [&](std::vector<int64_t> cond_tail, std::vector<int64_t> uncond_tail) {
        std::vector<int64_t> c = prefix, u(prefix.begin() + kVideoStart, prefix.end());
        c.insert(c.end(), cond_tail.begin(), cond_tail.end());
        u.insert(u.end(), uncond_tail.begin(), uncond_tail.end());
        return std::pair{c, u};
    };

    // Frame 0, step 0: everything masked.
    const auto masked = lumosFrameSegment(nullptr, 4, 8, 32, 64);
    auto [c0, u0] = branches(masked, masked);
    expectClose(r->guided_logits[0], guided(**lm, **be, c0, u0, c0, kPrefix, 15.0f), "frame 0 step 0");
    // Frame 0, step 1: what step 0 kept, the rest masked (the cache was cropped back in between).
    const auto kept = lumosFrameSegment(pr[0].grid.data(), 4, 8, 32, 64);
    auto [c1, u1] = branches(kept, kept);
    expectClose(r->guided_logits[1], guided(**lm, **be, c1, u1, c1, kPrefix, 15.0f), "frame 0 step 1");
    // Frame 1, step 0: frame 0 as committed (history-masked) in each branch, then frame 1 masked.
    std::vector<int64_t> ct = r->committed[0].cond, ut = r->committed[0].uncond;
    ct.insert(ct.end(), masked.begin(), masked.end());
    ut.insert(ut.end(), masked.begin(), masked.end());
    auto [c2, u2] = branches(ct, ut);
    const int64_t frame1 = kPrefix + 40;
    std::vector<int64_t> layout(r->sequence.begin(), r->sequence.begin() + frame1);
    layout.insert(layout.end(), masked.begin(), masked.end());
    expectClose(r->guided_logits[kSteps], guided(**lm, **be, c2, u2, layout, frame1, 15.0f),
                "frame 1 step 0");
    // Frame 1, step 1.
    std::vector<int64_t> ct1 = r->committed[0].cond, ut1 = r->committed[0].uncond;
    const auto kept1 = lumosFrameSegment(pr[kSteps].grid.data(), 4, 8, 32, 64);
    ct1.insert(ct1.end(), kept1.begin(), kept1.end());
    ut1.insert(ut1.end(), kept1.begin(), kept1.end());
    auto [c3, u3] = branches(ct1, ut1);
    expectClose(r->guided_logits[kSteps + 1], guided(**lm, **be, c3, u3, layout, frame1, 15.0f),
                "frame 1 step 1");
    (void)kCells;
}

} // namespace tessera
