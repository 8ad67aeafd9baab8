// Dense products on the CPU: GEMV for decoding (few activation rows against a large weight matrix)
// and BLAS GEMM split over the pool.
#pragma once

#include "cpu/thread_pool.h"

#include <cstdint>

namespace tessera::cpu {

// 16-bit weight elements as stored in a checkpoint (distinct types so overloads pick the widening).
struct Bf16 {
    uint16_t bits;
};
struct F16 {
    uint16_t bits;
};

// Up to this many activation rows go through gemvRows instead of BLAS sgemm: sgemm would pack (copy)
// the whole weight matrix for a handful of rows, doubling the memory traffic of a decode step (and
// widen 16-bit weights first). 8, or 64 where AVX-512 gives the register-blocked kernel (a 16-image
// batch with guidance, 32 rows, then reads each weight once per step).
int64_t gemvMaxRows();

// y[i, j] = dot(x[i, :], w[j, :]) for i < m, j < n; x [m, k], w [n, k] (PyTorch Linear layout), y [m, n].
// Each weight row is read from memory once for all m rows. Work is split over the pool by output
// feature j, never along k, and every dot product uses the same arithmetic whichever chunk holds it:
// results are bit-identical across thread counts.
void gemvRows(ThreadPool& pool, const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y);
// The same with weights kept in their checkpoint's 16-bit type, widened in registers (f32 accumulation,
// the same reduction order, hence the same bits as gemvRows on the widened weights).
void gemvRows(ThreadPool& pool, const float* x, int64_t m, const Bf16* w, int64_t n, int64_t k, float* y);
void gemvRows(ThreadPool& pool, const float* x, int64_t m, const F16* w, int64_t n, int64_t k, float* y);

// C [m, n] (row stride ldc) = A [m, k] · B, with B given as [n, k] (b_transposed, the Linear layout) or
// [k, n]. BLAS runs single-threaded on blocks of 64 output columns, a range of blocks per pool chunk:
// every call starts on a block boundary, so each element gets the same arithmetic for any thread count
// (OpenBLAS's own threading does not promise that).
void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                  bool b_transposed, float* c, int64_t ldc);
// The same with B [n, k] in a 16-bit type: each 64-column block is widened into a per-thread scratch
// (64 × k floats, kept between calls) just before its sgemm, so the whole matrix is never widened.
void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const Bf16* b, float* c,
                  int64_t ldc);
void sgemmColumns(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, const F16* b, float* c,
                  int64_t ldc);

} // namespace tessera::cpu
