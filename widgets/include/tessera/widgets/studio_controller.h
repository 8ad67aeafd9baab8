// StudioController: the studio's model of generations. It submits jobs for the loaded Generator
// through the EngineBridge's scheduler, folds their events into Generation records and tells the
// feature controllers (mosaic, inspector, perf, history, queue) what changed.
//
// Thread affinity: GUI thread only. It never waits on a job: everything arrives through the bridge's
// queued signals.
#pragma once

#include "tessera/widgets/engine_bridge.h"
#include "tessera/widgets/generation.h"
#include "tessera/widgets/generator.h"

#include <QObject>
#include <QString>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace tessera::widgets {

class StudioController : public QObject {
    Q_OBJECT
public:
    explicit StudioController(EngineBridge* bridge, QObject* parent = nullptr);

    EngineBridge* bridge() const { return bridge_; }
    // Replaces the loaded model; jobs already queued keep the one they were made with.
    void setGenerator(std::shared_ptr<Generator> generator);
    std::shared_ptr<Generator> generator() const { return generator_; }

    // Queues a generation; returns its job id, or 0 (with a message()) when no model is loaded.
    int64_t generate(const GenerationSettings& settings, int priority = 0);
    // Queues a child of `parent_id` that keeps the first `step` decode steps and takes `token` at
    // step `step`. Returns 0 when the parent or the step is unknown. Branching from a later picture
    // of a batch (`image` > 0) makes a single-picture child from that picture's decode steps.
    int64_t branch(int64_t parent_id, int step, int32_t token, int image = 0);
    void cancel(int64_t id);
    void cancelCurrent();

    // Adds a finished generation from elsewhere (a project's history) so it can be replayed; it gets
    // a local id of its own (returned), keeping its source id in stored_id.
    int64_t adopt(Generation generation);
    // The local generation recorded under `stored_id` in the history source (0 = none).
    int64_t findStored(int64_t stored_id) const;
    void setStoredId(int64_t id, int64_t stored_id);
    const Generation* generation(int64_t id) const;
    std::vector<int64_t> ids() const;
    int64_t current() const { return current_; }
    void setCurrent(int64_t id);
    // Gives a video generation its clip (VideoController does, when the job's last frame arrives). A
    // video job's finished() waits for its clip, so that the history records the whole video.
    void attachVideo(int64_t id, std::shared_ptr<const VideoClip> clip);
    // Asks the generator to decode `tokens` on a worker; `done` runs on the GUI thread (not at all
    // when this controller is gone first).
    void decodeAsync(std::vector<int32_t> tokens, std::function<void(QImage)> done);

signals:
    void generationAdded(qint64 id);
    void currentChanged(qint64 id);
    void tokenArrived(qint64 id, int position); // the batch's first picture
    void imageChanged(qint64 id);
    // Every picture of a batch, the first included.
    void batchTokenArrived(qint64 id, int image, int position);
    void batchImageChanged(qint64 id, int image);
    void stateChanged(qint64 id);
    void finished(qint64 id); // finished, failed or cancelled: the record is complete
    void generatorChanged();
    void message(const QString& text);

private:
    void onToken(const TokenSampled& e);
    void onPreview(const PreviewReady& e);
    void onState(const JobStateChanged& e);
    int64_t submit(Generation g, GenerationRequest request, int priority);

    EngineBridge* bridge_;
    std::shared_ptr<Generator> generator_;
    std::map<int64_t, Generation> generations_;
    int64_t current_ = 0;
    int64_t next_adopted_ = int64_t(1) << 40; // far from the scheduler's ids
    std::map<int64_t, bool> finish_waiting_for_clip_; // finished video jobs whose clip has not come yet
};

QImage toQImage(const ImageRgb8& image);

} // namespace tessera::widgets
