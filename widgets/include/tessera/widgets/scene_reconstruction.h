// Image -> scene program in the studio: runs the IG-LLM pipeline (tessera/engine/igllm.h) on a
// worker thread and reports the program as it streams, the scene parsed from every complete object
// statement (so the Scene dock re-renders as objects complete), and the outcome.
//
// With a project folder (setProject), a finished reconstruction is stored there on the worker exactly as
// `tessera-cli reconstruct --project` stores it (tessera/projects/reconstruction_store.h: the input
// image, the program as a scene, a render, and a "scene" history entry).
//
// Threads: construct and call from the GUI thread; signals arrive on it (queued). The worker owns the
// model, the backend, the image and the project connection; cancel() and the destructor only raise a flag and never wait: the
// worker stops within one token and frees what it holds on its own thread.
#pragma once

#include "tessera/renderers/scene.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <atomic>
#include <cstdint>
#include <memory>

namespace tessera::widgets {

class SceneReconstruction : public QObject {
    Q_OBJECT
public:
    explicit SceneReconstruction(QObject* parent = nullptr);
    ~SceneReconstruction() override; // cancels a run in progress (does not wait for it)

    // Reads `image_path` (any format Qt reads) and reconstructs it with the IG-LLM checkpoint in
    // `model_dir`, all on the worker. A run in progress is cancelled first.
    void start(const QString& model_dir, const QString& image_path, uint64_t seed = 0, int max_new_tokens = 1024);
    // The same for an image in memory (a generation the studio shows): the worker writes it as
    // <name>.png into a temporary folder, which is then the input the run reads and a project stores.
    void startWithImage(const QString& model_dir, const QImage& image, const QString& name, uint64_t seed = 0,
                        int max_new_tokens = 1024);
    void cancel();
    // The project the next runs store into ("" = none). The worker opens it; the GUI thread never waits.
    void setProject(const QString& folder) { project_ = folder; }
    const QString& project() const { return project_; }
    bool running() const { return running_; }
    const QString& program() const { return program_; }

Q_SIGNALS:
    void inputLoaded(const QImage& image);
    // The input image carries its own scene (a PNG that Tessera rendered, with the scene JSON in its
    // "tessera-scene" text chunk): the ground truth the reconstruction can be compared with.
    void groundTruthFound(const renderers::Scene& truth);
    void programChanged(const QString& program);
    // The objects of every complete statement so far (camera and light at their defaults).
    void sceneUpdated(const renderers::Scene& scene);
    // ok = the model ended its program and it parsed; message says what happened.
    void finished(bool ok, const QString& message);
    // The run was stored in `project` as history entry `generation_id` (before finished()).
    void stored(const QString& project, qint64 generation_id);

private:
    struct Run;
    void launch(const QString& model_dir, const QString& image_path, const QImage& image, uint64_t seed,
                int max_new_tokens);
    void appendPiece(uint64_t run, const QString& text);
    void finish(uint64_t run, bool ok, const QString& message);

    std::shared_ptr<Run> current_;
    uint64_t run_id_ = 0;
    bool running_ = false;
    QString program_;
    QString project_;
    int objects_seen_ = 0;
};

} // namespace tessera::widgets
