// Process-level set-up every Tessera executable does first thing in main().
#pragma once

namespace tessera {

// OpenBLAS picks its kernels for the CPU when the library loads. Debian 12's OpenBLAS (0.3.21) does
// not know CPUs released after it and falls back to its generic "Prescott" kernels, which run the
// engine's GEMMs and convolutions about three times slower. Where that happened and the CPU has
// AVX-512 (or AVX2 + FMA), this restarts the process once, with the same arguments, and
// OPENBLAS_CORETYPE set to the matching kernel family (SkylakeX, or Haswell). It returns normally
// where nothing needs doing: OPENBLAS_CORETYPE already set (by the user or by the restart), a CPU
// OpenBLAS recognised, or a failed exec. TESSERA_BLAS_AUTOTUNE=0 turns it off.
void tuneBlasForThisCpu(char** argv);

} // namespace tessera
