// Speculative Jacobi decoding (SJD) as a decode strategy of the generation loop.
//
// The loop works in units: the cells one plain step commits together, one cell in raster order and one
// s×s window (s² slots, predicted from one LM position) in Token-Shuffle's window order. One step feeds
// a window of draft units after the last unit every sequence has committed and gets the target
// distribution p of every slot in one forward. Per sequence, drafts are tested in decode order: a draft
// x drawn from q is accepted with probability min(1, p(x)/q(x)); on rejection a token is drawn from the
// normalised residual max(0, p − q). The slots of one unit are conditionally independent given the units
// before it (their logits come from the same LM position), so every slot of a unit is tested, and the
// step stops after the first unit with a rejection; if every draft passes, the unit after the window is
// drawn from p. That is speculative sampling applied slot by slot, so every committed token has exactly
// the plain sampler's distribution given the units before it. Units past the stop point get new drafts
// drawn from the p this step computed for them (the Jacobi refinement, q = that p); units entering the
// window get a random or spatial draft (a point mass: q(x) = 1). The model's state is cropped to the
// units every sequence committed.
//
// p is computed on the host from the window's guided logits, with the plain sampler's rules (sampling.h):
// softmax(g / T), ranking by probability with ties to the lower id, the kept prefix of top-k, min-p and
// top-p, renormalised. Written here rather than as a backend op because the acceptance test and the
// residual need the whole of p and q, not the ids and O(k) statistics a backend returns; a step reads
// (window + 1) · rows · V floats back.
//
// Sections: names · distributions · random draws · units · the loop · latent neighbours.
#include "tessera/engine/generation.h"
#include "tessera/engine/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

namespace tessera {

// ---- names -------------------------------------------------------------------------------------------

const char* decodeStrategyName(DecodeStrategy strategy) {
    return strategy == DecodeStrategy::Sjd ? "sjd" : "plain";
}

std::optional<DecodeStrategy> decodeStrategyFromName(std::string_view name) {
    if (name == "plain") return DecodeStrategy::Plain;
    if (name == "sjd") return DecodeStrategy::Sjd;
    return std::nullopt;
}

const char* sjdInitName(SjdInit init) {
    return init == SjdInit::Spatial ? "spatial" : "random";
}

std::optional<SjdInit> sjdInitFromName(std::string_view name) {
    if (name == "random") return SjdInit::Random;
    if (name == "spatial") return SjdInit::Spatial;
    return std::nullopt;
}

namespace {

using Clock = std::chrono::steady_clock;

double nowMs() {
    return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

// ---- distributions -------------------------------------------------------------------------------------

// One cell's target distribution as plain sampling defines it.
struct CellDistribution {
    std::vector<float> tempered; // softmax(g / T) over the vocabulary (statistics are reported on it)
    std::vector<int32_t> ranked; // scratch: ids by probability, ties by lower id (as far as filtering needs)
    std::vector<float> kept;     // the filtered prefix, renormalised; 0 elsewhere
};

bool rankedBefore(const std::vector<float>& p, int32_t a, int32_t b) {
    const float pa = p[static_cast<size_t>(a)], pb = p[static_cast<size_t>(b)];
    return pa != pb ? pa > pb : a < b;
}

void computeDistribution(const float* guided, int64_t vocab, const SampleParams& sp, CellDistribution& d) {
    temperedSoftmax(guided, vocab, sp.temperature, d.tempered);
    const std::vector<float>& p = d.tempered;
    const bool filtered = sp.temperature <= 0 || sp.top_k > 0 || sp.min_p > 0 || sp.top_p < 1.0f;
    if (!filtered) { // every token kept: no ranking needed
        d.kept = p;
        return;
    }
    // Rank only as deep as the filters can keep: one for greedy, k for top-k.
    size_t keep = static_cast<size_t>(vocab);
    if (sp.temperature <= 0) keep = 1;
    if (sp.top_k > 0) keep = std::min(keep, static_cast<size_t>(sp.top_k));
    d.ranked.resize(static_cast<size_t>(vocab));
    std::iota(d.ranked.begin(), d.ranked.end(), 0);
    std::partial_sort(d.ranked.begin(), d.ranked.begin() + static_cast<std::ptrdiff_t>(keep), d.ranked.end(),
                      [&](int32_t a, int32_t b) { return rankedBefore(p, a, b); });
    auto at = [&](size_t rank) { return p[static_cast<size_t>(d.ranked[rank])]; };
    if (sp.min_p > 0) {
        const float floor = sp.min_p * at(0);
        size_t k = 0;
        while (k < keep && at(k) >= floor) ++k;
        keep = std::max<size_t>(1, k);
    }
    if (sp.top_p < 1.0f) {
        double mass = 0;
        size_t k = 0;
        while (k < keep) {
            mass += at(k++);
            if (mass >= sp.top_p) break;
        }
        keep = std::max<size_t>(1, k);
    }
    double total = 0;
    for (size_t r = 0; r < keep; ++r) total += at(r);
    d.kept.assign(static_cast<size_t>(vocab), 0.0f);
    for (size_t r = 0; r < keep; ++r) {
        const auto id = static_cast<size_t>(d.ranked[r]);
        d.kept[id] = total > 0 ? static_cast<float>(p[id] / total) : (r == 0 ? 1.0f : 0.0f);
    }
}

// What TokenSampled reports about `token` under the tempered distribution p: its probability, the
// entropy, its rank and the `report_k` most likely tokens.
void describe(const std::vector<float>& p, int32_t token, int report_k, std::vector<int32_t>& scratch,
              TokenSampled& ev) {
    ev.probability = p[static_cast<size_t>(token)];
    double entropy = 0;
    int rank = 0;
    for (size_t v = 0; v < p.size(); ++v) {
        if (p[v] > 0) entropy -= p[v] * std::log(static_cast<double>(p[v]));
        rank += rankedBefore(p, static_cast<int32_t>(v), token) ? 1 : 0;
    }
    ev.entropy = static_cast<float>(entropy);
    ev.rank = rank;
    const size_t k = std::min(p.size(), static_cast<size_t>(std::max(0, report_k)));
    scratch.resize(p.size());
    std::iota(scratch.begin(), scratch.end(), 0);
    std::partial_sort(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k), scratch.end(),
                      [&](int32_t a, int32_t b) { return rankedBefore(p, a, b); });
    ev.top_ids.assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k));
    ev.top_probs.clear();
    for (int32_t id : ev.top_ids) ev.top_probs.push_back(p[static_cast<size_t>(id)]);
}

// The first id whose running mass exceeds u · (total mass); the last id with mass when rounding leaves
// the target past the end.
int32_t drawFrom(const std::vector<double>& mass, double u) {
    double total = 0;
    for (double m : mass) total += m;
    const double target = u * total;
    double running = 0;
    int32_t last = 0;
    for (size_t i = 0; i < mass.size(); ++i) {
        if (mass[i] <= 0) continue;
        running += mass[i];
        last = static_cast<int32_t>(i);
        if (target < running) return last;
    }
    return last;
}

int32_t drawFrom(const std::vector<float>& probs, double u) {
    return drawFrom(std::vector<double>(probs.begin(), probs.end()), u);
}

// ---- random draws --------------------------------------------------------------------------------------

// Every number SJD draws has its own Philox (stream, index): the stream carries the purpose above the
// image index (plain sampling uses the image index alone, so the two never share a draw), the index the
// step and the cell.
enum class Purpose : uint64_t { Init = 1, Accept = 2, Residual = 3, Refine = 4, Bonus = 5 };

// `index` is the cell's place in decode order (its cell index in raster order).
double uniformFor(uint64_t seed, Purpose purpose, int64_t seq, int64_t step, int64_t cells, int64_t index) {
    const uint64_t stream = (static_cast<uint64_t>(purpose) << 32) | static_cast<uint64_t>(seq);
    return Philox::uniform(seed, stream, static_cast<uint64_t>(step * (cells + 1) + index));
}

// A draft token and the distribution it was drawn from (empty: a point mass on the token).
struct Draft {
    int32_t token = 0;
    std::vector<float> q;
};

struct Committed {
    int64_t cell = 0; // grid cell
    int32_t token = 0;
    bool accepted_draft = false;
    TokenSampled stats;
};

// ---- units ---------------------------------------------------------------------------------------------

// An order's steps as units of cells, listed in decode order: index d = unit · size + slot.
struct Units {
    int64_t count = 0, size = 1, width = 0; // units, cells per unit, grid width
    std::vector<int64_t> cell;              // decode index → grid cell
    std::vector<int64_t> index;             // grid cell → decode index
};

// Raster: one cell per unit. Windows: one s×s window per unit, slots row-major. Other orders have none.
std::optional<Units> unitsOf(const DecodeOrder& order) {
    Units u;
    if (const auto* raster = dynamic_cast<const RasterOrder*>(&order)) {
        u.count = order.cells();
        u.width = raster->width();
        u.cell.resize(static_cast<size_t>(order.cells()));
        std::iota(u.cell.begin(), u.cell.end(), 0);
    } else if (const auto* windows = dynamic_cast<const WindowOrder*>(&order)) {
        u.count = order.totalSteps();
        u.size = windows->window() * windows->window();
        u.width = windows->width();
        for (int64_t w = 0; w < u.count; ++w)
            for (int64_t c : windows->windowCells(w)) u.cell.push_back(c);
    } else {
        return std::nullopt;
    }
    u.index.assign(u.cell.size(), 0);
    for (size_t d = 0; d < u.cell.size(); ++d)
        u.index[static_cast<size_t>(u.cell[d])] = static_cast<int64_t>(d);
    return u;
}

} // namespace

// ---- the loop ------------------------------------------------------------------------------------------

Expected<GenerationOutcome>
GenerationLoop::runSpeculative(const std::function<Status(int64_t step)>& after_step) {
    const GenerationSettings& s = settings_;
    const SampleParams& sp = s.sampling;
    const int64_t seqs = order_.sequences(), cells = order_.cells();
    const std::optional<Units> units_of = unitsOf(order_);
    if (!units_of)
        return Status::error(
            "speculative Jacobi decoding needs a raster or window decode order; this method decodes in '" +
            order_.name() + "' order");
    const Units& units = *units_of;
    const int64_t g = units.size;
    if (!model_.supportsWindows())
        return Status::error(
            "this model decodes one step at a time: speculative decoding is not available for it");
    if (s.decode.window < 1 || s.decode.window > kMaxSjdWindow)
        return Status::error("the SJD window must be between 1 and " + std::to_string(kMaxSjdWindow) +
                             " draft positions");
    if (s.capture_guided_steps > 0) return Status::error("capturing guided logits needs plain decoding");
    const int lantern_k = s.decode.lantern_k;
    if (lantern_k < 0 || lantern_k > kMaxLanternK ||
        !(s.decode.lantern_delta >= 0 && s.decode.lantern_delta <= 1))
        return Status::error("LANTERN needs 0 <= k <= " + std::to_string(kMaxLanternK) +
                             " and 0 <= delta <= 1");
    if (lantern_k > 0 && (!s.latent_neighbours || s.latent_neighbours->k < lantern_k))
        return Status::error("LANTERN needs the codes' latent neighbours (at least " +
                             std::to_string(lantern_k) + " per code); this model does not provide them");
    // LANTERN's relaxed target probability of a draft: p(x) plus its nearest neighbours' p, nearest
    // first, while the mass added (the total variation it moves onto x) stays within delta.
    auto relaxed = [&](const std::vector<float>& p, int32_t x) {
        double px = p[static_cast<size_t>(x)];
        if (lantern_k == 0) return px;
        const LatentNeighbours& nb = *s.latent_neighbours;
        const auto row = static_cast<size_t>(x) * static_cast<size_t>(nb.k);
        if (row + static_cast<size_t>(nb.k) > nb.ids.size())
            throw Error("LANTERN: a code outside the neighbour table");
        double moved = 0;
        for (int j = 0; j < lantern_k; ++j) {
            const int32_t y = nb.ids[row + static_cast<size_t>(j)];
            if (y < 0 || static_cast<size_t>(y) >= p.size()) break;
            if (moved + p[static_cast<size_t>(y)] > s.decode.lantern_delta) break;
            moved += p[static_cast<size_t>(y)];
        }
        return px + moved;
    };
    for (int64_t q = 0; q < seqs; ++q)
        if (order_.known(q) != 0) return Status::error("speculative decoding starts from an empty grid");
    const int64_t window = s.decode.window; // in units

    GenerationOutcome out;
    start_ms_ = nowMs();
    // Per sequence: units committed, and drafts for decode indices [known · g, known · g + size).
    std::vector<std::vector<Draft>> drafts(static_cast<size_t>(seqs));
    std::vector<int64_t> known(static_cast<size_t>(seqs), 0);
    std::vector<std::vector<int32_t>> inputs(static_cast<size_t>(seqs));
    std::vector<float> guided, cond_probs;
    CellDistribution dist;
    std::vector<double> residual;
    std::vector<int32_t> rank_scratch;
    std::vector<Committed> committed;
    std::vector<int64_t> positions;
    std::vector<int32_t> tokens;
    std::vector<float> log_probs;
    int64_t vocab = 0; // known after the first step (which therefore feeds no drafts)

    // Forced tokens are given in decode order.
    auto forcedAt = [&](int64_t q, int64_t d) -> int32_t {
        if (q >= static_cast<int64_t>(s.forced.size())) return -1;
        const auto& f = s.forced[static_cast<size_t>(q)];
        return d < static_cast<int64_t>(f.size()) ? f[static_cast<size_t>(d)] : -1;
    };
    // Token at decode index d that is committed or drafted in sequence q (-1: neither).
    auto tokenAt = [&](int64_t q, int64_t d) -> int32_t {
        const auto qi = static_cast<size_t>(q);
        if (d < known[qi] * g) return order_.grid(q)[static_cast<size_t>(units.cell[static_cast<size_t>(d)])];
        const int64_t j = d - known[qi] * g;
        return j < static_cast<int64_t>(drafts[qi].size()) ? drafts[qi][static_cast<size_t>(j)].token : -1;
    };
    auto initialDraft = [&](int64_t q, int64_t d, int64_t step) {
        Draft draft;
        const int64_t cell = units.cell[static_cast<size_t>(d)];
        const int64_t left = cell % units.width != 0 ? units.index[static_cast<size_t>(cell - 1)] : -1;
        if (const int32_t f = forcedAt(q, d); f >= 0) {
            draft.token = f;
        } else if (s.decode.init == SjdInit::Spatial && left >= 0 && tokenAt(q, left) >= 0) {
            draft.token = tokenAt(q, left);
        } else {
            const double u = uniformFor(sp.seed, Purpose::Init, q, step, cells, d);
            draft.token = static_cast<int32_t>(
                std::min<int64_t>(vocab - 1, static_cast<int64_t>(u * static_cast<double>(vocab))));
        }
        return draft;
    };

    try {
        for (;;) {
            if (ctx_.cancelled()) {
                out.cancelled = true;
                break;
            }
            const int64_t first = *std::min_element(known.begin(), known.end());
            if (first >= units.count) break;
            const double t_step = nowMs();
            const int64_t step = out.steps;
            const int64_t last =
                vocab == 0 ? first : std::min(first + window, units.count - 1); // last unit with logits
            const int64_t m = last - first;
            for (int64_t q = 0; q < seqs; ++q) {
                auto& in = inputs[static_cast<size_t>(q)];
                auto& dq = drafts[static_cast<size_t>(q)];
                const int64_t from = known[static_cast<size_t>(q)] * g;
                in.resize(static_cast<size_t>(m * g));
                for (int64_t j = 0; j < m * g; ++j) {
                    const int64_t d = first * g + j;
                    if (d >= from) {
                        const auto idx = static_cast<size_t>(d - from);
                        while (dq.size() <= idx)
                            dq.push_back(initialDraft(q, from + static_cast<int64_t>(dq.size()), step));
                    }
                    in[static_cast<size_t>(j)] = tokenAt(q, d);
                }
            }
            Tensor logits = model_.windowLogits(first, inputs, order_);
            if (logits.rank() != 3 || logits.dim(0) != seqs * s.branches || logits.dim(1) != (m + 1) * g)
                return Status::error("generation: the model returned window logits of shape " +
                                     shapeString(logits.shape()) + " for " + std::to_string(seqs) +
                                     " sequence(s) × " + std::to_string(s.branches) + " branch(es) × " +
                                     std::to_string((m + 1) * g) + " cell(s)");
            vocab = logits.dim(2);
            const std::vector<float> host = backend_.readF32(logits);
            auto rowOf = [&](int64_t q, int64_t branch, int64_t d) {
                return host.data() + ((q * s.branches + branch) * (m + 1) * g + (d - first * g)) * vocab;
            };
            auto distributionAt = [&](int64_t q, int64_t d) {
                guided.resize(static_cast<size_t>(vocab));
                const float* c = rowOf(q, s.cond_branch, d);
                if (s.uncond_branch >= 0)
                    cfgCombine(c, rowOf(q, s.uncond_branch, d),
                               cfgWeightAt(s.cfg_schedule, s.cfg, d / g, units.count), vocab, guided.data());
                else
                    std::copy(c, c + vocab, guided.begin());
                computeDistribution(guided.data(), vocab, sp, dist);
            };

            for (int64_t q = 0; q < seqs; ++q) {
                const auto qi = static_cast<size_t>(q);
                const int64_t k0 = known[qi];
                if (k0 > last) continue; // ahead of the window: nothing of it to verify this step
                committed.clear();
                int64_t stop = k0;
                for (int64_t unit = k0; unit <= last; ++unit) {
                    bool unit_accepted = unit < last; // the unit after the drafts always ends the step
                    for (int64_t d = unit * g; d < (unit + 1) * g; ++d) {
                        distributionAt(q, d);
                        const int32_t forced = forcedAt(q, d);
                        Committed c;
                        c.cell = units.cell[static_cast<size_t>(d)];
                        if (forced >= vocab)
                            return Status::error("forced token " + std::to_string(forced) +
                                                 " outside the vocabulary");
                        if (unit < last) {
                            const Draft& draft = drafts[qi][static_cast<size_t>(d - k0 * g)];
                            if (forced >= 0) {
                                c.token = forced;
                                c.accepted_draft = draft.token == forced;
                            } else {
                                const double pd = relaxed(dist.kept, draft.token);
                                const double qd =
                                    draft.q.empty() ? 1.0 : draft.q[static_cast<size_t>(draft.token)];
                                const double a = s.sjd_accept ? s.sjd_accept(pd, qd)
                                                              : (qd > 0 ? std::min(1.0, pd / qd) : 0.0);
                                if (uniformFor(sp.seed, Purpose::Accept, q, step, cells, d) < a) {
                                    c.token = draft.token;
                                    c.accepted_draft = true;
                                } else {
                                    residual.assign(dist.kept.begin(), dist.kept.end());
                                    double left = 0;
                                    for (size_t v = 0; v < residual.size(); ++v) {
                                        const double qv =
                                            draft.q.empty()
                                                ? (static_cast<int32_t>(v) == draft.token ? 1.0 : 0.0)
                                                : draft.q[v];
                                        residual[v] = std::max(0.0, residual[v] - qv);
                                        left += residual[v];
                                    }
                                    // p == q leaves nothing (then the test never rejects, but rounding
                                    // may): draw from p.
                                    if (!(left > 0)) residual.assign(dist.kept.begin(), dist.kept.end());
                                    c.token = drawFrom(
                                        residual, uniformFor(sp.seed, Purpose::Residual, q, step, cells, d));
                                }
                            }
                            unit_accepted = unit_accepted && c.accepted_draft;
                        } else {
                            c.token = forced >= 0 ? forced
                                                  : drawFrom(dist.kept, uniformFor(sp.seed, Purpose::Bonus, q,
                                                                                   step, cells, d));
                        }
                        // Statistics on the tempered, guided distribution, as plain sampling reports them.
                        TokenSampled& ev = c.stats;
                        describe(dist.tempered, c.token, sp.report_k, rank_scratch, ev);
                        if (s.uncond_branch >= 0 && sp.guidance_kl) {
                            temperedSoftmax(rowOf(q, s.cond_branch, d), vocab, sp.temperature, cond_probs);
                            ev.guidance_kl = static_cast<float>(klDivergence(dist.tempered, cond_probs));
                        }
                        committed.push_back(std::move(c));
                    }
                    stop = unit;
                    if (!unit_accepted) break;
                }
                // Jacobi refinement: units past the stop point are drafted again from this step's p.
                std::vector<Draft> next;
                for (int64_t d = (stop + 1) * g; d < (last + 1) * g; ++d) {
                    Draft draft;
                    if (const int32_t f = forcedAt(q, d); f >= 0) {
                        draft.token = f;
                    } else {
                        distributionAt(q, d);
                        draft.token =
                            drawFrom(dist.kept, uniformFor(sp.seed, Purpose::Refine, q, step, cells, d));
                        draft.q = dist.kept;
                    }
                    next.push_back(std::move(draft));
                }
                drafts[qi] = std::move(next);

                positions.clear();
                tokens.clear();
                log_probs.clear();
                for (const Committed& c : committed) {
                    positions.push_back(c.cell);
                    tokens.push_back(c.token);
                    log_probs.push_back(std::log(std::max(c.stats.probability, 1e-30f)));
                    out.drafts_accepted += c.accepted_draft ? 1 : 0;
                }
                order_.commit(q, positions, tokens.data(), log_probs.data());
                known[qi] = stop + 1;
                for (Committed& c : committed) {
                    TokenSampled& ev = c.stats;
                    ev.job_id = ctx_.id();
                    ev.image = static_cast<int>(q);
                    ev.position = static_cast<int>(c.cell);
                    ev.token = c.token;
                    ev.step = static_cast<int>(step);
                    ev.accepted_draft = c.accepted_draft;
                    ctx_.emit(ev);
                }
            }

            // Keep the model's state for the units every sequence committed, except the last of them,
            // which the next window feeds.
            const int64_t done = *std::min_element(known.begin(), known.end());
            model_.cropTo(std::max<int64_t>(0, done - 1));
            while (order_.step() < done) order_.advance();
            ++out.steps;
            emitTiming(out, t_step);
            if (after_step) {
                const double t_after = nowMs();
                Status st = after_step(order_.step());
                out.after_ms += nowMs() - t_after;
                if (!st.ok()) return st;
            }
        }
    } catch (const Error& e) {
        return Status::error(std::string("generation failed: ") + e.what());
    }
    out.decode_ms = elapsedMs() - out.after_ms;
    return out;
}

// ---- latent neighbours ---------------------------------------------------------------------------------

std::shared_ptr<const LatentNeighbours> nearestLatentNeighbours(const std::vector<float>& book,
                                                                int64_t codebook, int k) {
    TS_CHECK(codebook > 1 && k >= 1 && k < codebook && book.size() % static_cast<size_t>(codebook) == 0,
             "latent neighbours: k must be between 1 and the codebook size minus one");
    const int64_t dim = static_cast<int64_t>(book.size()) / codebook; // [dim][codebook]
    auto nb = std::make_shared<LatentNeighbours>();
    nb->k = k;
    nb->ids.resize(static_cast<size_t>(codebook * k));
    std::vector<float> dist(static_cast<size_t>(codebook));
    std::vector<int32_t> order(static_cast<size_t>(codebook));
    for (int64_t i = 0; i < codebook; ++i) {
        for (int64_t j = 0; j < codebook; ++j) {
            float d = 0;
            for (int64_t c = 0; c < dim; ++c) {
                const float e =
                    book[static_cast<size_t>(c * codebook + i)] - book[static_cast<size_t>(c * codebook + j)];
                d += e * e;
            }
            dist[static_cast<size_t>(j)] = d;
        }
        dist[static_cast<size_t>(i)] = std::numeric_limits<float>::infinity(); // not its own neighbour
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
            const float da = dist[static_cast<size_t>(a)], db = dist[static_cast<size_t>(b)];
            return da != db ? da < db : a < b;
        });
        std::copy(order.begin(), order.begin() + k, nb->ids.begin() + static_cast<std::ptrdiff_t>(i * k));
    }
    return nb;
}

} // namespace tessera
