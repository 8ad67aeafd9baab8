// EngineStats: running figures about the engine's internals for the engine panel: per-step timings,
// KV-cache occupancy and sampler statistics of the job being watched. Fed from the bridge's signals.
//
// Thread affinity: GUI thread only.
#pragma once

#include "tessera/engine/events.h"

#include <QObject>
#include <array>
#include <cstdint>
#include <vector>

namespace tessera::widgets {

class EngineBridge;

class EngineStats : public QObject {
    Q_OBJECT
public:
    explicit EngineStats(EngineBridge* bridge, QObject* parent = nullptr);
    static constexpr int kHistory = 256;   // step timings kept for the plot
    static constexpr int kRankBuckets = 6; // 0, 1, 2-3, 4-7, 8-15, 16+

    int64_t job() const { return job_; }
    const std::vector<float>& stepMs() const { return step_ms_; }
    int step() const { return step_; }
    int total() const { return total_; }
    double tokensPerSecond() const { return tokens_per_s_; }
    size_t kvBytes() const { return kv_bytes_; }
    size_t modelBytes() const { return model_bytes_; }
    // Fraction of the job's token positions whose keys and values sit in the cache.
    float kvOccupancy() const {
        return total_ > 0 ? static_cast<float>(step_) / static_cast<float>(total_) : 0.f;
    }
    int tokens() const { return tokens_; }
    float meanProbability() const { return tokens_ ? sum_prob_ / static_cast<float>(tokens_) : 0.f; }
    float meanEntropy() const { return tokens_ ? sum_entropy_ / static_cast<float>(tokens_) : 0.f; }
    float meanGuidanceKl() const { return tokens_ ? sum_kl_ / static_cast<float>(tokens_) : 0.f; }
    const std::array<int, kRankBuckets>& rankHistogram() const { return ranks_; }
    uint64_t revision() const { return revision_; } // bumps on every change

    void onToken(const TokenSampled& e);
    void onTiming(const StepTiming& e);
    void reset(int64_t job);

signals:
    void changed();

private:
    int64_t job_ = 0;
    std::vector<float> step_ms_;
    int step_ = 0, total_ = 0;
    double tokens_per_s_ = 0;
    size_t kv_bytes_ = 0, model_bytes_ = 0;
    int tokens_ = 0;
    float sum_prob_ = 0, sum_entropy_ = 0, sum_kl_ = 0;
    std::array<int, kRankBuckets> ranks_{};
    uint64_t revision_ = 0;
};

// The engine panel: a Dear ImGui view of EngineStats drawn in an OpenGL widget when the platform
// has OpenGL, or a plain text view of the same figures when it has none (e.g. the offscreen
// platform, where QOpenGLWidget is not supported).
// With allow_opengl false the text view is used everywhere. On a software OpenGL renderer (Mesa's
// llvmpipe, softpipe, swrast) the text view is used too unless allow_software_gl is set: there a
// QOpenGLWidget makes Qt compose the whole window through the CPU rasteriser at every repaint,
// which stalls the GUI thread for tens of milliseconds (the stall benchmark measured p99 38 ms with
// the panel on llvmpipe under Xvfb, 6 ms with the text view).
QWidget* createEngineInternalsView(EngineStats* stats, QWidget* parent = nullptr, bool allow_opengl = true,
                                   bool allow_software_gl = false);
bool openGlWidgetsAvailable();
// The OpenGL renderer's name (GL_RENDERER), empty where no context can be made current.
QString openGlRendererName();
bool isSoftwareOpenGl(const QString& renderer);

} // namespace tessera::widgets
