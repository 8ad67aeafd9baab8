#include "imgui/engine_panel.h"

#include "imgui/imgui_input.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/perf_strip.h"

#include <QOpenGLContext>
#include <QOpenGLFunctions>
#include <cstdio>
#include <imgui.h>
#include <imgui_impl_opengl3.h>

namespace tessera::widgets {

EnginePanel::EnginePanel(EngineStats* stats, QWidget* parent) : QOpenGLWidget(parent), stats_(stats) {
    setObjectName("enginePanel");
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    repaint_.setSingleShot(true);
    repaint_.setInterval(50);
    connect(&repaint_, &QTimer::timeout, this, qOverload<>(&QWidget::update));
    connect(stats_, &EngineStats::changed, this, [this] {
        if (!repaint_.isActive()) repaint_.start();
    });
}

EnginePanel::~EnginePanel() {
    if (!context_) return;
    makeCurrent();
    ImGui::SetCurrentContext(context_);
    if (ready_) ImGui_ImplOpenGL3_Shutdown();
    ImGui::DestroyContext(context_);
    doneCurrent();
}

void EnginePanel::initializeGL() {
    context_ = ImGui::CreateContext();
    ImGui::SetCurrentContext(context_);
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr; // the studio persists its own layout
    ImGuiInputAdapter::install(io);
    // Let the backend pick the GLSL version for the context Qt created.
    ready_ = ImGui_ImplOpenGL3_Init(nullptr);
    clock_.start();
}

bool EnginePanel::event(QEvent* event) {
    if (context_) {
        ImGui::SetCurrentContext(context_);
        if (ImGuiInputAdapter::feed(ImGui::GetIO(), event)) update();
    }
    return QOpenGLWidget::event(event);
}

void EnginePanel::paintGL() {
    auto* gl = context()->functions();
    const qreal dpr = devicePixelRatioF();
    gl->glViewport(0, 0, static_cast<int>(width() * dpr), static_cast<int>(height() * dpr));
    const QColor bg = palette().color(QPalette::Window);
    gl->glClearColor(bg.redF(), bg.greenF(), bg.blueF(), 1.f);
    gl->glClear(GL_COLOR_BUFFER_BIT);
    if (!ready_) return;
    ImGui::SetCurrentContext(context_);
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(static_cast<float>(width()), static_cast<float>(height()));
    io.DisplayFramebufferScale = ImVec2(static_cast<float>(dpr), static_cast<float>(dpr));
    const qint64 ns = clock_.nsecsElapsed();
    clock_.restart();
    io.DeltaTime = std::max(1e-4f, static_cast<float>(ns) * 1e-9f);
    // Follow the system's light/dark palette, also when it changes while the studio runs.
    const int light = palette().color(QPalette::Window).lightness() > 128 ? 1 : 0;
    if (light != light_) {
        light_ = light;
        if (light)
            ImGui::StyleColorsLight();
        else
            ImGui::StyleColorsDark();
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui::NewFrame();
    drawUi();
    ImGui::Render();
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    ++frames_;
}

void EnginePanel::drawUi() {
    const EngineStats& s = *stats_;
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImGui::GetIO().DisplaySize);
    ImGui::Begin("Engine", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::Text("job #%lld   step %d / %d   %.1f tok/s", static_cast<long long>(s.job()), s.step(), s.total(),
                s.tokensPerSecond());
    const auto& ms = s.stepMs();
    float hi = 0;
    for (float v : ms) hi = std::max(hi, v);
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "last %.2f ms, max %.2f ms", ms.empty() ? 0.f : ms.back(), hi);
    ImGui::PlotLines("##steps", ms.data(), static_cast<int>(ms.size()), 0, overlay, 0.f,
                     hi > 0 ? hi * 1.1f : 1.f, ImVec2(ImGui::GetContentRegionAvail().x, 70));
    ImGui::Text("per-step time (ms)");
    ImGui::Separator();
    char kv[96];
    std::snprintf(kv, sizeof kv, "%s  (%.0f%% of positions)", formatBytes(s.kvBytes()).toUtf8().constData(),
                  s.kvOccupancy() * 100.f);
    ImGui::Text("KV cache");
    ImGui::ProgressBar(s.kvOccupancy(), ImVec2(-FLT_MIN, 0), kv);
    ImGui::Text("model %s", formatBytes(s.modelBytes()).toUtf8().constData());
    ImGui::Separator();
    ImGui::Text("sampler: %d tokens", s.tokens());
    ImGui::Text("mean p %.3f   entropy %.3f nats   guidance KL %.3f", s.meanProbability(), s.meanEntropy(),
                s.meanGuidanceKl());
    float ranks[EngineStats::kRankBuckets];
    for (int i = 0; i < EngineStats::kRankBuckets; ++i)
        ranks[i] = static_cast<float>(s.rankHistogram()[static_cast<size_t>(i)]);
    ImGui::PlotHistogram("##ranks", ranks, EngineStats::kRankBuckets, 0,
                         "rank: 0 | 1 | 2-3 | 4-7 | 8-15 | 16+", 0.f, FLT_MAX, ImVec2(ImGui::GetContentRegionAvail().x, 50));
    ImGui::End();
}

} // namespace tessera::widgets
