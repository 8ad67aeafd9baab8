#include "tessera/widgets/scene_controller.h"

#include "tessera/renderers/gltf.h"
#include "tessera/renderers/renderer.h"

#include <QMetaObject>
#include <QUndoCommand>
#include <algorithm>
#include <cstring>
#include <fstream>

namespace tessera::widgets {

namespace r = tessera::renderers;

// Contexts of the queued calls below: the controller itself. The destructor joins the worker before the
// controller goes, and Qt drops queued calls whose context object is deleted.

// One object replaced: undo puts the old one back.
class EditObjectCommand : public QUndoCommand {
public:
    EditObjectCommand(SceneController& c, int index, r::SceneObject before, r::SceneObject after)
        : c_(c), index_(index), before_(before), after_(after) {
        setText(QString("edit object %1").arg(index + 1));
    }
    void redo() override { c_.applyObject(index_, after_); }
    void undo() override { c_.applyObject(index_, before_); }

private:
    SceneController& c_;
    int index_;
    r::SceneObject before_, after_;
};

QString sceneCaption(const r::Scene& scene) {
    // Identical descriptions are counted, in the order they first appear.
    std::vector<std::pair<QString, int>> groups;
    for (const r::SceneObject& o : scene.objects) {
        const QString words = QString("%1 %2 %3 %4")
                                  .arg(o.size < 0.5 ? "small" : "large")
                                  .arg(QString::fromStdString(std::string(r::colorName(o.color))))
                                  .arg(QString::fromStdString(std::string(r::materialName(o.material))))
                                  .arg(QString::fromStdString(std::string(r::shapeName(o.shape))));
        auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == words; });
        if (it == groups.end())
            groups.emplace_back(words, 1);
        else
            ++it->second;
    }
    if (groups.empty()) return QStringLiteral("a photo of an empty grey floor");
    static const char* kCounts[] = {"", "a", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
    QStringList parts;
    for (const auto& [words, n] : groups) {
        const QString count = n < 11 ? QString(kCounts[n]) : QString::number(n);
        // English plurals of the three shapes: cubes, spheres, cylinders.
        parts << QString("%1 %2%3").arg(count, words, n > 1 ? "s" : "");
    }
    const QString last = parts.takeLast();
    return QString("a photo of %1 on a grey floor")
        .arg(parts.isEmpty() ? last : parts.join(", ") + " and " + last);
}

SceneController::SceneController(QString renderer, QObject* parent)
    : QObject(parent), renderer_name_(std::move(renderer)) {
    worker_ = std::thread([this] { workerLoop(); });
}

SceneController::~SceneController() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    worker_.join();
}

void SceneController::setScene(const r::Scene& scene) {
    undo_.clear();
    scene_ = scene;
    Q_EMIT sceneChanged();
    requestRender();
}

void SceneController::setReference(const r::Scene& reference, const QString& label) {
    reference_ = reference;
    reference_label_ = label;
    Q_EMIT referenceChanged();
}

void SceneController::clearReference() {
    reference_.reset();
    reference_label_.clear();
    Q_EMIT referenceChanged();
}

r::SceneDifference SceneController::difference() const {
    return reference_ ? r::diffScenes(scene_, *reference_) : r::SceneDifference{};
}

bool SceneController::editObject(int index, const r::SceneObject& object) {
    if (index < 0 || index >= static_cast<int>(scene_.objects.size())) return false;
    const r::SceneObject before = scene_.objects[static_cast<size_t>(index)];
    if (before == object) return true;
    undo_.push(new EditObjectCommand(*this, index, before, object)); // runs redo()
    return true;
}

void SceneController::applyObject(int index, const r::SceneObject& object) {
    scene_.objects[static_cast<size_t>(index)] = object;
    Q_EMIT sceneChanged();
    requestRender();
}

void SceneController::setRenderSize(int width, int height) {
    width_ = std::clamp(width, 1, r::kMaxImageSide);
    height_ = std::clamp(height, 1, r::kMaxImageSide);
    requestRender();
}

void SceneController::requestRender() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_render_ = RenderJob{scene_, width_, height_, ++version_};
    }
    wake_.notify_all();
}

void SceneController::post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    wake_.notify_all();
}

void SceneController::exportJson(const QString& path) {
    const std::string text = r::writeSceneJson(scene_), file = path.toStdString();
    post([this, text, file] {
        std::ofstream out(file, std::ios::binary);
        const bool ok = static_cast<bool>(out << text) && static_cast<bool>(out.flush());
        const QString msg = ok ? QString("wrote %1").arg(QString::fromStdString(file))
                               : QString("cannot write %1").arg(QString::fromStdString(file));
        QMetaObject::invokeMethod(
            this, [this, ok, msg] { Q_EMIT exportDone(ok, msg); }, Qt::QueuedConnection);
    });
}

void SceneController::exportGltf(const QString& path) {
    const r::Scene scene = scene_;
    const std::string file = path.toStdString();
    post([this, scene, file] {
        const r::GltfResult g = r::writeSceneGltf(scene);
        bool ok = g.ok;
        QString msg = QString::fromStdString(g.error);
        if (ok) {
            std::ofstream out(file, std::ios::binary);
            ok = static_cast<bool>(out << g.json) && static_cast<bool>(out.flush());
            msg = ok ? QString("wrote %1").arg(QString::fromStdString(file))
                     : QString("cannot write %1").arg(QString::fromStdString(file));
        }
        QMetaObject::invokeMethod(
            this, [this, ok, msg] { Q_EMIT exportDone(ok, msg); }, Qt::QueuedConnection);
    });
}

void SceneController::workerLoop() {
    std::unique_ptr<r::Renderer> renderer;
    QString description;
    for (;;) {
        std::optional<RenderJob> job;
        std::vector<std::function<void()>> tasks;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || pending_render_ || !tasks_.empty(); });
            if (stop_) return;
            job.swap(pending_render_);
            tasks.swap(tasks_);
        }
        for (auto& t : tasks) t();
        if (!job) continue;
        if (!renderer) {
            std::string no_vulkan;
            auto created = r::createRendererOrNull(renderer_name_.toStdString(), no_vulkan);
            if (!no_vulkan.empty())
                description = QString("null renderer (no Vulkan: %1)").arg(QString::fromStdString(no_vulkan));
            if (!created.renderer) {
                const QString msg = QString::fromStdString(created.error);
                QMetaObject::invokeMethod(
                    this, [this, msg] { Q_EMIT renderFailed(msg); }, Qt::QueuedConnection);
                continue;
            }
            renderer = std::move(created.renderer);
            if (description.isEmpty())
                description = QString("%1 on %2")
                                  .arg(QString::fromStdString(std::string(renderer->name())),
                                       QString::fromStdString(renderer->device()));
        }
        r::RenderResult frame = renderer->render(job->scene, job->width, job->height);
        if (!frame.ok) {
            const QString msg = QString::fromStdString(frame.error);
            QMetaObject::invokeMethod(
                this, [this, msg] { Q_EMIT renderFailed(msg); }, Qt::QueuedConnection);
            continue;
        }
        QImage image(frame.image.width, frame.image.height, QImage::Format_RGB888);
        for (int y = 0; y < frame.image.height; ++y)
            std::memcpy(image.scanLine(y),
                        frame.image.rgb.data() +
                            static_cast<size_t>(y) * static_cast<size_t>(frame.image.width) * 3,
                        static_cast<size_t>(frame.image.width) * 3);
        const quint64 version = job->version;
        QMetaObject::invokeMethod(
            this,
            [this, image, version, description] {
                renderer_description_ = description;
                rendered_version_ = version;
                Q_EMIT renderReady(image, version);
            },
            Qt::QueuedConnection);
    }
}

} // namespace tessera::widgets
