// The VQ decode benchmark: Janus-Pro's VQ-16 image tokenizer with random weights, decoding random token
// grids at each requested image size (whole when the grid fits one tile, else in tiles).
// Sections: a scratch checkpoint · the benchmark (peak memory through bench_scratch.h).
#include "cpu/cpu_backend.h"
#include "models/janus_parts.h"
#include "bench/bench_scratch.h"
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus_bench.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

nlohmann::ordered_json VqBenchResult::toJson() const {
    auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
    nlohmann::ordered_json j;
    j["bench"] = "vq";
    j["model"] = model;
    j["params"] = params;
    j["weight_bytes"] = weight_bytes;
    j["threads"] = threads;
    j["tile"] = tile;
    j["halo"] = halo;
    j["conv_scratch_bound_bytes"] = conv_scratch_bound_bytes;
    j["load_ms"] = round3(load_ms);
    nlohmann::ordered_json sizes_json = nlohmann::ordered_json::array();
    for (const VqBenchSize& s : sizes) {
        nlohmann::ordered_json e;
        e["size"] = s.size;
        e["grid"] = s.grid;
        e["tiled"] = s.tiled;
        e["windows"] = s.windows;
        e["ms_per_image"] = round3(s.ms_per_image);
        e["peak_scratch_bytes"] = s.peak_scratch_bytes;
        e["peak_resident_bytes"] = s.peak_resident_bytes;
        e["resident_before_bytes"] = s.resident_before_bytes;
        e["mean_abs_pixel"] = round3(s.mean_abs_pixel);
        sizes_json.push_back(std::move(e));
    }
    j["sizes"] = std::move(sizes_json);
    if (load_avg_1m >= 0) j["load_avg_1m"] = load_avg_1m;
    return j;
}

namespace {

// ---- a scratch checkpoint ------------------------------------------------------------------------------

// The VQ tensors of a Janus checkpoint (`model.vqmodel.*`) as one safetensors file: f32, uniform in
// ±1/sqrt(fan-in) for convs and the codebook, norm weights 1, biases 0.
Status writeVqSafetensors(const std::vector<TensorSpec>& tensors, const std::string& path, uint64_t seed) {
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = static_cast<size_t>(shapeNumel(t.shape)) * 4;
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 64 != 0) text.push_back(' '); // data 64-byte aligned for zero-copy use
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::vector<float> chunk(size_t{1} << 20);
    for (const auto& t : tensors) {
        if (!ok) break;
        const int64_t n = shapeNumel(t.shape);
        const bool bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
        const bool norm = !bias && t.shape.size() == 1;
        const float scale = t.shape.size() > 1 ? 1.0f / std::sqrt(static_cast<float>(n / t.shape[0])) : 0.0f;
        for (int64_t done = 0; done < n && ok;) {
            const int64_t m = std::min<int64_t>(n - done, static_cast<int64_t>(chunk.size()));
            for (int64_t i = 0; i < m; ++i)
                chunk[static_cast<size_t>(i)] = bias ? 0.0f : (norm ? 1.0f : unit(rng) * scale);
            ok = std::fwrite(chunk.data(), 4, static_cast<size_t>(m), f.get()) == static_cast<size_t>(m);
            done += m;
        }
    }
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

} // namespace

// ---- the benchmark -----------------------------------------------------------------------------------

Expected<VqBenchResult> runVqBench(const VqBenchOptions& o) {
    const JanusShape shape; // Janus-Pro's VQ-16
    const int64_t f = shape.downsample();
    if (o.sizes.empty()) return Status::error("no image size to decode");
    for (int64_t s : o.sizes)
        if (s < f || s % f != 0 || s > 16384)
            return Status::error("image size " + std::to_string(s) + " must be a multiple of " + std::to_string(f) +
                                 " between " + std::to_string(f) + " and 16384");
    if (o.tile < 1 || o.halo < 0) return Status::error("tile must be at least 1 token and halo at least 0");
    auto backend = createBackend("cpu", o.threads);
    if (!backend) return backend.status();
    Backend& be = **backend;
    auto* cpu_be = dynamic_cast<cpu::CpuBackend*>(&be);
    if (!cpu_be) return Status::error("bench vq measures the CPU backend's conv scratch; no CPU backend here");

    std::vector<TensorSpec> tensors;
    for (TensorSpec& t : janusTensors(shape))
        if (t.name.rfind("model.vqmodel.", 0) == 0) tensors.push_back(std::move(t));
    VqBenchResult r;
    r.model = "janus-vq16";
    r.params = parameterCount(tensors);
    r.threads = cpu_be->pool().threads();
    r.tile = o.tile;
    r.halo = o.halo;
    int64_t widest_kdim = 0;
    for (const auto& t : tensors)
        if (t.shape.size() == 4) widest_kdim = std::max(widest_kdim, t.shape[1] * t.shape[2] * t.shape[3]);
    r.conv_scratch_bound_bytes = static_cast<size_t>(r.threads) * cpu::CpuBackend::convScratchBoundBytes(widest_kdim);

    ScratchDir dir{scratchPath(o.scratch_dir, "tessera-bench-vq")};
    std::error_code ec;
    fs::create_directories(dir.path, ec);
    if (ec) return Status::error("cannot create " + dir.path.string() + ": " + ec.message());
    const std::string file = (dir.path / "model.safetensors").string();
    if (Status s = writeVqSafetensors(tensors, file, o.seed); !s.ok()) return s;

    const auto t_load = std::chrono::steady_clock::now();
    auto ckpt = Checkpoint::openFiles({file});
    if (!ckpt) return ckpt.status();
    janus::VqModel vq;
    try {
        janus::Binder wb(*ckpt, be, janus::Layout::Transformers);
        vq.load(wb, be);
        if (Status s = wb.finish(); !s.ok()) return s;
        r.weight_bytes = wb.boundBytes();
        // Untimed: a small decode pages the mapped weights in and starts the pool.
        std::vector<int64_t> ids(64, 0);
        be.readF32(vq.decodeCodes(be, vq.codesFor(be, be.fromI64(ids, {1, 64}), 8, 8)));
    } catch (const Error& e) {
        return Status::error(std::string("VQ model: ") + e.what());
    }
    r.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<int64_t> code(0, shape.codebook - 1);
    for (int64_t side : o.sizes) {
        VqBenchSize s;
        s.size = side;
        s.grid = side / f;
        s.tiled = s.grid > o.tile;
        const int64_t per_side = s.tiled ? (s.grid + o.tile - 1) / o.tile : 1;
        s.windows = per_side * per_side;
        std::vector<int64_t> ids(static_cast<size_t>(s.grid * s.grid));
        for (auto& id : ids) id = code(rng);
        try {
            const Tensor codes = vq.codesFor(be, be.fromI64(ids, {1, s.grid * s.grid}), s.grid, s.grid);
            cpu_be->resetConvScratchPeak();
            resetPeakResident();
            s.resident_before_bytes = procStatusBytes("VmRSS");
            const auto t0 = std::chrono::steady_clock::now();
            const Tensor pixels = vq.decodeCodesTiled(be, codes, {o.tile, o.halo});
            const std::vector<float> host = be.readF32(pixels);
            s.ms_per_image = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            s.peak_resident_bytes = procStatusBytes("VmHWM");
            s.peak_scratch_bytes = cpu_be->convScratchPeakBytes();
            double sum = 0;
            for (float v : host) sum += std::fabs(v);
            s.mean_abs_pixel = host.empty() ? 0.0 : sum / static_cast<double>(host.size());
            if (!std::isfinite(s.mean_abs_pixel))
                return Status::error("the decode at " + std::to_string(side) + "² produced non-finite pixels");
        } catch (const Error& e) {
            return Status::error("decode at " + std::to_string(side) + "²: " + e.what());
        }
        r.sizes.push_back(s);
    }
    r.load_avg_1m = loadAverage();
    return r;
}

} // namespace tessera::bench
