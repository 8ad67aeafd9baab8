// Process-level facts and set-up: OpenBLAS kernels for this CPU, the memory a load may use.
#pragma once

#include <cstdint>
#include <string>

#include "tessera/engine/status.h"

namespace tessera {

// OpenBLAS picks its kernels for the CPU when the library loads. Debian 12's OpenBLAS (0.3.21) does
// not know CPUs released after it and falls back to its generic "Prescott" kernels, which run the
// engine's GEMMs and convolutions about three times slower. Where that happened and the CPU has
// AVX-512 (or AVX2 + FMA), this restarts the process once, with the same arguments, and
// OPENBLAS_CORETYPE set to the matching kernel family (SkylakeX, or Haswell). It returns normally
// where nothing needs doing: OPENBLAS_CORETYPE already set (by the user or by the restart), a CPU
// OpenBLAS recognised, or a failed exec. TESSERA_BLAS_AUTOTUNE=0 turns it off.
void tuneBlasForThisCpu(char** argv);

// Memory this process can still use without swapping: MemAvailable from /proc/meminfo, lowered to
// what a cgroup limit (memory.max − memory.current) leaves. TESSERA_AVAILABLE_MEMORY_BYTES overrides
// the figure (for tests and for machines whose accounting misleads). 0 where unknown.
uint64_t availableMemoryBytes();

// Refuses a load of `bytes` that does not fit in availableMemoryBytes(), with both numbers ("needs
// 5.1 GiB, 3.2 GiB free"), before anything is read. `what` names the model. TESSERA_ALLOW_OVERCOMMIT=1
// skips the check (the weights are memory-mapped, so an oversized load pages instead of failing).
Status requireMemoryFor(uint64_t bytes, const std::string& what);

} // namespace tessera
