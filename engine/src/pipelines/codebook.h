// The codebook as the VQ decoder uses it, for the VQ pipelines (Janus, Token-Shuffle): every code's
// vector read back once, for the preview colour fit (code_colours.h) and LANTERN's neighbours.
#pragma once

#include "tessera/engine/backend.h"
#include "tessera/engine/speculative.h"
#include "tessera/engine/status.h"

#include <exception>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace tessera::pipelines {

// codes_for(ids [1, codebook]) gives the decoder's code vectors [1, dim, 1, codebook]; returned on the
// host dim-major: [dim, codebook].
template <class CodesFor> std::vector<float> codebookRows(Backend& be, int64_t codebook, CodesFor codes_for) {
    std::vector<int64_t> all(static_cast<size_t>(codebook));
    std::iota(all.begin(), all.end(), int64_t{0});
    return be.readF32(codes_for(be.fromI64(all, {1, codebook})));
}

// Each code's k nearest codes (nearestLatentNeighbours), computed on first use and kept in `cache`.
template <class CodesFor>
Expected<std::shared_ptr<const LatentNeighbours>>
latentNeighboursOnce(Backend& be, int64_t codebook, int k, std::shared_ptr<const LatentNeighbours>& cache,
                     CodesFor codes_for) {
    if (k < 1 || k >= codebook)
        return Status::error("LANTERN's k must be between 1 and the codebook size minus one (" +
                             std::to_string(codebook - 1) + ")");
    if (cache && cache->k >= k) return cache;
    try {
        cache = nearestLatentNeighbours(codebookRows(be, codebook, codes_for), codebook, k);
        return cache;
    } catch (const std::exception& e) {
        return Status::error(std::string("computing the codes' latent neighbours failed: ") + e.what());
    }
}

} // namespace tessera::pipelines
