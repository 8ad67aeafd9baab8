// `tessera-cli bench lumos`: Lumos-1 AR-DF steps on random weights in a preset's shape.
#include "bench/bench_scratch.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/lumos.h"

#include <atomic>
#include <chrono>

namespace tessera {

Expected<nlohmann::json> runLumosBench(const LumosBenchOptions& o) {
    auto cfg = lumosPresetConfig(o.preset);
    if (!cfg) return cfg.status();
    const bool big = o.preset == "lumos-1b";
    LumosRequest req;
    req.prompt_ids = {5, 6, 7, 8, 9, 10, 11, 12};
    req.width = o.width > 0 ? o.width : (big ? 128 : 64);
    req.height = o.height > 0 ? o.height : (big ? 64 : 32);
    req.fps = 12;
    req.duration_s = 2;
    req.latent_frames = o.latent_frames;
    req.steps = o.steps;
    req.seed = o.seed;
    auto shape = lumosShape(req);
    if (!shape) return shape.status();

    bench::ScratchDir scratch(bench::scratchPath(o.scratch_dir, "tessera-lumos-bench"));
    const auto t_write = std::chrono::steady_clock::now();
    Status st = bench::writeRandomCheckpoint(*cfg, scratch.path.string(), o.seed, o.dtype);
    if (!st.ok()) return st;
    const double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_write).count();
    auto be = createBackend("cpu", o.threads);
    if (!be) return be.status();
    auto p = LumosPipeline::load(scratch.path.string(), **be);
    if (!p) return p.status();
    std::atomic<bool> never{false};
    JobContext ctx(1, {}, &never);
    int64_t previews = 0;
    auto r = (*p)->generate(req, ctx, [&](const LumosProgress&) { ++previews; });
    if (!r) return r.status();
    const double total = r->decode_ms + r->preview_ms;
    const TransformerConfig& c = (*p)->config();
    return nlohmann::json{
        {"bench", "lumos"},
        {"preset", o.preset},
        {"layers", c.layers},
        {"hidden", c.hidden},
        {"vocab", c.vocab},
        {"weights", dtypeName(o.dtype)},
        {"size", std::to_string(req.width) + "x" + std::to_string(req.height)},
        {"latent_grid", {shape->lat_h, shape->lat_w}},
        {"segment_tokens", shape->frameSegment()},
        {"latent_frames", shape->latent_frames},
        {"steps", r->steps},
        {"threads", (*be)->info().name == "cpu" ? o.threads : 0},
        {"ms_per_step", r->steps > 0 ? r->decode_ms / static_cast<double>(r->steps) : 0.0},
        {"decode_ms", r->decode_ms},
        {"preview_ms", r->preview_ms},
        {"previews", previews},
        {"preview_overhead_percent", total > 0 ? 100.0 * r->preview_ms / total : 0.0},
        {"checkpoint_write_s", write_s},
        {"load_average", bench::loadAverage()},
    };
}

} // namespace tessera
