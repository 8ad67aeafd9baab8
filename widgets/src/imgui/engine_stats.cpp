#include "tessera/widgets/engine_stats.h"

#include "imgui/engine_panel.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/perf_strip.h"

#include <QGuiApplication>
#include <QLabel>
#include <QOffscreenSurface>
#include <QOpenGLContext>
#include <QOpenGLFunctions>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>

namespace tessera::widgets {

EngineStats::EngineStats(EngineBridge* bridge, QObject* parent) : QObject(parent) {
    connect(bridge, &EngineBridge::tokenSampled, this, &EngineStats::onToken);
    connect(bridge, &EngineBridge::stepTiming, this, &EngineStats::onTiming);
    connect(bridge, &EngineBridge::jobStateChanged, this, [this](const JobStateChanged& e) {
        if (e.state == JobState::Running && e.job_id != job_) reset(e.job_id);
    });
}

void EngineStats::reset(int64_t job) {
    job_ = job;
    step_ms_.clear();
    step_ = total_ = 0;
    tokens_per_s_ = 0;
    tokens_ = 0;
    sum_prob_ = sum_entropy_ = sum_kl_ = 0;
    ranks_.fill(0);
    ++revision_;
    Q_EMIT changed();
}

void EngineStats::onToken(const TokenSampled& e) {
    if (e.job_id != job_) return;
    ++tokens_;
    sum_prob_ += e.probability;
    sum_entropy_ += e.entropy;
    sum_kl_ += e.guidance_kl;
    const int bucket = e.rank <= 0 ? 0 : std::min(kRankBuckets - 1, 1 + static_cast<int>(std::log2(e.rank)));
    ++ranks_[static_cast<size_t>(bucket)];
    ++revision_;
    Q_EMIT changed();
}

void EngineStats::onTiming(const StepTiming& e) {
    if (e.job_id != job_) return;
    step_ms_.push_back(static_cast<float>(e.step_ms));
    if (static_cast<int>(step_ms_.size()) > kHistory) step_ms_.erase(step_ms_.begin());
    step_ = e.step;
    total_ = e.total;
    tokens_per_s_ = e.tokens_per_s;
    kv_bytes_ = e.kv_cache_bytes;
    model_bytes_ = e.model_bytes;
    ++revision_;
    Q_EMIT changed();
}

bool openGlWidgetsAvailable() {
    const QString platform = QGuiApplication::platformName();
    if (platform == "offscreen" || platform == "minimal" || platform == "vnc") return false;
    QOpenGLContext probe;
    return probe.create();
}

QString openGlRendererName() {
    QOpenGLContext context;
    QOffscreenSurface surface;
    surface.setFormat(context.format());
    surface.create();
    if (!context.create() || !surface.isValid() || !context.makeCurrent(&surface)) return {};
    const auto* name = reinterpret_cast<const char*>(context.functions()->glGetString(GL_RENDERER));
    QString out = name ? QString::fromLatin1(name) : QString();
    context.doneCurrent();
    return out;
}

bool isSoftwareOpenGl(const QString& renderer) {
    for (const char* s : {"llvmpipe", "softpipe", "swrast", "Software Rasterizer"})
        if (renderer.contains(QLatin1String(s), Qt::CaseInsensitive)) return true;
    return false;
}

namespace {
// The same figures as text, for platforms without OpenGL.
class EngineStatsText : public QLabel {
public:
    EngineStatsText(EngineStats* stats, QWidget* parent) : QLabel(parent), stats_(stats) {
        setObjectName("engineStatsText");
        setAlignment(Qt::AlignTop | Qt::AlignLeft);
        // New figures must not move the docks: a size hint that follows the text would make every
        // update relayout (and repaint) the whole window.
        setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);
        setMinimumSize(360, 120);
        setTextInteractionFlags(Qt::TextSelectableByMouse);
        timer_.setInterval(100); // at most ten repaints a second however fast tokens arrive
        timer_.setSingleShot(true);
        connect(&timer_, &QTimer::timeout, this, &EngineStatsText::render);
        connect(stats, &EngineStats::changed, this, [this] {
            if (!timer_.isActive()) timer_.start();
        });
        render();
    }

private:
    void render() {
        const auto& s = *stats_;
        const auto& r = s.rankHistogram();
        const float last = s.stepMs().empty() ? 0.f : s.stepMs().back();
        setText(tr("Engine panel (OpenGL is not available on this display: text view)\n"
                   "job #%1  step %2 / %3  last step %4 ms  %5 tok/s\n"
                   "KV cache %6 (%7% of positions)  model %8\n"
                   "sampler: %9 tokens, mean p %10, mean entropy %11 nats, mean guidance KL %12\n"
                   "rank histogram 0:%13 1:%14 2-3:%15 4-7:%16 8-15:%17 16+:%18")
                    .arg(s.job())
                    .arg(s.step())
                    .arg(s.total())
                    .arg(last, 0, 'f', 2)
                    .arg(s.tokensPerSecond(), 0, 'f', 1)
                    .arg(formatBytes(s.kvBytes()))
                    .arg(s.kvOccupancy() * 100, 0, 'f', 0)
                    .arg(formatBytes(s.modelBytes()))
                    .arg(s.tokens())
                    .arg(s.meanProbability(), 0, 'f', 3)
                    .arg(s.meanEntropy(), 0, 'f', 3)
                    .arg(s.meanGuidanceKl(), 0, 'f', 3)
                    .arg(r[0])
                    .arg(r[1])
                    .arg(r[2])
                    .arg(r[3])
                    .arg(r[4])
                    .arg(r[5]));
    }
    EngineStats* stats_;
    QTimer timer_;
};
} // namespace

QWidget* createEngineInternalsView(EngineStats* stats, QWidget* parent, bool allow_opengl, bool allow_software_gl) {
    if (allow_opengl && openGlWidgetsAvailable() && (allow_software_gl || !isSoftwareOpenGl(openGlRendererName())))
        return new EnginePanel(stats, parent);
    return new EngineStatsText(stats, parent);
}

} // namespace tessera::widgets
