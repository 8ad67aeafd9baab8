// Decode strategies of the generation core: plain (one forward per decode-order step) and speculative
// Jacobi decoding (SJD, Teng et al.): a window of draft tokens is verified by one batched forward, a
// prefix of it is accepted by a probabilistic test that keeps the plain sampler's distribution, and the
// model's state is cropped back to what was accepted. docs/SPECULATIVE.md has the method.
//
// SJD needs a raster or window decode order and a StepModel that supports windows (generation.h). The random
// draws come from the engine's Philox stream, keyed by (seed, image and purpose, step and cell), so a
// run is reproducible from its recipe (which records strategy, window and initialisation).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace tessera {

enum class DecodeStrategy { Plain, Sjd };
const char* decodeStrategyName(DecodeStrategy strategy);
std::optional<DecodeStrategy> decodeStrategyFromName(std::string_view name);

// How a cell entering the window gets its first draft: a uniform random token (the paper's default) or
// the token of its left neighbour in the grid (committed or drafted; random in the first column), the
// spatial-locality initialisation. Either way the draft is a point mass for the acceptance test.
enum class SjdInit { Random, Spatial };
const char* sjdInitName(SjdInit init);
std::optional<SjdInit> sjdInitFromName(std::string_view name);

struct DecodeSettings {
    DecodeStrategy strategy = DecodeStrategy::Plain;
    // SJD: draft positions fed per forward (1..kMaxSjdWindow): tokens in raster order, s×s windows of
    // s² tokens each in Token-Shuffle's window order.
    int window = 16;
    SjdInit init = SjdInit::Random;
    // LANTERN-style relaxed acceptance (LOSSY: images no longer follow plain sampling's distribution).
    // 0 = off (exact SJD). Otherwise a draft x is tested with p(x) plus the probability of its nearest
    // latent neighbours (up to lantern_k of them, nearest first) as long as that added mass, which is
    // the total-variation distance the relaxation moves, stays <= lantern_delta.
    int lantern_k = 0;
    float lantern_delta = 0.0f;
};
inline constexpr int kMaxSjdWindow = 256;
inline constexpr int kMaxLanternK = 1024;

// For LANTERN: each code's nearest other codes in the model's latent space, nearest first:
// ids[code · k + j] (j < k). Computed by the pipeline that knows the codebook.
struct LatentNeighbours {
    int k = 0;
    std::vector<int32_t> ids;
};
// Each code's k nearest others by squared distance, ties to the lower id. `book` holds the codebook's
// rows as the decoder uses them, dimension-major: book[c · codebook + code]. Quadratic in the codebook
// (16,384² pairs of 8-dimensional rows for Janus-Pro: about a second). Throws Error for k outside
// [1, codebook − 1].
std::shared_ptr<const LatentNeighbours> nearestLatentNeighbours(const std::vector<float>& book,
                                                                int64_t codebook, int k);

// The probability with which a draft drawn from q is accepted where the target gives it p. SJD's rule,
// min(1, p/q), is the only one that keeps the distribution; anything else is lossy (the distribution
// test replaces it with "always accept" to show that the test can fail).
using SjdAcceptRule = std::function<double(double p, double q)>;

} // namespace tessera
