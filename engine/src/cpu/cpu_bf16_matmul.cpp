// bf16 × bf16 matrix products (see cpu_bf16_matmul.h). The AMX path is written with the compiler's
// tile intrinsics: no Debian library offers a bf16 GEMM that reads the checkpoint's [N, K] bf16 rows in
// place (OpenBLAS's sbgemm wants both operands converted, oneDNN is not packaged for Debian 12), and
// the loop is small.
#include "cpu/cpu_bf16_matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tessera/engine/tensor.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define TESSERA_AMX 1
#endif

namespace tessera::cpu {

uint16_t roundToBf16(float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

namespace {

constexpr int64_t kTileK = 32;    // bf16 values per tile row (64 bytes)
constexpr int64_t kTileRows = 16; // rows per tile
constexpr int64_t kPackedChunk = kTileRows * kTileK; // uint16 per packed activation tile

void roundRows(const float* x, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) out[i] = bf16ToF32(roundToBf16(x[i]));
}

#if TESSERA_AMX

bool amxAvailable() {
    static const bool ok = [] {
        const char* off = std::getenv("TESSERA_CPU_NO_AMX");
        if (off && *off && std::strcmp(off, "0") != 0) return false;
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        const bool tile = d & (1u << 24), bf16 = d & (1u << 22);
        if (!tile || !bf16) return false;
        // Linux hands out the tile-data state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
        // the permission holds for the whole process.
        constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return ok;
}

struct alignas(64) TileConfig {
    uint8_t palette = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

// Activations packed for TDPBF16PS's B operand: per 16-row block of x and per 32-wide slice of k, a
// 16 × 64-byte tile whose row p holds, for each activation row j, the pair x[j][32c + 2p], x[j][32c + 2p + 1]
// (zeros past the last row). Tile t of the result then holds C[i][j] = Σ_k w[i][k]·x[j][k].
void packActivations(const float* x, int64_t m, int64_t k, uint16_t* out) {
    const int64_t chunks = k / kTileK, blocks = (m + kTileRows - 1) / kTileRows;
    for (int64_t mb = 0; mb < blocks; ++mb)
        for (int64_t c = 0; c < chunks; ++c) {
            uint16_t* tile = out + (mb * chunks + c) * kPackedChunk;
            for (int64_t p = 0; p < kTileRows; ++p)
                for (int64_t j = 0; j < kTileRows; ++j) {
                    const int64_t row = mb * kTileRows + j;
                    uint16_t* dst = tile + p * kTileK + j * 2;
                    if (row < m) {
                        const float* src = x + row * k + c * kTileK + 2 * p;
                        dst[0] = roundToBf16(src[0]);
                        dst[1] = roundToBf16(src[1]);
                    } else {
                        dst[0] = dst[1] = 0;
                    }
                }
        }
}

// NB blocks of 16 weight rows against MB blocks of 16 activation rows over the 32-wide slices of k;
// tile t = a·2 + b of `out` (256 floats each) holds weight block a against activation block b.
template <int NB, int MB>
__attribute__((target("amx-tile,amx-bf16"))) void amxBlock(const uint16_t* w, int64_t k, const uint16_t* xp0,
                                                          const uint16_t* xp1, float* out) {
    _tile_zero(0);
    if constexpr (MB > 1) _tile_zero(1);
    if constexpr (NB > 1) _tile_zero(2);
    if constexpr (NB > 1 && MB > 1) _tile_zero(3);
    const int64_t chunks = k / kTileK, stride = k * 2;
    for (int64_t c = 0; c < chunks; ++c) {
        _tile_loadd(4, w + c * kTileK, stride);
        if constexpr (NB > 1) _tile_loadd(5, w + kTileRows * k + c * kTileK, stride);
        _tile_loadd(6, xp0 + c * kPackedChunk, 64);
        if constexpr (MB > 1) _tile_loadd(7, xp1 + c * kPackedChunk, 64);
        _tile_dpbf16ps(0, 4, 6);
        if constexpr (MB > 1) _tile_dpbf16ps(1, 4, 7);
        if constexpr (NB > 1) _tile_dpbf16ps(2, 5, 6);
        if constexpr (NB > 1 && MB > 1) _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    if constexpr (MB > 1) _tile_stored(1, out + 256, 64);
    if constexpr (NB > 1) _tile_stored(2, out + 512, 64);
    if constexpr (NB > 1 && MB > 1) _tile_stored(3, out + 768, 64);
}

__attribute__((target("amx-tile"))) void loadTileConfig() {
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = kTileRows;
        cfg.colsb[t] = 64;
    }
    // Not _tile_loadconfig: GCC 12's intrinsic tells the compiler it reads 8 bytes, so the stores of
    // the row and column fields were dropped as dead. This operand is the whole 64-byte record.
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

__attribute__((target("amx-tile"))) void releaseTiles() { _tile_release(); }

struct AmxProblem {
    const float* xr; // rounded activations [m, k] (for the k tail)
    const uint16_t* packed;
    const uint16_t* w;
    float* y;
    int64_t m, n, k;
};

// Weight rows [u0·16, u1·16) against every activation row.
void amxUnits(const AmxProblem& p, int64_t u0, int64_t u1) {
    const int64_t chunks = p.k / kTileK, k_main = chunks * kTileK, mblocks = (p.m + kTileRows - 1) / kTileRows;
    alignas(64) float out[4 * 256];
    loadTileConfig();
    for (int64_t u = u0; u < u1;) {
        const int nb = (u + 1 < u1) ? 2 : 1;
        const uint16_t* wb = p.w + u * kTileRows * p.k;
        for (int64_t mb = 0; mb < mblocks;) {
            const int mbn = (mb + 1 < mblocks) ? 2 : 1;
            const uint16_t* x0 = p.packed + mb * chunks * kPackedChunk;
            const uint16_t* x1 = x0 + chunks * kPackedChunk;
            if (nb == 2 && mbn == 2) amxBlock<2, 2>(wb, p.k, x0, x1, out);
            else if (nb == 2) amxBlock<2, 1>(wb, p.k, x0, x1, out);
            else if (mbn == 2) amxBlock<1, 2>(wb, p.k, x0, x1, out);
            else amxBlock<1, 1>(wb, p.k, x0, x1, out);
            for (int a = 0; a < nb; ++a)
                for (int b = 0; b < mbn; ++b) {
                    const float* tile = out + (a * 2 + b) * 256;
                    for (int64_t j = 0; j < kTileRows; ++j) {
                        const int64_t row = (mb + b) * kTileRows + j;
                        if (row >= p.m) break;
                        const float* xr = p.xr + row * p.k;
                        for (int64_t i = 0; i < kTileRows; ++i) {
                            const int64_t col = (u + a) * kTileRows + i;
                            float s = tile[i * kTileRows + j];
                            const uint16_t* wr = p.w + col * p.k;
                            for (int64_t t = k_main; t < p.k; ++t) s += bf16ToF32(wr[t]) * xr[t];
                            p.y[row * p.n + col] = s;
                        }
                    }
                }
            mb += mbn;
        }
        u += nb;
    }
    releaseTiles();
}

#endif // TESSERA_AMX

} // namespace

const char* bf16MatmulPath() {
#if TESSERA_AMX
    if (amxAvailable()) return "amx";
#endif
    return "f32";
}

void bf16MatmulRows(ThreadPool& pool, const float* x, int64_t m, const Bf16* w, int64_t n, int64_t k, float* y,
                    Bf16Scratch& scratch) {
    if (m <= 0 || n <= 0) return;
    scratch.rounded.resize(static_cast<size_t>(std::max<int64_t>(scratch.rounded.size(), m * k)));
    float* xr = scratch.rounded.data();
    roundRows(x, m * k, xr);
#if TESSERA_AMX
    if (amxAvailable() && k >= kTileK) {
        const int64_t chunks = k / kTileK, mblocks = (m + kTileRows - 1) / kTileRows;
        const size_t packed = static_cast<size_t>(mblocks * chunks * kPackedChunk);
        if (scratch.packed.size() < packed) scratch.packed.resize(packed);
        packActivations(x, m, k, scratch.packed.data());
        const AmxProblem p{xr, scratch.packed.data(), reinterpret_cast<const uint16_t*>(w), y, m, n, k};
        const int64_t units = n / kTileRows;
        // At least ~64 KB of weights per chunk.
        const int64_t grain = std::max<int64_t>(2, (int64_t(1) << 16) / (kTileRows * k * 2));
        pool.parallelFor(units, grain, [&](int64_t b, int64_t e) { amxUnits(p, b, e); });
        // Weight rows past the last whole tile: the same products, summed in k order.
        for (int64_t col = units * kTileRows; col < n; ++col) {
            const uint16_t* wr = p.w + col * k;
            for (int64_t row = 0; row < m; ++row) {
                float s = 0.0f;
                for (int64_t t = 0; t < k; ++t) s += bf16ToF32(wr[t]) * xr[row * k + t];
                y[row * n + col] = s;
            }
        }
        return;
    }
#endif
    if (m <= gemvMaxRows()) gemvRows(pool, xr, m, w, n, k, y);
    else sgemmColumns(pool, m, n, k, xr, w, y, n);
}

} // namespace tessera::cpu
