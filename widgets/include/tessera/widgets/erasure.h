// Concept erasure (EAR) in the studio: the job, its live loss curve, the prompt-pair editor and the
// original-vs-erased compare view. The method is docs/EAR.md; the engine side tessera/engine/train_ear.h.
//
// ErasureController submits one job to the EngineBridge's scheduler (so it sits in the Queue dock with
// the generations): the job loads the model, trains (resuming from <out>.ckpt when present), writes the
// delta, then generates the compare prompt with the original and the erased model on the same seeds,
// and writes <out>.erasure.json (pairs, settings, loss curve, window decisions, compare tokens).
// Threads: construct and call from the GUI thread; everything heavy runs on the scheduler's worker;
// results come back through queued calls, and nothing on the GUI thread waits for the job. cancel()
// only raises the job's flag. Failure modes: load, training and file errors end the job as Failed and
// arrive as finished(false, message).
//
// With a project (setProject, or ErasureRequest::project), the finished job also stores itself there on
// its worker, through the code `tessera-cli erase --project` uses (tessera/projects/erasure_store.h):
// a finished "erase" job with its params and loss curve, the delta as an asset, the compare pictures
// as assets; a failure to store fails the job. refreshStored() lists the project's finished erasures
// and openStored() reads one back (both on a pool thread) into curve() and compares() without training.
#pragma once

#include "tessera/engine/events.h"
#include "tessera/engine/train_ear.h"
#include "tessera/projects/erasure_store.h"

#include <QDialog>
#include <QImage>
#include <QObject>
#include <QString>
#include <QWidget>
#include <cstdint>
#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace tessera::widgets {

class EngineBridge;

struct ErasureRequest {
    QString model_dir;
    train::EarPairs pairs;
    train::EarOptions options; // checkpoint_path is set from out_path
    QString out_path;          // the delta (.safetensors); the record goes beside it
    std::vector<uint64_t> compare_seeds{1, 2, 3};
    QString compare_prompt; // empty: the first pair's unsafe prompt
    QString project;        // store the finished erasure in this project folder (empty: the controller's)
};

// One seed of the compare view: the same request through the original and the erased model.
struct ErasureCompare {
    uint64_t seed = 0;
    QImage original, erased;
    std::vector<int32_t> original_tokens, erased_tokens;
    int grid_w = 0, grid_h = 0;
};

class ErasureController : public QObject {
    Q_OBJECT
public:
    ErasureController(EngineBridge* bridge, QObject* parent = nullptr);
    // Submits the job (one at a time: a job in progress is cancelled first). Returns its id.
    qint64 start(const ErasureRequest& request);
    void cancel();
    qint64 jobId() const { return job_; }
    bool running() const { return running_; }
    const ErasureRequest& request() const { return request_; }
    const std::vector<TrainingProgress>& curve() const { return curve_; }
    const std::vector<ErasureCompare>& compares() const { return compares_; }

    // The project erasures are stored in and listed from ("" = none); setting it refreshes the list.
    void setProject(const QString& folder);
    QString project() const { return project_; }
    // Lists the project's finished erasures off the GUI thread; storedListChanged() follows.
    void refreshStored();
    const std::vector<projects::ErasureSummary>& storedErasures() const { return stored_; }
    // Reads a stored erasure (its job id) off the GUI thread into curve(), compares() and request();
    // storedOpened() or message() follow. Refused while a job runs.
    void openStored(qint64 job);
    qint64 openedStored() const { return opened_; }

Q_SIGNALS:
    void started(qint64 job);
    void progress(const tessera::TrainingProgress& p);
    void comparesReady();
    void finished(bool ok, const QString& message);
    void stored(const QString& project, qint64 project_job);
    void storedListChanged();
    void storedOpened(qint64 project_job);
    void message(const QString& text);

private:
    void onState(const tessera::JobStateChanged& e);
    EngineBridge* bridge_;
    ErasureRequest request_;
    qint64 job_ = 0;
    bool running_ = false;
    std::vector<TrainingProgress> curve_;
    std::vector<ErasureCompare> compares_;
    QString project_;
    std::vector<projects::ErasureSummary> stored_;
    qint64 opened_ = 0;
    qint64 list_request_ = 0, open_request_ = 0;
};

// The loss curve, step by step, with a marker where each window closed: a filled green triangle for
// an update, a hollow red square for a skipped window (loss at or under τ).
class ErasureCurve : public QWidget {
    Q_OBJECT
public:
    explicit ErasureCurve(QWidget* parent = nullptr);
    void clear();
    void add(const TrainingProgress& p);
    int updates() const { return updates_; }
    int skips() const { return skips_; }
    QSize sizeHint() const override { return {520, 240}; }

protected:
    void paintEvent(QPaintEvent*) override;

private:
    std::vector<TrainingProgress> points_;
    int updates_ = 0, skips_ = 0;
};

// Per seed: original | erased | token difference map (cells whose token changed in orange).
class ErasureCompareView : public QWidget {
    Q_OBJECT
public:
    explicit ErasureCompareView(QWidget* parent = nullptr);
    void setCompares(std::vector<ErasureCompare> compares, const QString& prompt);
    QSize sizeHint() const override { return {520, 420}; }

protected:
    void paintEvent(QPaintEvent*) override;

private:
    std::vector<ErasureCompare> compares_;
    QString prompt_;
};

// Model, prompt pairs (a table: unsafe / safe-neutral / safe-target), settings and output path.
class ErasureDialog : public QDialog {
    Q_OBJECT
public:
    ErasureDialog(const QString& model_dir, const QString& out_path, QWidget* parent = nullptr);
    // Fills the table from a pairs file's contents.
    void setPairs(const train::EarPairs& pairs);
    // The request as edited; an error naming the empty cell or missing field when incomplete.
    Expected<ErasureRequest> request() const;
    QTableWidget* table() const { return table_; }

private:
    void validateAndAccept();
    QLineEdit *model_, *out_, *concept_;
    QTableWidget* table_;
    QSpinBox *steps_, *window_, *layers_;
    QDoubleSpinBox *threshold_, *eta_, *lr_;
    QComboBox* mode_;
    QLabel* error_;
};

// The Erasure dock: status line, cancel, live curve and compare view, fed by a controller.
class ErasurePanel : public QWidget {
    Q_OBJECT
public:
    ErasurePanel(ErasureController* controller, QWidget* parent = nullptr);
    ErasureCurve* curve() const { return curve_; }
    ErasureCompareView* compareView() const { return compare_; }
    QLabel* status() const { return status_; }
    // The project's stored erasures; choosing one reopens its curve and compare view.
    QComboBox* storedList() const { return stored_; }

private:
    void showStoredList();
    ErasureController* controller_;
    QLabel* status_;
    QComboBox* stored_;
    QPushButton* cancel_;
    ErasureCurve* curve_;
    ErasureCompareView* compare_;
};

} // namespace tessera::widgets
