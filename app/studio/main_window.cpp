#include "studio/main_window.h"

#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/dicode_controller.h"
#include "tessera/widgets/dicode_generator.h"
#include "tessera/widgets/dicode_view.h"
#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/engine_stats.h"
#include "tessera/widgets/export_dialog.h"
#include "tessera/widgets/history_panel.h"
#include "tessera/widgets/inspector_controller.h"
#include "tessera/widgets/janus_generator.h"
#include "tessera/widgets/mosaic_controller.h"
#include "tessera/widgets/mosaic_view.h"
#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/project_history_source.h"
#include "tessera/widgets/queue_panel.h"
#include "tessera/widgets/scene_reconstruction.h"
#include "tessera/widgets/scene_view.h"
#include "tessera/widgets/settings_panel.h"
#include "tessera/widgets/shortcuts.h"
#include "tessera/widgets/studio_controller.h"
#include "tessera/widgets/token_mosaic.h"
#include "tessera/widgets/token_shuffle_generator.h"
#include "tessera/widgets/video_controller.h"
#include "tessera/widgets/video_export.h"
#include "tessera/widgets/video_generator.h"
#include "tessera/widgets/video_view.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QDateTime>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QThreadPool>
#include <QTimer>
#include <QUndoStack>
#include <algorithm>
#include <fstream>
#include <iterator>

namespace tessera::studio {

using namespace tessera::widgets;

namespace {
// A caption of the Shapes world, which the built-in shapes-janus draws (docs/WORLD.md).
const char* kDefaultPrompt = "a large red rubber cube left of a small blue metal sphere";
}

MainWindow::MainWindow(StudioOptions options, QWidget* parent)
    : QMainWindow(parent), options_(std::move(options)), first_run_pending_(options_.autostart) {
    setWindowTitle(tr("Tessera"));
    setDockNestingEnabled(true);
    undo_ = new QUndoStack(this);
    bridge_ = new EngineBridge(1, this);
    studio_ = new StudioController(bridge_, this);
    stats_ = new EngineStats(bridge_, this);

    mosaic_view_ = new MosaicView(this);
    setCentralWidget(mosaic_view_);
    mosaic_ = new MosaicController(studio_, mosaic_view_, this);

    settings_ = new SettingsPanel(this);
    auto loader =
        options_.loader
            ? options_.loader
            : ModelManagerController::Loader([](const std::string& dir) -> Expected<std::shared_ptr<Generator>> {
                  if (DicodePipeline::isDicodeFolder(dir)) {
                      auto g = loadDicodeGenerator(dir);
                      if (!g) return g.status();
                      return std::shared_ptr<Generator>(*g);
                  }
                  if (isLumosCheckpoint(dir)) {
                      auto g = loadLumosGenerator(dir);
                      if (!g) return g.status();
                      return std::shared_ptr<Generator>(*g);
                  }
                  return loadGenerator(dir); // Janus or Token-Shuffle, from config.json
              });
    models_ = new ModelManagerController(studio_, loader, this);
    models_view_ = new ModelManagerPanel(models_, this);
    queue_view_ = new QueuePanel(this);
    queue_ = new QueueController(bridge_, queue_view_, this);
    history_view_ = new HistoryPanel(this);
    history_ = new HistoryController(studio_, history_view_, undo_, this);
    inspector_view_ = new CellInspector(this);
    inspector_ = new InspectorController(studio_, inspector_view_, this);
    engine_view_ = createEngineInternalsView(stats_, this, options_.opengl, options_.software_gl);
    perf_ = new PerfStrip(this);
    statusBar()->addPermanentWidget(perf_, 1);
    video_ = new VideoController(studio_, this);
    video_view_ = new VideoView(video_, this);
    dicode_ = new DicodeController(studio_, this);
    dicode_view_ = new DicodeView(dicode_, this);
    connect(dicode_view_, &DicodeView::cancelRequested, studio_, &StudioController::cancel);
    video_stack_ = new QStackedWidget(this);
    video_stack_->addWidget(video_view_);
    video_stack_->addWidget(dicode_view_);
    scene_ = new SceneController(QStringLiteral("vulkan"), this); // its worker renders; nothing until a scene
    scene_view_ = new SceneView(*scene_, this);
    reconstruction_ = new SceneReconstruction(this);
    // The scene re-renders as each object statement completes; the input goes beside it.
    connect(reconstruction_, &SceneReconstruction::inputLoaded, scene_view_, &SceneView::setInputImage);
    connect(reconstruction_, &SceneReconstruction::sceneUpdated, this,
            [this](const renderers::Scene& scene) { scene_->setScene(scene); });
    connect(reconstruction_, &SceneReconstruction::stored, this, [this](const QString& project, qint64) {
        if (project == project_folder_) history_->refresh();
    });
    connect(reconstruction_, &SceneReconstruction::groundTruthFound, this, [this](const renderers::Scene& truth) {
        scene_->setReference(truth, tr("the ground truth stored in the input image"));
    });
    connect(reconstruction_, &SceneReconstruction::finished, this, [this](bool ok, const QString& message) {
        statusBar()->showMessage(ok ? tr("Reconstruction: %1").arg(message)
                                    : tr("Reconstruction failed: %1").arg(message));
    });

    erasure_ = new ErasureController(bridge_, this);
    erasure_view_ = new ErasurePanel(erasure_, this);
    connect(erasure_, &ErasureController::finished, this, [this](bool ok, const QString& message) {
        statusBar()->showMessage(ok ? tr("Erasure: %1").arg(message) : tr("Erasure stopped: %1").arg(message));
        // The model plus its new delta is a model: the Models dock lists it.
        if (ok) models_->addErasedModel(erasure_->request().model_dir, erasure_->request().out_path);
    });

    QDockWidget* settings_dock =
        addDock(tr("Prompt & settings"), "settingsDock", settings_, Qt::LeftDockWidgetArea);
    QDockWidget* models_dock = addDock(tr("Models"), "modelsDock", models_view_, Qt::LeftDockWidgetArea);
    tabifyDockWidget(settings_dock, models_dock);
    settings_dock->raise();
    QDockWidget* inspector_dock =
        addDock(tr("Cell inspector"), "inspectorDock", inspector_view_, Qt::RightDockWidgetArea);
    QDockWidget* history_dock = addDock(tr("History"), "historyDock", history_view_, Qt::RightDockWidgetArea);
    QDockWidget* queue_dock = addDock(tr("Queue"), "queueDock", queue_view_, Qt::RightDockWidgetArea);
    splitDockWidget(inspector_dock, history_dock, Qt::Vertical);
    tabifyDockWidget(history_dock, queue_dock);
    history_dock->raise();
    QDockWidget* engine_dock = addDock(tr("Engine"), "engineDock", engine_view_, Qt::BottomDockWidgetArea);
    QDockWidget* video_dock = addDock(tr("Video"), "videoDock", video_stack_, Qt::BottomDockWidgetArea);
    tabifyDockWidget(engine_dock, video_dock);
    scene_dock_ = addDock(tr("Scene"), "sceneDock", scene_view_, Qt::BottomDockWidgetArea);
    tabifyDockWidget(video_dock, scene_dock_);
    erasure_dock_ = addDock(tr("Erasure"), "erasureDock", erasure_view_, Qt::BottomDockWidgetArea);
    tabifyDockWidget(scene_dock_, erasure_dock_);
    engine_dock->raise();
    // A video generation shown is shown in the Video dock too, which comes to the front.
    // A stored reconstruction opened from the history goes to the Scene dock: its program and input.
    connect(studio_, &StudioController::currentChanged, this, [this](qint64 id) {
        const Generation* g = studio_->generation(id);
        if (!g || g->kind != "scene") return;
        const renderers::SceneParseResult parsed = renderers::parseSceneProgram(g->scene_program.toStdString());
        if (!parsed.ok)
            return statusBar()->showMessage(tr("The stored scene does not parse: %1").arg(QString::fromStdString(parsed.error)));
        scene_->clearReference();
        scene_->setScene(parsed.scene);
        if (!g->scene_input.isNull()) scene_view_->setInputImage(g->scene_input);
        scene_dock_->show();
        scene_dock_->raise();
    });
    connect(studio_, &StudioController::currentChanged, this, [this, video_dock](qint64 id) {
        const Generation* g = studio_->generation(id);
        if (!g || g->kind != "video") return;
        // DiCoDe runs carry their options in the settings (a restored one: from its recipe).
        if (!g->settings.dicode.isEmpty()) {
            dicode_view_->showVideo(id);
            video_stack_->setCurrentWidget(dicode_view_);
        } else {
            video_view_->showVideo(id);
            video_stack_->setCurrentWidget(video_view_);
        }
        video_dock->show();
        video_dock->raise();
    });
    resizeDocks({settings_dock, inspector_dock}, {340, 400}, Qt::Horizontal);
    resizeDocks({engine_dock, inspector_dock}, {210, 300}, Qt::Vertical);

    connect(bridge_, &EngineBridge::stepTiming, perf_, &PerfStrip::onTiming);
    connect(bridge_, &EngineBridge::tokenSampled, perf_, &PerfStrip::onToken);
    connect(mosaic_, &MosaicController::cellSelected, inspector_, &InspectorController::inspect);
    connect(studio_, &StudioController::currentChanged, inspector_view_, &CellInspector::clear);
    connect(studio_, &StudioController::generatorChanged, this, &MainWindow::applyEngineThreads);
    connect(studio_, &StudioController::generatorChanged, this, &MainWindow::updateSceneImageAction);
    connect(studio_, &StudioController::generatorChanged, this, [this] {
        auto* d = dynamic_cast<DicodeGenerator*>(studio_->generator().get());
        settings_->showDicodeFields(d != nullptr, d ? d->maxKeyframes() : 0);
    });
    connect(settings_, &SettingsPanel::generateRequested, this,
            [this](const GenerationSettings& s) { studio_->generate(s); });
    connect(settings_, &SettingsPanel::modelChosen, models_, &ModelManagerController::load);
    connect(history_, &HistoryController::settingsRestored, settings_, &SettingsPanel::setSettings);
    for (auto* source :
         {static_cast<QObject*>(studio_), static_cast<QObject*>(history_), static_cast<QObject*>(models_)})
        connect(source, SIGNAL(message(QString)), statusBar(), SLOT(showMessage(QString)));
    connect(models_, &ModelManagerController::modelsChanged, this, [this] {
        QStringList folders;
        for (const auto& m : models_->models())
            if (m.overlay.isEmpty())
                folders << m.folder; // a model plus a delta is loaded from the Models dock
        settings_->setModels(folders, models_->loadedFolder());
        history_view_->setModels(folders);
    });
    connect(models_, &ModelManagerController::loaded, this, [this](const QString& folder) {
        const GeneratorInfo info = studio_->generator()->info();
        setWindowTitle(tr("Tessera — %1").arg(info.name));
        statusBar()->showMessage(info.note.isEmpty() ? tr("Loaded %1").arg(folder) : info.note);
        if (first_run_pending_) {
            first_run_pending_ = false;
            GenerationSettings s = settings_->settingsForRun();
            s.model = folder;
            if (!options_.prompt.isEmpty()) s.prompt = options_.prompt;
            if (s.prompt.isEmpty()) s.prompt = kDefaultPrompt;
            settings_->setSettings(s);
            studio_->generate(s);
        }
    });
    connect(models_, &ModelManagerController::loadFailed, this,
            [this](const QString& folder, const QString& why) {
                first_run_pending_ = false;
                statusBar()->showMessage(tr("Could not load %1: %2").arg(folder, why));
            });

    buildMenus();
    if (options_.persist) {
        QSettings store;
        restoreGeometry(store.value("window/geometry").toByteArray());
        restoreState(store.value("window/state").toByteArray());
        settings_->restore(store);
        shortcuts_->load(store);
        mosaic_view_->setOverlay(static_cast<MosaicOverlay>(store.value("mosaic/overlay", 0).toInt()));
        for (const QString& f : store.value("models/folders").toStringList()) models_->addFolderAsync(f);
        for (const QString& e : store.value("models/erased").toStringList())
            if (e.contains('\n')) models_->addErasedModel(e.section('\n', 0, 0), e.section('\n', 1));
    }
    if (settings_->settings().prompt.isEmpty()) {
        GenerationSettings s = settings_->settings();
        s.prompt = kDefaultPrompt;
        settings_->setSettings(s);
    }
    if (!options_.project.isEmpty()) openProject(options_.project);
    if (!options_.model.isEmpty())
        models_->load(options_.model);
    else
        first_run_pending_ = false;
    resize(1400, 900);
}

MainWindow::~MainWindow() = default;

QDockWidget* MainWindow::addDock(const QString& title, const QString& name, QWidget* content,
                                 Qt::DockWidgetArea area) {
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(name);
    dock->setWidget(content);
    addDockWidget(area, dock);
    return dock;
}

QDockWidget* MainWindow::dock(const QString& object_name) const {
    return findChild<QDockWidget*>(object_name);
}

void MainWindow::openProject(const QString& folder) {
    // Opening (and migrating) a project runs on a pool thread; the dock switches when it is open.
    statusBar()->showMessage(tr("Opening project %1…").arg(QDir(folder).dirName()));
    const int64_t request = ++project_request_;
    openProjectHistoryAsync(folder, false, this, [this, folder, request](Expected<std::unique_ptr<HistorySource>> source) {
        if (request != project_request_) return; // a later open superseded this one
        if (!source) {
            statusBar()->showMessage(tr("Could not open project %1: %2").arg(folder, QString::fromStdString(source.error())));
            Q_EMIT projectOpened(folder, false);
            return;
        }
        history_->setSource(source->release());
        project_folder_ = folder;
        erasure_->setProject(folder); // erasures are stored there and listed in the Erasure dock
        if (auto* d = dock("historyDock")) d->setWindowTitle(tr("History — %1").arg(QDir(folder).dirName()));
        statusBar()->showMessage(tr("Opened project %1").arg(QDir(folder).dirName()), 3000);
        Q_EMIT projectOpened(folder, true);
    });
}

void MainWindow::openScene(const QString& path, bool as_reference) {
    QPointer<MainWindow> self(this);
    QThreadPool::globalInstance()->start([self, path, as_reference] {
        std::ifstream in(path.toStdString(), std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        renderers::SceneParseResult parsed;
        if (!in.good() && !in.eof())
            parsed.error = "cannot read " + path.toStdString();
        else if (text.find_first_not_of(" \t\r\n") != std::string::npos && text[text.find_first_not_of(" \t\r\n")] == '{')
            parsed = renderers::parseSceneJson(text);
        else
            parsed = renderers::parseSceneProgram(text);
        QMetaObject::invokeMethod(qApp, [self, path, parsed, as_reference] {
            if (!self) return;
            if (!parsed.ok) {
                self->statusBar()->showMessage(tr("Scene %1: %2").arg(path, QString::fromStdString(parsed.error)));
                return;
            }
            if (as_reference)
                self->scene_->setReference(parsed.scene, QFileInfo(path).fileName());
            else
                self->scene_->setScene(parsed.scene);
            self->scene_dock_->show();
            self->scene_dock_->raise();
        });
    });
}

void MainWindow::generateSceneImage() {
    const std::shared_ptr<Generator> gen = studio_->generator();
    if (!gen || gen->info().video) return;
    const QString caption = sceneCaption(scene_->scene());
    settings_->promptEdit()->setPlainText(caption);
    const int64_t id = studio_->generate(settings_->settingsForRun());
    statusBar()->showMessage(id > 0 ? tr("Queued an image of the scene: “%1”").arg(caption)
                                    : tr("Could not queue an image of the scene"));
}

void MainWindow::updateSceneImageAction() {
    if (!scene_image_action_) return;
    const std::shared_ptr<Generator> gen = studio_->generator();
    const bool ok = gen && !gen->info().video;
    scene_image_action_->setEnabled(ok);
    scene_image_action_->setToolTip(ok ? tr("Queue a text→image job with %1, prompted with the scene's caption")
                                             .arg(gen->info().name)
                                       : tr("Load a text→image model (Janus or Token-Shuffle) to generate an "
                                            "image of this scene"));
}

void MainWindow::reconstructScene(const QString& model_dir, const QString& image_path, uint64_t seed) {
    scene_->clearReference(); // a new input: its own ground truth, if any, arrives with it
    reconstruction_->setProject(project_folder_);
    scene_dock_->show();
    scene_dock_->raise();
    statusBar()->showMessage(tr("Reconstructing %1…").arg(image_path));
    reconstruction_->start(model_dir, image_path, seed);
}

void MainWindow::reconstructCurrentImage() {
    const int64_t id = studio_->current();
    const Generation* g = studio_->generation(id);
    if (!g || g->image.isNull()) {
        statusBar()->showMessage(tr("No picture to reconstruct yet: generate one first."));
        return;
    }
    const QString model = !options_.igllm_model.isEmpty()
                              ? options_.igllm_model
                              : QFileDialog::getExistingDirectory(this, tr("IG-LLM checkpoint folder"));
    if (model.isEmpty()) return;
    scene_->clearReference();
    reconstruction_->setProject(project_folder_);
    scene_dock_->show();
    scene_dock_->raise();
    statusBar()->showMessage(
        tr("Reconstructing generation #%1 with %2…").arg(id).arg(QFileInfo(model).fileName()));
    reconstruction_->startWithImage(model, g->image, QStringLiteral("generation-%1").arg(id));
}

void MainWindow::startErasure(const ErasureRequest& request) {
    erasure_dock_->show();
    erasure_dock_->raise();
    erasure_->start(request);
}

void MainWindow::buildMenus() {
    shortcuts_ = new ShortcutRegistry(this);
    const auto action = [this](QMenu* menu, const QString& id, const QString& text, const QKeySequence& keys,
                               auto slot) {
        QAction* a = menu->addAction(text);
        a->setObjectName(id);
        shortcuts_->add(id, a, keys);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    QMenu* file = menuBar()->addMenu(tr("&File"));
    action(file, "file.openProject", tr("&Open project…"), QKeySequence::Open, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Project folder"));
        if (!dir.isEmpty()) openProject(dir);
    });
    action(file, "file.openScene", tr("Open &scene…"), QKeySequence(), [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Scene program or scene JSON"), {},
                                                          tr("Scenes (*.json *.scene *.txt);;All files (*)"));
        if (!path.isEmpty()) openScene(path);
    });
    action(file, "file.openReferenceScene", tr("Open &reference scene…"), QKeySequence(), [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Reference scene (program or scene JSON)"), {},
                                                          tr("Scenes (*.json *.scene *.txt);;All files (*)"));
        if (!path.isEmpty()) openScene(path, true);
    });
    action(file, "file.export", tr("&Export PNG or video…"), QKeySequence(Qt::CTRL | Qt::Key_E),
           [this] { exportCurrent(); });
    file->addSeparator();
    action(file, "file.quit", tr("&Quit"), QKeySequence::Quit, [this] { close(); });

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = undo_->createUndoAction(this, tr("&Undo"));
    QAction* redo = undo_->createRedoAction(this, tr("&Redo"));
    edit->addAction(undo);
    edit->addAction(redo);
    shortcuts_->add("edit.undo", undo, QKeySequence::Undo);
    shortcuts_->add("edit.redo", redo, QKeySequence::Redo);
    edit->addSeparator();
    action(edit, "edit.shortcuts", tr("Keyboard &shortcuts…"), QKeySequence(), [this] {
        ShortcutDialog dialog(shortcuts_, this);
        dialog.exec();
        if (options_.persist) {
            QSettings store;
            shortcuts_->save(store);
        }
    });

    QMenu* gen = menuBar()->addMenu(tr("&Generate"));
    gen->setToolTipsVisible(true); // a disabled action's tooltip says what it needs
    action(gen, "generate.run", tr("&Generate"), QKeySequence(Qt::CTRL | Qt::Key_Return),
           [this] { generate(); });
    action(gen, "generate.cancel", tr("&Cancel current"), QKeySequence(Qt::Key_Escape),
           [this] { studio_->cancelCurrent(); });
    action(gen, "generate.branch", tr("&Branch from selected cell"), QKeySequence(Qt::CTRL | Qt::Key_B),
           [this] { inspector_view_->branchButton()->click(); });
    action(gen, "generate.replay", tr("&Replay decode order"), QKeySequence(Qt::CTRL | Qt::Key_R),
           [this] { mosaic_->setPlaying(true); });
    action(gen, "generate.pause", tr("&Pause or resume queue"), QKeySequence(Qt::CTRL | Qt::Key_P),
           [this] { queue_view_->pauseButton()->toggle(); });
    gen->addSeparator();
    action(gen, "generate.reconstruct", tr("Reconstruct &scene from image…"), QKeySequence(), [this] {
        const QString model =
            QFileDialog::getExistingDirectory(this, tr("IG-LLM checkpoint folder"), options_.igllm_model);
        if (model.isEmpty()) return;
        const QString image = QFileDialog::getOpenFileName(this, tr("Image"), {},
                                                           tr("Images (*.png *.jpg *.jpeg *.bmp);;All files (*)"));
        if (!image.isEmpty()) reconstructScene(model, image);
    });
    action(gen, "generate.reconstructCurrent", tr("Reconstruct the &current image"), QKeySequence(),
           [this] { reconstructCurrentImage(); });
    scene_image_action_ = action(gen, "generate.sceneImage", tr("Generate an &image of this scene"), QKeySequence(),
                                 [this] { generateSceneImage(); });
    updateSceneImageAction();
    action(gen, "generate.erase", tr("&Erase a concept…"), QKeySequence(), [this] {
        const QString out = (project_folder_.isEmpty() ? QDir::homePath() : project_folder_) + "/erasure-" +
                            QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")) +
                            ".safetensors";
        ErasureDialog dialog(options_.model, out, this);
        if (dialog.exec() != QDialog::Accepted) return;
        auto request = dialog.request();
        if (request) startErasure(*request);
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    int key = Qt::Key_0;
    for (auto o : {MosaicOverlay::None, MosaicOverlay::Probability, MosaicOverlay::Entropy,
                   MosaicOverlay::Rank, MosaicOverlay::Guidance, MosaicOverlay::AcceptedStep}) {
        action(view, QString("view.overlay%1").arg(static_cast<int>(o)),
               tr("Overlay: %1").arg(overlayName(o)), QKeySequence(Qt::ALT | static_cast<Qt::Key>(key++)),
               [this, o] { mosaic_view_->setOverlay(o); });
    }
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
}

void MainWindow::generate() {
    studio_->generate(settings_->settingsForRun());
}

void MainWindow::exportCurrent() {
    const Generation* g = studio_->generation(studio_->current());
    if (g && g->kind == "video") {
        if (!g->video) return statusBar()->showMessage(tr("The video is not finished yet."));
        VideoExportDialog dialog(QDir::home().filePath(QString("tessera-%1").arg(g->id)), g->video->fps, this);
        if (dialog.exec() != QDialog::Accepted) return;
        exportVideoAsync(
            g->video, dialog.request(), this,
            [this](int written, int total) { statusBar()->showMessage(tr("Exporting frame %1/%2…").arg(written).arg(total)); },
            [this](bool, QString message) { statusBar()->showMessage(message); });
        return;
    }
    if (!g || g->image.isNull()) {
        statusBar()->showMessage(tr("Nothing to export yet: generate an image first."));
        return;
    }
    ExportDialog dialog(QDir::home().filePath(QString("tessera-%1.png").arg(g->id)), this);
    if (dialog.exec() != QDialog::Accepted) return;
    exportPngAsync(*g, dialog.path(), dialog.withRecipe(), this,
                   [this](bool, QString message) { statusBar()->showMessage(message); });
}

void MainWindow::saveState() {
    if (!options_.persist) return;
    QSettings store;
    store.setValue("window/geometry", QMainWindow::saveGeometry());
    store.setValue("window/state", QMainWindow::saveState());
    settings_->save(store);
    shortcuts_->save(store);
    store.setValue("mosaic/overlay", static_cast<int>(mosaic_view_->mosaic()->overlay()));
    QStringList folders;
    QStringList erased; // "<folder>\n<delta>"
    for (const auto& m : models_->models())
        (m.overlay.isEmpty() ? folders : erased)
            << (m.overlay.isEmpty() ? m.folder : m.folder + "\n" + m.overlay);
    store.setValue("models/folders", folders);
    store.setValue("models/erased", erased);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!closing_) {
        saveState();
        closing_ = true;
    }
    Scheduler& scheduler = studio_->bridge()->scheduler();
    scheduler.cancelAll();
    const auto jobs = scheduler.jobs();
    const bool busy = std::any_of(jobs.begin(), jobs.end(), [](const JobInfo& j) {
        return j.state == JobState::Running || j.state == JobState::Queued;
    });
    if (!busy) return event->accept();
    // A cancelled job stops at its next step, and a step can take seconds on a CPU (the final image
    // decode): the window goes away now and the close completes once the engine is idle, so the GUI
    // thread never joins a running job.
    hide();
    event->ignore();
    QTimer::singleShot(20, this, [this] { close(); });
}

void MainWindow::applyEngineThreads() {
    const std::shared_ptr<Generator> gen = studio_->generator();
    if (!gen) {
        engine_yields_ = false;
        return perf_->setEngineThreads(0, 0, false);
    }
    const int available = gen->engineThreads().second;
    // Shown and not minimised: activation alone would miss a desktop without a window manager.
    engine_yields_ = isVisible() && !isMinimized() && available > 1 && available <= kYieldCores;
    gen->setEngineThreads(engine_yields_ ? available - 1 : 0);
    perf_->setEngineThreads(gen->engineThreads().first, available, engine_yields_);
}

void MainWindow::showEvent(QShowEvent* event) {
    QMainWindow::showEvent(event);
    applyEngineThreads();
}

void MainWindow::hideEvent(QHideEvent* event) {
    QMainWindow::hideEvent(event);
    applyEngineThreads();
}

void MainWindow::changeEvent(QEvent* event) {
    if (event->type() == QEvent::ActivationChange || event->type() == QEvent::WindowStateChange) applyEngineThreads();
    // Follow the system's light/dark switch: every widget paints from palette(); docks repaint here.
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::ApplicationPaletteChange)
        for (QWidget* w : findChildren<QWidget*>()) w->update();
    QMainWindow::changeEvent(event);
}

} // namespace tessera::studio
