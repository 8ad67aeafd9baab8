// MainWindow: composes the studio's docks and controllers; it owns no feature logic of its own.
//
//   centre  MosaicView (+ MosaicController)
//   left    SettingsPanel, ModelManagerPanel
//   right   QueuePanel, HistoryPanel, CellInspector
//   bottom  engine panel (Dear ImGui, or its text view without OpenGL); PerfStrip in the status bar
//
// Thread affinity: GUI thread only.
#pragma once

#include "tessera/widgets/erasure.h"
#include "tessera/widgets/model_manager.h"

#include <QMainWindow>
#include <QString>

class QUndoStack;
class QDockWidget;
class QStackedWidget;

namespace tessera::widgets {
class CellInspector;
class EngineBridge;
class EngineStats;
class HistoryController;
class HistoryPanel;
class InspectorController;
class ModelManagerPanel;
class MosaicController;
class MosaicView;
class PerfStrip;
class QueueController;
class QueuePanel;
class SettingsPanel;
class ShortcutRegistry;
class StudioController;
class VideoController;
class VideoView;
class DicodeController;
class DicodeView;
class SceneController;
class SceneView;
class SceneReconstruction;
} // namespace tessera::widgets

namespace tessera::studio {

struct StudioOptions {
    QString model;         // checkpoint folder loaded at start (empty: none)
    QString igllm_model;   // the IG-LLM folder "Reconstruct scene from image" offers first (built-in shapes-igllm)
    bool autostart = true; // start a first generation once the model is loaded
    QString prompt;        // for that first generation (empty: the saved or default prompt)
    QString project;       // project folder whose history to show (empty: this session)
    bool persist = true;   // read and write QSettings
    bool opengl = true;    // the Dear ImGui engine panel where OpenGL exists (else its text view)
    bool software_gl = false; // that panel also on a software OpenGL renderer (slow: see engine_stats.h)
    widgets::ModelManagerController::Loader loader; // empty: Janus or Token-Shuffle by config.json
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(StudioOptions options, QWidget* parent = nullptr);
    ~MainWindow() override;

    widgets::StudioController* studio() const { return studio_; }
    widgets::MosaicView* mosaicView() const { return mosaic_view_; }
    widgets::MosaicController* mosaicController() const { return mosaic_; }
    widgets::CellInspector* inspector() const { return inspector_view_; }
    widgets::InspectorController* inspectorController() const { return inspector_; }
    widgets::HistoryPanel* historyPanel() const { return history_view_; }
    widgets::HistoryController* historyController() const { return history_; }
    widgets::QueuePanel* queuePanel() const { return queue_view_; }
    widgets::SettingsPanel* settingsPanel() const { return settings_; }
    widgets::ModelManagerController* models() const { return models_; }
    widgets::PerfStrip* perfStrip() const { return perf_; }
    widgets::VideoView* videoView() const { return video_view_; }
    widgets::VideoController* videoController() const { return video_; }
    widgets::DicodeView* dicodeView() const { return dicode_view_; }
    widgets::DicodeController* dicodeController() const { return dicode_; }
    widgets::SceneView* sceneView() const { return scene_view_; }
    // Reads and parses a scene program or scene JSON off the GUI thread, then shows it in the Scene
    // dock (errors go to the status bar).
    // With `as_reference`, the scene becomes the Scene dock's reference: the object list then shows
    // each object's differences against it.
    void openScene(const QString& path, bool as_reference = false);
    // Generate > Generate an image of this scene: the scene's caption (widgets::sceneCaption) becomes
    // the prompt of a text→image job with the loaded model. Does nothing without such a model (the
    // action is then disabled, its tooltip says why).
    void generateSceneImage();
    // Image -> scene program with an IG-LLM checkpoint, off the GUI thread; the Scene dock shows the
    // input and re-renders as each object completes. With a project open, the result is stored in it
    // (input, program, render) and appears in the history.
    void reconstructScene(const QString& model_dir, const QString& image_path, uint64_t seed = 0);
    // Generate > Reconstruct the current image: the picture on the mosaic, read by the built-in IG-LLM
    // model (StudioOptions::igllm_model; asked for where there is none) into the Scene dock.
    void reconstructCurrentImage();
    widgets::SceneReconstruction* reconstruction() const { return reconstruction_; }
    // Concept erasure (EAR) as a queued job; the Erasure dock shows its loss curve and the compare view.
    // With a project open the finished erasure is stored there (the dock lists and reopens it), and the
    // Models dock lists "<model> + <delta>".
    void startErasure(const widgets::ErasureRequest& request);
    widgets::ErasureController* erasure() const { return erasure_; }
    widgets::ErasurePanel* erasurePanel() const { return erasure_view_; }
    bool engineYieldsCore() const { return engine_yields_; }
    widgets::ShortcutRegistry* shortcuts() const { return shortcuts_; }
    QUndoStack* undoStack() const { return undo_; }
    QDockWidget* dock(const QString& object_name) const;
    QWidget* engineView() const { return engine_view_; }
    // Opens a project folder's history in the History dock, off the GUI thread; projectOpened()
    // reports the outcome (errors also go to the status bar).
    void openProject(const QString& folder);

signals:
    void projectOpened(const QString& folder, bool ok);

protected:
    void closeEvent(QCloseEvent* event) override;
    void changeEvent(QEvent* event) override;
    void showEvent(QShowEvent* event) override;
    void hideEvent(QHideEvent* event) override;

private:
    QDockWidget* addDock(const QString& title, const QString& name, QWidget* content,
                         Qt::DockWidgetArea area);
    void buildMenus();
    void exportCurrent();
    void generate();
    void saveState();
    // While the window is shown (not minimised or hidden) on a machine with at most kYieldCores
    // cores, the engine computes on one thread fewer, so the GUI thread always finds a free core;
    // all threads otherwise.
    void applyEngineThreads();
    void updateSceneImageAction();
    static constexpr int kYieldCores = 2;

    StudioOptions options_;
    int64_t project_request_ = 0;
    QString project_folder_; // the project the History dock shows ("" = this session only)
    bool closing_ = false;
    bool engine_yields_ = false; // a close waits (window hidden) for running jobs to stop
    QUndoStack* undo_;
    widgets::EngineBridge* bridge_;
    widgets::StudioController* studio_;
    widgets::EngineStats* stats_;
    widgets::MosaicView* mosaic_view_;
    widgets::MosaicController* mosaic_;
    widgets::SettingsPanel* settings_;
    widgets::ModelManagerController* models_;
    widgets::ModelManagerPanel* models_view_;
    widgets::QueuePanel* queue_view_;
    widgets::QueueController* queue_;
    widgets::HistoryPanel* history_view_;
    widgets::HistoryController* history_;
    widgets::CellInspector* inspector_view_;
    widgets::InspectorController* inspector_;
    widgets::PerfStrip* perf_;
    widgets::VideoController* video_;
    widgets::VideoView* video_view_;
    widgets::DicodeController* dicode_;
    widgets::DicodeView* dicode_view_;
    QStackedWidget* video_stack_; // the Video dock: video_view_ (Lumos-1) or dicode_view_ (DiCoDe)
    widgets::SceneController* scene_;
    widgets::SceneView* scene_view_;
    widgets::SceneReconstruction* reconstruction_;
    QDockWidget* scene_dock_ = nullptr;
    QAction* scene_image_action_ = nullptr;
    widgets::ErasureController* erasure_;
    widgets::ErasurePanel* erasure_view_;
    QDockWidget* erasure_dock_ = nullptr;
    widgets::ShortcutRegistry* shortcuts_;
    QWidget* engine_view_;
    bool first_run_pending_;
};

} // namespace tessera::studio
