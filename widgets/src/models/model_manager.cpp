#include "tessera/widgets/model_manager.h"

#include "tessera/widgets/dicode_generator.h"
#include "tessera/widgets/janus_generator.h"

#include "tessera/widgets/perf_strip.h"
#include "tessera/widgets/studio_controller.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPointer>
#include <QPushButton>
#include <QTextBrowser>
#include <QThreadPool>
#include <QVBoxLayout>
#include <cmath>

namespace tessera::widgets {

namespace {

// Counts parameters from a safetensors header (8-byte little-endian length, then JSON).
bool countSafetensors(const QString& path, int64_t& parameters, QString& error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        error = QObject::tr("cannot read %1: %2").arg(path, f.errorString());
        return false;
    }
    const QByteArray len = f.read(8);
    if (len.size() != 8) {
        error = QObject::tr("%1 is too short to be a safetensors file").arg(path);
        return false;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(len[i]);
    if (n == 0 || n > 100u * 1024 * 1024 || n > static_cast<uint64_t>(f.size())) {
        error = QObject::tr("%1 has a malformed header length (%2)").arg(path).arg(n);
        return false;
    }
    const QJsonDocument doc = QJsonDocument::fromJson(f.read(static_cast<qint64>(n)));
    if (!doc.isObject()) {
        error = QObject::tr("%1 has a header that is not JSON").arg(path);
        return false;
    }
    const QJsonObject o = doc.object();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        int64_t count = 1;
        for (const auto& d : it.value().toObject().value("shape").toArray())
            count *= std::max<int64_t>(0, d.toInteger());
        parameters += count;
    }
    return true;
}

} // namespace

QString ModelProbe::displayName() const {
    const QString base = QFileInfo(folder).fileName();
    return overlay.isEmpty() ? base : base + " + " + QFileInfo(overlay).completeBaseName();
}

QString ModelProbe::summary() const {
    if (!error.isEmpty()) return QObject::tr("%1 — not usable: %2").arg(displayName(), error);
    if (!overlay.isEmpty())
        return QObject::tr("%1 — %2 (%3) with the EAR delta %4 (sha256 %5…), ~%6 to run")
            .arg(displayName(), family, architecture, QFileInfo(overlay).fileName(), overlay_sha256.left(10),
                 formatBytes(static_cast<size_t>(estimatedBytes())));
    const double p = static_cast<double>(parameters);
    const QString params = p >= 1e9   ? QString::number(p / 1e9, 'f', 1) + "B"
                           : p >= 1e6 ? QString::number(p / 1e6, 'f', 1) + "M"
                                      : QString::number(p / 1e3, 'f', 1) + "K";
    if (family == "dicode")
        return QObject::tr("%1 — dicode (%2), up to %3 keyframes, %4×%5 px frames, %6 parameters, ~%7 to run")
            .arg(QFileInfo(folder).fileName(), architecture)
            .arg(max_keyframes)
            .arg(frame_width)
            .arg(frame_height)
            .arg(params, formatBytes(static_cast<size_t>(estimatedBytes())));
    if (window > 0)
        return QObject::tr("%1 — %2 (%3), window %4×%4, %5×%5 px, %6 parameters, ~%7 to run")
            .arg(QFileInfo(folder).fileName(), family, architecture)
            .arg(window)
            .arg(grid * 16)
            .arg(params, formatBytes(static_cast<size_t>(estimatedBytes())));
    return QObject::tr("%1 — %2 (%3), %4 parameters, ~%5 to run")
        .arg(QFileInfo(folder).fileName(), family, architecture, params,
             formatBytes(static_cast<size_t>(estimatedBytes())));
}

QString ModelProbe::cardSummary() const {
    for (const QString& paragraph : card.split("\n\n", Qt::SkipEmptyParts)) {
        const QString text = paragraph.trimmed();
        if (!text.isEmpty() && !text.startsWith('#')) return text;
    }
    return {};
}

ModelProbe probeModel(const QString& folder) {
    ModelProbe m;
    m.folder = QDir(folder).absolutePath();
    if (QFile card(QDir(folder).filePath("MODEL.md")); card.open(QIODevice::ReadOnly))
        m.card = QString::fromUtf8(card.read(ModelProbe::kMaxCardBytes));
    QFile cfg(QDir(folder).filePath("config.json"));
    if (!cfg.open(QIODevice::ReadOnly)) {
        m.error = QObject::tr("no config.json in %1").arg(m.folder);
        return m;
    }
    QJsonParseError perr;
    const QJsonDocument doc = QJsonDocument::fromJson(cfg.readAll(), &perr);
    if (!doc.isObject()) {
        m.error = QObject::tr("config.json is not valid JSON (%1)").arg(perr.errorString());
        return m;
    }
    const QJsonObject c = doc.object();
    // DiCoDe (docs/DICODE.md): the official module configs, no model_type.
    const DicodeProbe dicode = probeDicode(folder.toStdString());
    if (dicode.dicode) {
        if (!dicode.error.isEmpty()) {
            m.error = dicode.error;
            return m;
        }
        m.family = "dicode";
        m.architecture = "GPT-2 + video diffusion";
        m.max_keyframes = dicode.max_keyframes;
        m.frame_width = dicode.width;
        m.frame_height = dicode.height;
    } else {
        m.family = c.value("model_type").toString();
    }
    m.architecture = c.value("architectures").toArray().at(0).toString();
    if (m.family.isEmpty() && c.contains("language_config")) m.family = "janus"; // original DeepSeek layout
    if (m.family.isEmpty()) {
        m.error = QObject::tr("config.json names no model_type");
        return m;
    }
    // Token-Shuffle (docs/TOKEN_SHUFFLE.md): a Llama config with a "token_shuffle" object and the VQ
    // decoder in a folder of its own.
    const QJsonObject ts = c.value("token_shuffle").toObject();
    QStringList folders = {folder};
    if (!ts.isEmpty()) {
        m.family = "token-shuffle";
        m.window = ts.value("window").toInt(2);
        m.grid = ts.value("grid").toInt(64);
        if (m.window != 1 && m.window != 2 && m.window != 4) {
            m.error = QObject::tr("token_shuffle.window must be 1, 2 or 4, not %1").arg(m.window);
            return m;
        }
        if (m.grid < m.window || m.grid % m.window != 0) {
            m.error = QObject::tr("token_shuffle.grid (%1) is not a multiple of the window (%2)")
                          .arg(m.grid)
                          .arg(m.window);
            return m;
        }
        const QString vq = ts.value("vq").toString("vq");
        const QFileInfo vq_info(QDir::isAbsolutePath(vq) ? vq : QDir(folder).filePath(vq));
        if (vq_info.isDir()) folders.push_back(vq_info.absoluteFilePath());
    }
    for (const QString& dir : folders) {
        for (const QString& s : QDir(dir).entryList({"*.safetensors"}, QDir::Files)) {
            if (s == "golden.safetensors") continue; // reference outputs shipped next to test checkpoints
            QString err;
            if (!countSafetensors(QDir(dir).filePath(s), m.parameters, err)) {
                m.error = err;
                return m;
            }
            m.weight_bytes += QFileInfo(QDir(dir).filePath(s)).size();
        }
    }
    if (m.parameters == 0) {
        m.error = QObject::tr("no weights (*.safetensors) in %1").arg(m.folder);
        return m;
    }
    // KV cache: keys and values, every layer, f32, two rows (conditional + unconditional for CFG),
    // over a prompt budget plus the image grid.
    QJsonObject t = c.value("text_config").toObject();
    if (t.isEmpty()) t = c.value("language_config").toObject();
    if (t.isEmpty()) t = c;
    const int64_t layers = t.value("num_hidden_layers").toInt(0);
    const int64_t heads = std::max(1, t.value("num_attention_heads").toInt(1));
    const int64_t kv_heads = t.value("num_key_value_heads").toInt(static_cast<int>(heads));
    const int64_t hidden = t.value("hidden_size").toInt(0);
    const int64_t head_dim = t.value("head_dim").toInt(static_cast<int>(hidden / heads));
    m.image_tokens = c.value("vision_config").toObject().value("num_image_tokens").toInt(0);
    if (m.image_tokens == 0 && m.family == "janus") m.image_tokens = 576;
    if (m.window > 0) m.image_tokens = m.grid * m.grid;
    // Token-Shuffle's cache holds one position per window.
    const int64_t positions =
        128 + (m.window > 0 ? int64_t{m.grid / m.window} * (m.grid / m.window) : m.image_tokens);
    m.kv_cache_bytes =
        dicode.dicode ? dicode.kv_cache_bytes : 2 * layers * kv_heads * head_dim * positions * 4 * 2;
    return m;
}

ModelManagerController::ModelManagerController(StudioController* studio, Loader loader, QObject* parent)
    : QObject(parent), studio_(studio), loader_(std::move(loader)) {
    overlay_loader_ = [](const std::string& folder, const std::string& overlay, const std::string& sha256) {
        return loadJanusGenerator(folder, "auto", overlay, sha256);
    };
}

bool ModelManagerController::addFolder(const QString& folder) { return adopt(probeModel(folder)); }

void ModelManagerController::addFolderAsync(const QString& folder) {
    probeAsync(folder, [this](const ModelProbe& m) { adopt(m); });
}

void ModelManagerController::probeAsync(const QString& folder, std::function<void(const ModelProbe&)> then) {
    QPointer<ModelManagerController> self(this);
    ++probes_running_;
    QThreadPool::globalInstance()->start([folder, self, then = std::move(then)] {
        ModelProbe m = probeModel(folder);
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, m, then] {
                if (!self) return;
                --self->probes_running_;
                then(m);
            },
            Qt::QueuedConnection);
    });
}

bool ModelManagerController::adopt(const ModelProbe& m) {
    if (!m.error.isEmpty()) {
        Q_EMIT message(m.summary());
        return false;
    }
    auto it = std::find_if(models_.begin(), models_.end(), [&](const ModelProbe& p) {
        return p.folder == m.folder && p.overlay == m.overlay;
    });
    if (it != models_.end())
        *it = m;
    else
        models_.push_back(m);
    Q_EMIT modelsChanged();
    return true;
}

void ModelManagerController::loadErased(const QString& folder, const QString& overlay) {
    if (overlay.isEmpty()) return load(folder);
    if (loading_job_) studio_->bridge()->scheduler().cancel(loading_job_);
    ++load_request_;
    startLoad(folder, overlay);
}

void ModelManagerController::load(const QString& folder) {
    if (!loader_) return Q_EMIT loadFailed(folder, tr("This build cannot load models."));
    if (loading_job_) studio_->bridge()->scheduler().cancel(loading_job_);
    const int64_t request = ++load_request_;
    if (std::any_of(models_.begin(), models_.end(),
                    [&](const ModelProbe& p) { return p.folder == QDir(folder).absolutePath(); }))
        return startLoad(folder);
    // An unknown folder is probed first, off the GUI thread (it reads every shard's header).
    probeAsync(folder, [this, folder, request](const ModelProbe& m) {
        if (request != load_request_) return; // a later load() superseded this one
        if (!adopt(m)) return Q_EMIT loadFailed(folder, tr("%1 is not a usable checkpoint").arg(folder));
        startLoad(folder);
    });
}

void ModelManagerController::startLoad(const QString& folder, const QString& overlay) {
    const QString abs = QDir(folder).absolutePath();
    QPointer<ModelManagerController> self(this);
    EngineBridge* bridge = studio_->bridge();
    JobSpec spec;
    spec.kind = "load";
    ModelProbe entry;
    entry.folder = abs;
    entry.overlay = overlay;
    for (const ModelProbe& m : models_)
        if (m.folder == abs && m.overlay == overlay) entry = m; // the delta's hash when it was added
    spec.label = tr("load %1").arg(entry.displayName()).toStdString();
    spec.priority = 100; // a model load goes before generations that need it
    auto plain = loader_;
    auto overlaid = overlay_loader_;
    Loader loader = overlay.isEmpty() ? plain : Loader([overlaid, entry](const std::string& dir) {
        return overlaid(dir, entry.overlay.toStdString(), entry.overlay_sha256.toStdString());
    });
    loading_job_ =
        bridge->scheduler().submit(spec, [loader, abs, overlay, self, bridge](JobContext&) -> Status {
            auto g = loader(abs.toStdString());
            Status st = g ? Status() : g.status();
            std::shared_ptr<Generator> gen = g ? *g : nullptr;
            QString err = QString::fromStdString(st.message());
            // The bridge outlives its jobs; the QPointer is read on the GUI thread only.
            QMetaObject::invokeMethod(
                bridge,
                [self, gen, abs, overlay, err] {
                    if (!self) return;
                    self->loading_job_ = 0;
                    if (!gen) return Q_EMIT self->loadFailed(abs, err);
                    self->loaded_ = abs;
                    self->loaded_overlay_ = overlay;
                    self->studio_->setGenerator(gen);
                    Q_EMIT self->loaded(abs);
                    Q_EMIT self->modelsChanged();
                },
                Qt::QueuedConnection);
            return st;
        });
    Q_EMIT message(tr("Loading %1…").arg(entry.displayName()));
}

void ModelManagerController::addErasedModel(const QString& folder, const QString& delta) {
    const QString abs_delta = QFileInfo(delta).absoluteFilePath();
    probeAsync(folder, [this, abs_delta](const ModelProbe& base) {
        if (!base.error.isEmpty()) return Q_EMIT message(base.summary());
        if (base.family != "janus")
            return Q_EMIT message(
                tr("An EAR delta applies to a Janus model; %1 is %2").arg(base.displayName(), base.family));
        // Hashing the delta reads the whole file: a pool thread, like the probe.
        QPointer<ModelManagerController> self(this);
        ++probes_running_;
        QThreadPool::globalInstance()->start([self, base, abs_delta] {
            auto sha = checkOverlayFile(abs_delta.toStdString(), {});
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [self, base, abs_delta, sha] {
                    if (!self) return;
                    --self->probes_running_;
                    if (!sha) return Q_EMIT self->message(QString::fromStdString(sha.error()));
                    ModelProbe m = base;
                    m.overlay = abs_delta;
                    m.overlay_sha256 = QString::fromStdString(*sha);
                    self->adopt(m);
                },
                Qt::QueuedConnection);
        });
    });
}

void ModelManagerController::unload() {
    if (loaded_.isEmpty()) return;
    studio_->setGenerator(nullptr); // queued jobs keep their own reference until they finish
    loaded_.clear();
    loaded_overlay_.clear();
    Q_EMIT unloaded();
    Q_EMIT modelsChanged();
}

ModelManagerPanel::ModelManagerPanel(ModelManagerController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
    list_ = new QListWidget(this);
    list_->setObjectName("modelList");
    list_->setWordWrap(true);
    details_ = new QLabel(this);
    details_->setWordWrap(true);
    add_ = new QPushButton(tr("Add folder…"), this);
    load_ = new QPushButton(tr("Load"), this);
    unload_ = new QPushButton(tr("Unload"), this);
    add_erased_ = new QPushButton(tr("Add erased model…"), this);
    add_erased_->setToolTip(
        tr("The selected Janus model plus an EAR delta (safetensors) as a model of its own"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(add_);
    buttons->addWidget(add_erased_);
    buttons->addWidget(load_);
    buttons->addWidget(unload_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(list_, 1);
    layout->addWidget(details_);
    layout->addLayout(buttons);
    connect(add_, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Checkpoint folder"));
        if (!dir.isEmpty()) controller_->addFolderAsync(dir);
    });
    connect(load_, &QPushButton::clicked, this, [this] {
        if (!selectedFolder().isEmpty()) controller_->loadErased(selectedFolder(), selectedOverlay());
    });
    connect(add_erased_, &QPushButton::clicked, this, [this] {
        if (selectedFolder().isEmpty())
            return details_->setText(
                tr("Select the Janus model the delta was trained from, then add the delta."));
        const QString delta =
            QFileDialog::getOpenFileName(this, tr("EAR delta"), {}, tr("Safetensors (*.safetensors)"));
        if (!delta.isEmpty()) controller_->addErasedModel(selectedFolder(), delta);
    });
    connect(unload_, &QPushButton::clicked, controller_, &ModelManagerController::unload);
    // A selected model with a card shows it (Markdown: data, training command, figures).
    card_ = new QTextBrowser(this);
    card_->setObjectName("modelCard");
    card_->setVisible(false);
    layout->insertWidget(1, card_, 1);
    connect(list_, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
        QString card;
        if (item)
            for (const ModelProbe& m : controller_->models())
                if (m.folder == item->data(Qt::UserRole).toString() && m.overlay.isEmpty()) card = m.card;
        card_->setMarkdown(card);
        card_->setVisible(!card.isEmpty());
    });
    connect(controller_, &ModelManagerController::modelsChanged, this, &ModelManagerPanel::refresh);
    connect(controller_, &ModelManagerController::message, details_, &QLabel::setText);
    connect(
        controller_, &ModelManagerController::loadFailed, this,
        [this](const QString&, const QString& why) { details_->setText(tr("Load failed: %1").arg(why)); });
    refresh();
}

QString ModelManagerPanel::selectedFolder() const {
    auto* item = list_->currentItem();
    return item ? item->data(Qt::UserRole).toString() : QString();
}

QString ModelManagerPanel::selectedOverlay() const {
    auto* item = list_->currentItem();
    return item ? item->data(Qt::UserRole + 1).toString() : QString();
}

void ModelManagerPanel::refresh() {
    const QString keep = selectedFolder(), keep_overlay = selectedOverlay();
    list_->clear();
    for (const ModelProbe& m : controller_->models()) {
        const bool loaded =
            m.folder == controller_->loadedFolder() && m.overlay == controller_->loadedOverlay();
        auto* item =
            new QListWidgetItem((loaded ? QStringLiteral("● ") : QStringLiteral("○ ")) + m.summary(), list_);
        item->setData(Qt::UserRole, m.folder);
        item->setData(Qt::UserRole + 1, m.overlay);
        QString tip = m.overlay.isEmpty() ? m.folder : m.folder + "\n+ " + m.overlay;
        if (!m.cardSummary().isEmpty()) tip += "\n\n" + m.cardSummary();
        item->setToolTip(tip);
        if ((m.folder == keep && m.overlay == keep_overlay) || (keep.isEmpty() && loaded))
            list_->setCurrentItem(item);
    }
    unload_->setEnabled(!controller_->loadedFolder().isEmpty());
    if (!controller_->loadedFolder().isEmpty())
        details_->setText(tr("Loaded: %1")
                              .arg(controller_->loadedOverlay().isEmpty()
                                       ? controller_->loadedFolder()
                                       : controller_->loadedFolder() + " + " + controller_->loadedOverlay()));
}

} // namespace tessera::widgets
