#include "tessera/engine/platform.h"

#include <cblas.h>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

extern "C" char* openblas_get_corename(void);

namespace tessera {

void tuneBlasForThisCpu(char** argv) {
#if defined(__linux__) && defined(__x86_64__)
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    if (const char* off = std::getenv("TESSERA_BLAS_AUTOTUNE"); off && std::strcmp(off, "0") == 0) return;
    const char* core = openblas_get_corename();
    if (!core || std::strcmp(core, "Prescott") != 0) return;
    const char* family = nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        family = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        family = "Haswell";
    if (!family) return;
    // Set even if the exec fails, so a child process does not try again.
    setenv("OPENBLAS_CORETYPE", family, 1);
    execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

} // namespace tessera
