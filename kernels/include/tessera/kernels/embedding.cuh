// Embedding gather: y[i] = table[ids[i]] widened to f32. An id outside [0, vocab) writes a zero row and
// stores that id into *bad_id if it still holds kNoBadId (the caller sets it, checks it at its next
// synchronisation and reports the id).
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

inline constexpr long long kNoBadId = -0x7fffffffffffffffLL - 1;

// table: [vocab, d] of `elem`; ids: n int64 (ids_i64) or int32; y: [n, d] f32; bad_id: one int64.
KernelStatus embeddingGather(const void* table, Elem elem, const void* ids, bool ids_i64, int64_t n, int64_t vocab,
                             int64_t d, float* y, long long* bad_id, void* stream);

} // namespace tessera::kernels
