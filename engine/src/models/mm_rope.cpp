// Lumos-1 MM-RoPE positions and tables, and the frame-causal mask.
#include "tessera/engine/mm_rope.h"

#include <cmath>

namespace tessera {

namespace {

// Frame segments as [begin, end] index pairs (inclusive), begin at 8197, end at 8196 or the last token.
std::vector<std::pair<size_t, size_t>> frameSegments(const std::vector<int64_t>& ids, const LumosTokens& tok) {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] != tok.frame_start) continue;
        size_t end = i + 1;
        while (end < ids.size() && ids[end] != tok.frame_end && ids[end] != tok.frame_start) ++end;
        if (end == ids.size() || ids[end] == tok.frame_start) --end; // unterminated: up to the last token before
        out.emplace_back(i, end);
        i = end;
    }
    return out;
}

} // namespace

Expected<MmRopePositions> mmRopePositions(const std::vector<int64_t>& ids, const LumosTokens& tok) {
    MmRopePositions p;
    const size_t n = ids.size();
    for (size_t i = 0; i < n; ++i) {
        const auto v = static_cast<int64_t>(i);
        p.text.push_back(v);
        p.t.push_back(v);
        p.h.push_back(v);
        p.w.push_back(v);
        p.content.push_back(0);
    }
    int64_t p0 = -1;
    int64_t frame = 0;
    for (const auto& [begin, end] : frameSegments(ids, tok)) {
        const size_t first = begin + 3; // after [8197, gridH, gridW]
        const bool closed = ids[end] == tok.frame_end;
        const size_t last = closed ? end : end + 1; // content is [first, last)
        if (first > last) return Status::error("frame at position " + std::to_string(begin) + " lacks its grid header");
        if (p0 < 0) p0 = static_cast<int64_t>(first);
        int64_t row = 0, col = 0;
        for (size_t i = first; i < last; ++i) {
            p.content[i] = 1;
            p.t[i] = p0 + 4 * frame;
            p.h[i] = p0 + 8 * row;
            p.w[i] = p0 + 8 * col;
            if (ids[i] == tok.newline) {
                ++row;
                col = 0;
            } else {
                ++col;
            }
        }
        ++frame;
    }
    return p;
}

RopeTables mmRopeTables(Backend& be, const MmRopePositions& pos, int64_t head_dim, double theta) {
    TS_ASSERT(head_dim % 16 == 0, "MM-RoPE needs head_dim to be a multiple of 16");
    const int64_t t = static_cast<int64_t>(pos.text.size()), half = head_dim / 2;
    std::vector<float> cos(static_cast<size_t>(t * head_dim)), sin(cos.size());
    for (int64_t j = 0; j < half; ++j) {
        const float inv_freq = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(2 * j) / static_cast<double>(head_dim)));
        const int64_t slot = j % 16;
        const std::vector<int64_t>& axis = slot < 4 ? pos.t : ((slot % 4) < 2 ? pos.h : pos.w);
        for (int64_t i = 0; i < t; ++i) {
            const float angle = static_cast<float>(axis[static_cast<size_t>(i)]) * inv_freq;
            const size_t a = static_cast<size_t>(i * head_dim + j), b = a + static_cast<size_t>(half);
            cos[a] = cos[b] = std::cos(angle);
            sin[a] = sin[b] = std::sin(angle);
        }
    }
    return {be.fromF32(cos, {1, t, head_dim}), be.fromF32(sin, {1, t, head_dim})};
}

std::vector<uint8_t> frameCausalMask(const std::vector<int64_t>& ids, const LumosTokens& tok) {
    const size_t n = ids.size();
    std::vector<uint8_t> allowed(n * n, 0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j <= i; ++j) allowed[i * n + j] = 1;
    for (const auto& [begin, end] : frameSegments(ids, tok))
        for (size_t i = begin; i <= end; ++i)
            for (size_t j = begin; j <= end; ++j) allowed[i * n + j] = 1;
    return allowed;
}

} // namespace tessera
