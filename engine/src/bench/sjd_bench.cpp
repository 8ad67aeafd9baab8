// `bench sjd`: plain decoding against speculative Jacobi decoding on one Janus model (sjd_bench.h).
#include "tessera/engine/sjd_bench.h"

#include "bench/bench_scratch.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/janus_bench.h"

#include <atomic>
#include <chrono>
#include <filesystem>

namespace tessera::bench {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Runs `runs` generate() calls with one strategy and averages per call.
Expected<SjdBenchStrategy> timeStrategy(JanusPipeline& pipeline, const SjdBenchOptions& o,
                                        const DecodeSettings& decode) {
    SjdBenchStrategy s;
    std::atomic<bool> never{false};
    int64_t steps = 0, accepted = 0;
    double decode_ms = 0, wall_ms = 0;
    for (int run = 0; run < o.runs; ++run) {
        JanusRequest req;
        req.prompt = o.prompt;
        req.seed = o.seed + static_cast<uint64_t>(run);
        req.images = o.images;
        req.previews = false;
        req.sampler.cfg = o.cfg;
        req.sampler.temperature = o.temperature;
        req.sampler.top_k = o.top_k;
        req.decode = decode;
        JobContext ctx(
            0, [](const Event&) {}, &never);
        const auto t0 = Clock::now();
        auto r = pipeline.generate(req, ctx);
        if (!r) return r.status();
        wall_ms += msSince(t0);
        decode_ms += r->generate_ms;
        steps += r->decode_steps;
        accepted += r->drafts_accepted;
    }
    const double runs = static_cast<double>(o.runs);
    s.steps_per_image = static_cast<double>(steps) / runs;
    s.decode_ms = decode_ms / runs;
    s.wall_ms = wall_ms / runs;
    s.ms_per_step = steps > 0 ? decode_ms / static_cast<double>(steps) : 0;
    s.drafts_accepted_per_image = static_cast<double>(accepted) / (runs * o.images);
    return s;
}

nlohmann::json strategyJson(const SjdBenchStrategy& s) {
    return {{"steps_per_image", s.steps_per_image},
            {"decode_ms", s.decode_ms},
            {"wall_ms", s.wall_ms},
            {"ms_per_step", s.ms_per_step},
            {"drafts_accepted_per_image", s.drafts_accepted_per_image}};
}

} // namespace

nlohmann::json SjdBenchResult::toJson() const {
    nlohmann::json j = {{"bench", "sjd"},
                        {"model", model},
                        {"backend", backend},
                        {"threads", threads},
                        {"images", images},
                        {"runs", runs},
                        {"grid", grid},
                        {"cells", cells},
                        {"sjd_window", sjd.window},
                        {"sjd_init", sjdInitName(sjd.init)},
                        {"plain", strategyJson(plain)},
                        {"sjd", strategyJson(speculative)},
                        {"steps_ratio", steps_ratio},
                        {"decode_ratio", decode_ratio},
                        {"wall_ratio", wall_ratio},
                        {"load_avg_1m", load_avg_1m}};
    if (lantern_k > 0) {
        j["lantern"] = strategyJson(lantern);
        j["lantern"]["k"] = lantern_k;
        j["lantern"]["delta"] = lantern_delta;
        j["lantern"]["lossy"] = true;
        j["lantern_steps_ratio"] = lantern_steps_ratio;
        j["lantern_decode_ratio"] = lantern_decode_ratio;
    }
    return j;
}

Expected<SjdBenchResult> runSjdBench(const SjdBenchOptions& o) {
    if (o.images < 1 || o.images > 64) return Status::error("images must be between 1 and 64");
    if (o.runs < 1 || o.runs > 1000) return Status::error("runs must be between 1 and 1000");
    if (o.sjd.strategy != DecodeStrategy::Sjd || o.sjd.window < 1 || o.sjd.window > kMaxSjdWindow)
        return Status::error("the SJD window must be between 1 and " + std::to_string(kMaxSjdWindow));
    SjdBenchResult r;
    ScratchDir scratch;
    std::string dir = o.model_dir;
    if (dir.empty() && o.preset == "janus-tiny") {
        if (o.grid != 0) return Status::error("--grid applies to generated presets, not janus-tiny");
        dir = o.reference_dir;
        r.model = "janus-tiny";
    } else if (dir.empty()) {
        auto shape = janusPresetShape(o.preset);
        if (!shape) return shape.status();
        if (o.grid > 0) shape->grid = o.grid;
        scratch.path = scratchPath(o.scratch_dir, "tessera-sjd-bench");
        if (Status s = writeRandomJanusCheckpoint(*shape, scratch.path.string(), o.reference_dir, o.seed);
            !s.ok())
            return s;
        dir = scratch.path.string();
        r.model = o.preset + " (random weights)";
    } else {
        r.model = dir;
    }
    auto backend = createBackend(o.backend, o.threads);
    if (!backend) return backend.status();
    auto pipeline = JanusPipeline::load(dir, **backend);
    if (!pipeline) return pipeline.status();
    const JanusInfo& info = (*pipeline)->info();
    r.backend = (*backend)->info().name;
    r.threads = (*backend)->info().threads;
    r.images = o.images;
    r.runs = o.runs;
    r.grid = info.grid_h;
    r.cells = static_cast<int64_t>(info.grid_h) * info.grid_w;
    r.sjd = o.sjd;
    r.load_avg_1m = loadAverage();

    // Warm-up: caches, allocator blocks and the preview colour map exist before anything is timed.
    SjdBenchOptions warm = o;
    warm.runs = 1;
    if (auto w = timeStrategy(**pipeline, warm, DecodeSettings{}); !w) return w.status();
    auto plain = timeStrategy(**pipeline, o, DecodeSettings{});
    if (!plain) return plain.status();
    auto spec = timeStrategy(**pipeline, o, o.sjd);
    if (!spec) return spec.status();
    r.plain = *plain;
    r.speculative = *spec;
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    r.steps_ratio = ratio(r.plain.steps_per_image, r.speculative.steps_per_image);
    r.decode_ratio = ratio(r.plain.decode_ms, r.speculative.decode_ms);
    r.wall_ratio = ratio(r.plain.wall_ms, r.speculative.wall_ms);
    if (o.lantern_k > 0) {
        DecodeSettings relaxed = o.sjd;
        relaxed.lantern_k = o.lantern_k;
        relaxed.lantern_delta = o.lantern_delta;
        auto l = timeStrategy(**pipeline, o, relaxed);
        if (!l) return l.status();
        r.lantern = *l;
        r.lantern_k = o.lantern_k;
        r.lantern_delta = o.lantern_delta;
        r.lantern_steps_ratio = ratio(r.plain.steps_per_image, r.lantern.steps_per_image);
        r.lantern_decode_ratio = ratio(r.plain.decode_ms, r.lantern.decode_ms);
    }
    return r;
}

} // namespace tessera::bench
