// A Generator for tests: emits the events a real pipeline emits, from formulas the tests know, through
// the real Scheduler. Token at raster position i for seed s: (s * 31 + i * 7) % codebook, unless
// forced; picture b of a batch ("Images" > 1) uses seed s + b. Statistics: probability 1 / (1 + rank), rank =
// i % 4, entropy = 0.1 * (i % 5), guidance_kl = 0.05 * (i % 3); top-k alternatives: the token then token + 1,
// + 2 (mod codebook).
#pragma once

#include "tessera/widgets/generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace tessera::test {

class SyntheticGenerator : public widgets::Generator {
public:
    SyntheticGenerator(int rows, int cols, int codebook = 64, int step_us = 0, int preview_every = 0)
        : rows_(rows), cols_(cols), codebook_(codebook), step_us_(step_us),
          preview_every_(preview_every > 0 ? preview_every : cols) {}

    static int32_t tokenAt(uint64_t seed, int i, int codebook) {
        return static_cast<int32_t>((seed * 31 + static_cast<uint64_t>(i) * 7) %
                                    static_cast<uint64_t>(codebook));
    }
    static QColor colorOf(int32_t token) { return QColor::fromHsv((token * 37) % 360, 200, 230); }

    widgets::GeneratorInfo info() const override {
        widgets::GeneratorInfo i;
        i.name = "synthetic";
        i.family = "synthetic";
        i.note = note_;
        i.rows = rows_;
        i.cols = cols_;
        i.codebook = codebook_;
        return i;
    }
    void setNote(QString note) { note_ = std::move(note); }
    // Blocks every job before its first step until release() (for queue tests).
    void hold() { held_->store(true); }
    void release() { held_->store(false); }
    int decodes() const { return decodes_->load(); }

    JobFn makeJob(const widgets::GenerationRequest& request) override {
        const int rows = rows_, cols = cols_, codebook = codebook_, step_us = step_us_,
                  every = preview_every_;
        auto held = held_;
        return [=](JobContext& ctx) -> Status {
            while (held->load()) {
                if (ctx.cancelled()) return Status();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            const int n = rows * cols;
            const int batch = std::max(1, request.settings.images);
            std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(batch),
                                                     std::vector<int32_t>(static_cast<size_t>(n), -1));
            const auto start = std::chrono::steady_clock::now();
            double first_preview_ms = -1;
            for (int i = 0; i < n; ++i) {
                if (ctx.cancelled()) return Status();
                const auto t0 = std::chrono::steady_clock::now();
                if (step_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(step_us));
                for (int b = 0; b < batch; ++b) {
                    TokenSampled e;
                    e.job_id = ctx.id();
                    e.image = b;
                    e.position = i;
                    e.token = i < static_cast<int>(request.forced.size())
                                  ? request.forced[static_cast<size_t>(i)]
                                  : tokenAt(request.settings.seed + static_cast<uint64_t>(b), i, codebook);
                    e.rank = i % 4;
                    e.probability = 1.f / static_cast<float>(1 + e.rank);
                    e.entropy = 0.1f * static_cast<float>(i % 5);
                    e.guidance_kl = 0.05f * static_cast<float>(i % 3);
                    for (int k = 0; k < 3; ++k) {
                        e.top_ids.push_back((e.token + k) % codebook);
                        e.top_probs.push_back(0.5f / static_cast<float>(k + 1));
                    }
                    tokens[static_cast<size_t>(b)][static_cast<size_t>(i)] = e.token;
                    ctx.emit(e);
                    const bool last = i == n - 1;
                    if ((i + 1) % every == 0 || last) {
                        if (first_preview_ms < 0)
                            first_preview_ms = std::chrono::duration<double, std::milli>(
                                                   std::chrono::steady_clock::now() - start)
                                                   .count();
                        ctx.emit(
                            preview(ctx.id(), b, tokens[static_cast<size_t>(b)], rows, cols, i + 1, last));
                    }
                }
                StepTiming t;
                t.job_id = ctx.id();
                t.step = i + 1;
                t.total = n;
                t.step_ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                const double elapsed_s =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                t.tokens_per_s = elapsed_s > 0 ? (i + 1) / elapsed_s : 0;
                t.first_preview_ms = first_preview_ms;
                t.kv_cache_bytes = static_cast<size_t>(i + 1) * 1024;
                t.model_bytes = 3u << 20;
                ctx.emit(t);
            }
            return Status();
        };
    }

    Expected<ImageRgb8> decode(const std::vector<int32_t>& tokens) override {
        decodes_->fetch_add(1);
        return image(tokens, rows_, cols_);
    }

    // Each cell 4×4 pixels of its token's colour; missing cells mid-grey.
    static ImageRgb8 image(const std::vector<int32_t>& tokens, int rows, int cols) {
        ImageRgb8 img;
        img.width = cols * 4;
        img.height = rows * 4;
        img.rgb.resize(static_cast<size_t>(img.width * img.height * 3));
        for (int y = 0; y < img.height; ++y)
            for (int x = 0; x < img.width; ++x) {
                const size_t cell = static_cast<size_t>((y / 4) * cols + x / 4);
                const QColor c =
                    cell < tokens.size() && tokens[cell] >= 0 ? colorOf(tokens[cell]) : QColor(128, 128, 128);
                uint8_t* px = &img.rgb[static_cast<size_t>((y * img.width + x) * 3)];
                px[0] = static_cast<uint8_t>(c.red());
                px[1] = static_cast<uint8_t>(c.green());
                px[2] = static_cast<uint8_t>(c.blue());
            }
        return img;
    }

private:
    static PreviewReady preview(int64_t job, int index, const std::vector<int32_t>& tokens, int rows,
                                int cols, int done, bool last) {
        ImageRgb8 img = image(tokens, rows, cols);
        PreviewReady p;
        p.job_id = job;
        p.image = index;
        p.tokens_done = done;
        p.width = img.width;
        p.height = img.height;
        p.rgb = std::make_shared<const std::vector<uint8_t>>(std::move(img.rgb));
        p.final = last;
        return p;
    }

    int rows_, cols_, codebook_, step_us_, preview_every_;
    QString note_;
    std::shared_ptr<std::atomic<bool>> held_ = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<int>> decodes_ = std::make_shared<std::atomic<int>>(0);
};

} // namespace tessera::test
