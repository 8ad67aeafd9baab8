// The scene view's controller: the scene being edited (undo/redo), renders of it made on a worker
// thread, and exports (scene JSON, glTF) written there too. The GUI thread never waits: edits return at
// once, renders of stale scenes are skipped (only the newest scene is drawn), and results come back as
// queued signals on the controller's thread.
//
// Threads: every method is for the GUI thread (the one the controller lives in). The worker owns the
// renderer; it is created there on first use (Vulkan, or the null renderer when no device exists).
#pragma once

#include "tessera/renderers/scene.h"
#include "tessera/renderers/scene_metrics.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QUndoStack>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace tessera::widgets {

// A caption of the scene for a text→image prompt: its objects in words, identical ones counted, e.g.
// "a photo of two small red rubber cubes and a large blue metal sphere on a grey floor". Sizes follow
// CLEVR's two (half-extent under 0.5 is small). Pure; any thread.
QString sceneCaption(const renderers::Scene& scene);

class SceneController : public QObject {
    Q_OBJECT
public:
    // `renderer`: "vulkan" (falls back to "null" with a note in rendererDescription()) or "null".
    explicit SceneController(QString renderer = "vulkan", QObject* parent = nullptr);
    ~SceneController() override; // stops the worker (a render in progress finishes first)

    const renderers::Scene& scene() const { return scene_; }
    // Replaces the scene (not undoable: it starts a new history) and renders it.
    void setScene(const renderers::Scene& scene);
    // Replaces object `index` (an undoable step) and re-renders; false for a bad index.
    bool editObject(int index, const renderers::SceneObject& object);
    QUndoStack& undoStack() { return undo_; }
    void setRenderSize(int width, int height);
    // Writes the scene as JSON or glTF 2.0 on the worker; exportDone reports the outcome.
    void exportJson(const QString& path);
    void exportGltf(const QString& path);
    QString rendererDescription() const { return renderer_description_; }

    // A reference scene to compare the edited one with (a scene opened as the reference, or the ground
    // truth an input image carries). Not undoable; clearing it hides the differences.
    void setReference(const renderers::Scene& reference, const QString& label);
    void clearReference();
    const std::optional<renderers::Scene>& reference() const { return reference_; }
    QString referenceLabel() const { return reference_label_; }
    // The scene against the reference, object by object (the Hungarian matching of scene metrics);
    // empty when there is no reference. Cheap: scenes hold at most kMaxObjects objects.
    renderers::SceneDifference difference() const;
    quint64 renderedVersion() const { return rendered_version_; }
    quint64 version() const { return version_; }

Q_SIGNALS:
    void sceneChanged();
    void referenceChanged();
    void renderReady(const QImage& image, quint64 version);
    void renderFailed(const QString& message);
    void exportDone(bool ok, const QString& message);

private:
    friend class EditObjectCommand;
    void applyObject(int index, const renderers::SceneObject& object);
    void requestRender();
    void post(std::function<void()> task);
    void workerLoop();

    renderers::Scene scene_;
    std::optional<renderers::Scene> reference_;
    QString reference_label_;
    QUndoStack undo_;
    QString renderer_name_, renderer_description_;
    int width_ = 480, height_ = 320;
    quint64 version_ = 0, rendered_version_ = 0;

    std::mutex mutex_;
    std::condition_variable wake_;
    struct RenderJob {
        renderers::Scene scene;
        int width = 0, height = 0;
        quint64 version = 0;
    };
    std::optional<RenderJob> pending_render_; // only the newest request waits
    std::vector<std::function<void()>> tasks_;
    bool stop_ = false;
    std::thread worker_;
};

} // namespace tessera::widgets
