// CUDA backend: sampling. The rows' Philox uniforms are computed here (host, the engine's Philox) and
// go to the device with the row descriptors; the kernel (kernels/sampling.cu) ranks, filters and draws
// exactly as the CPU backend does; one copy brings back ids and statistics.
#include "cuda/cuda_backend.h"

#include "tessera/engine/sampler.h"
#include "tessera/kernels/sampling.cuh"

#include <cmath>
#include <cstring>

namespace tessera::cuda {

void CudaBackend::sample(const Tensor& logits, const std::vector<SampleRow>& rows, const SampleParams& params,
                         SampleResult& out) {
    TS_ASSERT(logits.defined() && logits.dtype() == DType::F32, "sample logits");
    const int64_t vocab = logits.dim(-1), n_rows = logits.numel() / std::max<int64_t>(1, vocab);
    TS_CHECK(vocab > 0 && vocab < (int64_t(1) << 30), "sample: vocabulary size out of range");
    TS_CHECK(params.report_k >= 0 && params.report_k <= 1024, "sample: report_k must be in [0, 1024]");
    std::vector<kernels::SampleRowDesc> desc(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        const SampleRow& r = rows[i];
        TS_CHECK(r.cond >= 0 && r.cond < n_rows && r.uncond < n_rows, "sample: row index outside the logits");
        TS_CHECK(std::isfinite(r.cfg), "sample: guidance weight must be finite");
        desc[i] = {r.cond, r.uncond, r.cfg, r.forced, Philox::uniform(params.seed, r.stream, r.index)};
    }
    out.resize(rows.size(), params.report_k);
    if (rows.empty()) return;
    const int64_t n = static_cast<int64_t>(rows.size());
    const int k = params.report_k;
    kernels::SampleConfig cfg;
    cfg.temperature = params.temperature;
    cfg.top_k = params.top_k;
    cfg.top_p = params.top_p;
    cfg.min_p = params.min_p;
    cfg.report_k = k;
    cfg.guidance_kl = params.guidance_kl;

    const size_t desc_bytes = desc.size() * sizeof(kernels::SampleRowDesc);
    const size_t out_bytes = static_cast<size_t>(n) * sizeof(kernels::SampleRowOut) +
                             static_cast<size_t>(n) * static_cast<size_t>(k) * (sizeof(int32_t) + sizeof(float));
    Tensor d_desc = alloc(DType::U8, {static_cast<int64_t>(desc_bytes)});
    Tensor d_out = alloc(DType::U8, {static_cast<int64_t>(out_bytes)});
    Tensor scratch = alloc(DType::U8, {static_cast<int64_t>(kernels::sampleScratchBytes(n, vocab))});
    check(cudaMemcpyAsync(d_desc.raw(), desc.data(), desc_bytes, cudaMemcpyHostToDevice, stream_), "sample");
    check(kernels::sampleRows(logits.data<float>(), vocab, static_cast<const kernels::SampleRowDesc*>(d_desc.raw()), n,
                              cfg, scratch.raw(), d_out.raw(), stream_));
    std::vector<unsigned char> host(out_bytes);
    check(cudaMemcpyAsync(host.data(), d_out.raw(), out_bytes, cudaMemcpyDeviceToHost, stream_), "sample");
    check(cudaStreamSynchronize(stream_), "sample");
    checkDeviceFlags();

    const auto* ro = reinterpret_cast<const kernels::SampleRowOut*>(host.data());
    const unsigned char* ids = host.data() + static_cast<size_t>(n) * sizeof(kernels::SampleRowOut);
    const unsigned char* probs = ids + static_cast<size_t>(n) * static_cast<size_t>(k) * sizeof(int32_t);
    for (size_t i = 0; i < rows.size(); ++i) {
        TS_CHECK(ro[i].status != 1, "the model produced non-finite logits (NaN or infinity): check the checkpoint's "
                                    "weights and the guidance weight");
        TS_CHECK(ro[i].status != 2, "forced token " + std::to_string(rows[i].forced) +
                                            " outside the vocabulary of " + std::to_string(vocab));
        out.token[i] = ro[i].token;
        out.probability[i] = ro[i].probability;
        out.entropy[i] = ro[i].entropy;
        out.rank[i] = ro[i].rank;
        out.guidance_kl[i] = ro[i].guidance_kl;
    }
    if (k > 0) {
        std::memcpy(out.top_ids.data(), ids, out.top_ids.size() * sizeof(int32_t));
        std::memcpy(out.top_probs.data(), probs, out.top_probs.size() * sizeof(float));
    }
    host_read_bytes_ += out.bytes();
}

} // namespace tessera::cuda
