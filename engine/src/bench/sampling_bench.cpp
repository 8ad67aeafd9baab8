// The sampling benchmark: one step of guided sampling with statistics, as the generation loop issues it.
#include "tessera/engine/bench.h"
#include "tessera/engine/engine.h"

#include <chrono>

namespace tessera::bench {

Expected<SamplingBenchResult> runSamplingBench(int64_t sequences, int64_t positions, int64_t vocab, int threads,
                                               int repeats, const std::string& backend_name) {
    if (sequences < 1 || positions < 1 || vocab < 2 || repeats < 1)
        return Status::error("sampling bench: sequences, positions, repeats must be >= 1 and vocab >= 2");
    auto backend = createBackend(backend_name, threads);
    if (!backend) return backend.status();
    Backend& be = **backend;
    SamplingBenchResult r;
    r.sequences = sequences;
    r.positions = positions;
    r.vocab = vocab;
    r.threads = be.info().threads;
    try {
        // Logits laid out as the loop sees them: [sequence · 2 + branch, position, vocab]. A cheap hash
        // fills them (gigabytes for a Lumos-shaped step); peaked rows, like a trained model's.
        const int64_t rows = 2 * sequences;
        std::vector<float> host(static_cast<size_t>(rows * positions * vocab));
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (auto& v : host) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = static_cast<float>(static_cast<int64_t>(x >> 40) - (int64_t(1) << 23)) * (4.0f / float(1 << 23));
        }
        Tensor logits = be.fromF32(host, {rows, positions, vocab});
        host.clear();
        host.shrink_to_fit();
        std::vector<SampleRow> sr;
        for (int64_t q = 0; q < sequences; ++q)
            for (int64_t p = 0; p < positions; ++p)
                sr.push_back({(2 * q) * positions + p, (2 * q + 1) * positions + p, 5.0f, static_cast<uint64_t>(q),
                              static_cast<uint64_t>(p), -1});
        SampleParams sp;
        sp.seed = 1;
        sp.top_k = 0;
        SampleResult out;
        be.sample(logits, sr, sp, out); // warm-up: scratch and pages
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < repeats; ++i) be.sample(logits, sr, sp, out);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        r.ms_per_step = ms / repeats;
        r.ns_per_code = r.ms_per_step * 1e6 / static_cast<double>(sequences * positions * vocab);
    } catch (const Error& e) {
        return Status::error(std::string("sampling bench failed: ") + e.what());
    }
    return r;
}

} // namespace tessera::bench
