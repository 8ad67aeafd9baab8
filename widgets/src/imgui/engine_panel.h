// EnginePanel: a QOpenGLWidget hosting a Dear ImGui frame (stock OpenGL 3 renderer backend) that
// draws EngineStats: a plot of per-step timings, the KV-cache occupancy and sampler statistics.
// Repaints at most ~20 times a second, and only while the figures change or the user interacts.
//
// Needs a platform with OpenGL (not "offscreen"); createEngineInternalsView() decides.
#pragma once

#include <QElapsedTimer>
#include <QOpenGLWidget>
#include <QTimer>

struct ImGuiContext;

namespace tessera::widgets {

class EngineStats;

class EnginePanel : public QOpenGLWidget {
    Q_OBJECT
public:
    EnginePanel(EngineStats* stats, QWidget* parent = nullptr);
    ~EnginePanel() override;
    bool initialised() const { return ready_; }
    int framesDrawn() const { return frames_; }

protected:
    void initializeGL() override;
    void paintGL() override;
    bool event(QEvent* event) override;
    QSize sizeHint() const override { return {360, 260}; }

private:
    void drawUi();
    EngineStats* stats_;
    ImGuiContext* context_ = nullptr;
    bool ready_ = false;
    int frames_ = 0;
    int light_ = -1; // the ImGui style in use: 1 light, 0 dark, -1 none yet
    QElapsedTimer clock_;
    QTimer repaint_;
};

} // namespace tessera::widgets
