// Model manager: add a checkpoint folder, detect its family and size, estimate the memory it needs,
// load and unload it. ModelManagerController does the work (loading runs as a scheduler job);
// ModelManagerPanel shows the list.
//
// Thread affinity: GUI thread only, except probeModel(), which reads config.json and the safetensors
// headers (a few KiB each, never the weights) and may run on any thread; the controller runs it on
// the global thread pool.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/widgets/generator.h"

#include <QObject>
#include <QString>
#include <QWidget>
#include <functional>
#include <memory>
#include <vector>

class QLabel;
class QListWidget;
class QPushButton;
class QTextBrowser;

namespace tessera::widgets {

class StudioController;

struct ModelProbe {
    QString folder;
    QString family;       // model_type, e.g. "janus", "llama"
    QString architecture; // architectures[0]
    int64_t parameters = 0;
    int64_t weight_bytes = 0;   // as stored
    int64_t kv_cache_bytes = 0; // one image with CFG (two rows) at the model's image grid
    int image_tokens = 0;
    // Token-Shuffle (config.json's "token_shuffle" object): the window side s and the image side in
    // tokens; the decoder steps (grid/s)², not image_tokens, size the KV cache. 0 for other families.
    int window = 0, grid = 0;
    // DiCoDe: keyframes per prompt and the frame size. 0 for other families.
    int max_keyframes = 0, frame_width = 0, frame_height = 0;
    QString error; // non-empty: the folder is not a usable checkpoint, and why
    // A model plus an EAR delta (docs/EAR.md) is a model of its own: the delta file and its sha256 when
    // the entry was added (loading refuses a file that is gone or changed since). Empty: the folder alone.
    QString overlay, overlay_sha256;
    // The folder's model card (MODEL.md, Markdown; at most kMaxCardBytes read), e.g. the data, training
    // command and figures of a built-in Shapes model. Empty: no card.
    QString card;
    static constexpr qint64 kMaxCardBytes = 16 * 1024;
    // The card's first paragraph after its title: what the model is, in a line or two.
    QString cardSummary() const;
    int64_t estimatedBytes() const { return weight_bytes + kv_cache_bytes; }
    QString summary() const;
    // "<folder name>" or "<folder name> + <delta name>".
    QString displayName() const;
};

ModelProbe probeModel(const QString& folder);

class ModelManagerController : public QObject {
    Q_OBJECT
public:
    // Builds a Generator from a folder; runs on a scheduler worker.
    using Loader = std::function<Expected<std::shared_ptr<Generator>>(const std::string& folder)>;
    ModelManagerController(StudioController* studio, Loader loader, QObject* parent = nullptr);

    const std::vector<ModelProbe>& models() const { return models_; }
    // Probes and adds a folder on the calling thread; returns false (with a message) when it is not
    // a checkpoint. For tests and tools: the studio uses addFolderAsync.
    bool addFolder(const QString& folder);
    // The same with the probe on a pool thread; modelsChanged() or message() follow.
    void addFolderAsync(const QString& folder);
    // Asynchronous (an unknown folder is probed first, off the GUI thread): loaded() or loadFailed().
    void load(const QString& folder);
    // The same for the entry "<model> + <delta>" (added with addErasedModel; an empty overlay is load()).
    void loadErased(const QString& folder, const QString& overlay);
    void unload();
    QString loadedFolder() const { return loaded_; }
    QString loadedOverlay() const { return loaded_overlay_; }

    // Adds "<model> + <delta>": the Janus folder with an EAR delta applied. Probes the folder and hashes
    // the delta off the GUI thread; modelsChanged() or message() (naming the missing file, or a folder
    // that is not a Janus checkpoint) follow.
    void addErasedModel(const QString& folder, const QString& delta);
    // Builds the generator of a model plus delta; runs on a scheduler worker. The default loads Janus
    // on the "auto" backend (janus_generator.h).
    using OverlayLoader = std::function<Expected<std::shared_ptr<Generator>>(
        const std::string& folder, const std::string& overlay, const std::string& sha256)>;
    void setOverlayLoader(OverlayLoader loader) { overlay_loader_ = std::move(loader); }
    bool loading() const { return loading_job_ != 0 || probes_running_ > 0; }

signals:
    void modelsChanged();
    void loaded(const QString& folder);
    void loadFailed(const QString& folder, const QString& message);
    void unloaded();
    void message(const QString& text);

private:
    StudioController* studio_;
    Loader loader_;
    std::vector<ModelProbe> models_;
    QString loaded_;
    void probeAsync(const QString& folder, std::function<void(const ModelProbe&)> then);
    bool adopt(const ModelProbe& m);
    void startLoad(const QString& folder, const QString& overlay = {});
    OverlayLoader overlay_loader_;
    QString loaded_overlay_;

    int64_t loading_job_ = 0;
    int64_t load_request_ = 0;
    int probes_running_ = 0;
};

class ModelManagerPanel : public QWidget {
    Q_OBJECT
public:
    ModelManagerPanel(ModelManagerController* controller, QWidget* parent = nullptr);
    QListWidget* list() const { return list_; }
    // The selected model's card (hidden when it has none).
    QTextBrowser* card() const { return card_; }
    void refresh();

private:
    QString selectedFolder() const;
    QString selectedOverlay() const;
    ModelManagerController* controller_;
    QListWidget* list_;
    QLabel* details_;
    QTextBrowser* card_;
    QPushButton* add_;
    QPushButton* add_erased_;
    QPushButton* load_;
    QPushButton* unload_;
};

} // namespace tessera::widgets
