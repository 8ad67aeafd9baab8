#include "tessera/widgets/scene_reconstruction.h"

#include "tessera/engine/backend.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/igllm.h"

#include "tessera/projects/reconstruction_store.h"
#include "tessera/renderers/renderer.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QPointer>
#include <QTemporaryDir>
#include <thread>

namespace tessera::widgets {

namespace r = tessera::renderers;

namespace {

// The render the project keeps (the size the CLI uses by default), drawn on the worker: Vulkan, or the
// null renderer's blank image where no device exists, as in `tessera-cli reconstruct`.
constexpr int kStoredRenderWidth = 480, kStoredRenderHeight = 320;

projects::Result<projects::StoredReconstruction> storeRun(projects::ReconstructionWriter& writer,
                                                          const QString& image_path, const r::Scene& scene,
                                                          const IgllmResult& result) {
    QFile in(image_path);
    if (!in.open(QIODevice::ReadOnly))
        return projects::Status::error("cannot read " + image_path.toStdString() + " again");
    const QByteArray input = in.readAll();
    std::string no_vulkan; // the stored render is then blank
    auto created = r::createRendererOrNull("vulkan", no_vulkan);
    if (!created.renderer) return projects::Status::error("no renderer: " + created.error);
    r::RenderResult frame = created.renderer->render(scene, kStoredRenderWidth, kStoredRenderHeight);
    if (!frame.ok) return projects::Status::error("render: " + frame.error);
    const std::string scene_json = r::writeSceneJson(scene);
    QImage render(frame.image.rgb.data(), frame.image.width, frame.image.height, frame.image.width * 3,
                  QImage::Format_RGB888);
    render = render.copy(); // own the pixels before the frame goes
    render.setText("tessera-scene", QString::fromStdString(scene_json));
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    if (!render.save(&buffer, "PNG")) return projects::Status::error("cannot encode the render as PNG");
    nlohmann::json res = {{"tokens", result.tokens},
                          {"numbers", result.numbers},
                          {"finished", result.finished},
                          {"renderer", std::string(created.renderer->name())},
                          {"device", created.renderer->device()}};
    return writer.finish(std::vector<uint8_t>(input.begin(), input.end()), std::vector<uint8_t>(png.begin(), png.end()),
                         QFileInfo(image_path).completeBaseName().toStdString(), result.program, scene_json,
                         std::move(res));
}

} // namespace

struct SceneReconstruction::Run {
    std::atomic<bool> cancel{false};
};

SceneReconstruction::SceneReconstruction(QObject* parent) : QObject(parent) {}

SceneReconstruction::~SceneReconstruction() {
    if (current_) current_->cancel = true;
}

void SceneReconstruction::cancel() {
    if (current_) current_->cancel = true;
}

void SceneReconstruction::start(const QString& model_dir, const QString& image_path, uint64_t seed,
                                int max_new_tokens) {
    launch(model_dir, image_path, QImage(), seed, max_new_tokens);
}

void SceneReconstruction::startWithImage(const QString& model_dir, const QImage& image, const QString& name,
                                         uint64_t seed, int max_new_tokens) {
    launch(model_dir, name, image, seed, max_new_tokens);
}

// `image_path` is the file to read, or (with a non-null `given`) the name to write `given` under.
void SceneReconstruction::launch(const QString& model_dir, const QString& image_path, const QImage& given,
                                 uint64_t seed, int max_new_tokens) {
    cancel();
    auto run = std::make_shared<Run>();
    current_ = run;
    const uint64_t id = ++run_id_;
    running_ = true;
    program_.clear();
    objects_seen_ = 0;
    QPointer<SceneReconstruction> self(this);
    // Everything below runs on the worker; results come back through queued calls that do nothing
    // once this object is gone or a newer run has started.
    auto post = [self](std::function<void(SceneReconstruction*)> f) {
        QMetaObject::invokeMethod(QCoreApplication::instance(), [self, f = std::move(f)] {
            if (self) f(self.data());
        });
    };
    std::thread([run, id, post, dir = model_dir.toStdString(), path = image_path, given, seed, max_new_tokens,
                 project = project_.toStdString()] {
        projects::ReconstructionWriter writer;
        auto done = [&](bool ok, const QString& message) {
            if (!ok) writer.fail(message.toStdString());
            post([id, ok, message](SceneReconstruction* s) { s->finish(id, ok, message); });
        };
        QTemporaryDir scratch; // holds an in-memory input as a file until the run ends
        QString image_path = path;
        if (!given.isNull()) {
            image_path = scratch.filePath(QFileInfo(path).fileName() + ".png");
            if (!scratch.isValid() || !given.save(image_path, "PNG"))
                return done(false, QStringLiteral("cannot write the image to a temporary file (%1)")
                                       .arg(scratch.isValid() ? image_path : scratch.errorString()));
        }
        QImage input(image_path);
        if (input.isNull()) return done(false, QStringLiteral("cannot read the image %1").arg(image_path));
        const QString truth_json = input.text("tessera-scene");
        if (!truth_json.isEmpty()) {
            const r::SceneParseResult truth = r::parseSceneJson(truth_json.toStdString());
            if (truth.ok)
                post([id, scene = truth.scene](SceneReconstruction* s) {
                    if (id == s->run_id_) Q_EMIT s->groundTruthFound(scene);
                });
        }
        input = input.convertToFormat(QImage::Format_RGB888);
        post([id, input](SceneReconstruction* s) {
            if (id == s->run_id_) Q_EMIT s->inputLoaded(input);
        });
        ImageRgb8 rgb;
        rgb.width = input.width();
        rgb.height = input.height();
        rgb.rgb.resize(static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height) * 3);
        for (int y = 0; y < rgb.height; ++y)
            std::copy_n(input.constScanLine(y), static_cast<size_t>(rgb.width) * 3,
                        rgb.rgb.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(y) * rgb.width * 3));
        auto backend = createBackend("cpu");
        if (!backend) return done(false, QString::fromStdString(backend.status().message()));
        auto pipeline = IgllmPipeline::load(dir, **backend);
        if (!pipeline) return done(false, QString::fromStdString(pipeline.status().message()));
        if (!project.empty()) {
            // The job is recorded before the run, as the CLI does: a failure is remembered too.
            const nlohmann::json params = {{"model", QFileInfo(QString::fromStdString(dir)).absoluteFilePath().toStdString()},
                                           {"image", QFileInfo(image_path).absoluteFilePath().toStdString()},
                                           {"seed", seed},
                                           {"max_tokens", max_new_tokens},
                                           {"float_head", (*pipeline)->info().float_head},
                                           {"studio", true}};
            if (auto s = writer.open(project, params); !s.ok())
                return done(false, QStringLiteral("cannot store in the project: %1").arg(QString::fromStdString(s.message())));
        }
        IgllmRequest request;
        request.image = std::move(rgb);
        request.seed = seed;
        request.max_new_tokens = max_new_tokens;
        request.on_piece = [&](const ProgramPiece& piece) {
            if (piece.text.empty()) return;
            const QString text = QString::fromStdString(piece.text);
            post([id, text](SceneReconstruction* s) { s->appendPiece(id, text); });
        };
        JobContext ctx(0, {}, &run->cancel);
        auto result = (*pipeline)->reconstruct(request, ctx);
        if (!result) return done(false, QString::fromStdString(result.status().message()));
        if (result->cancelled) return done(false, QStringLiteral("cancelled"));
        const r::SceneParseResult parsed = r::parseSceneProgram(result->program);
        if (!parsed.ok)
            return done(false, QStringLiteral("the program does not parse: %1").arg(QString::fromStdString(parsed.error)));
        QString summary = QStringLiteral("%1 object(s), %2 tokens in %3 ms")
                              .arg(parsed.scene.objects.size())
                              .arg(result->tokens.size())
                              .arg(result->prefill_ms + result->generate_ms, 0, 'f', 0);
        if (writer.active()) {
            auto stored = storeRun(writer, image_path, parsed.scene, *result);
            if (!stored) {
                const std::string why = "storing the reconstruction: " + stored.error();
                writer.fail(why);
                summary += QStringLiteral("; not stored: %1").arg(QString::fromStdString(why));
            } else {
                const int64_t generation = stored->generation;
                const QString where = QString::fromStdString(project);
                post([id, where, generation](SceneReconstruction* s) {
                    if (id == s->run_id_) Q_EMIT s->stored(where, generation);
                });
                summary += QStringLiteral("; stored in %1").arg(QFileInfo(where).fileName());
            }
        }
        done(true, summary);
    }).detach();
}

void SceneReconstruction::appendPiece(uint64_t run, const QString& text) {
    if (run != run_id_) return;
    program_ += text;
    Q_EMIT programChanged(program_);
    // Re-parse up to the last complete line when a statement has just ended.
    if (!text.contains('\n')) return;
    const QString complete = program_.left(program_.lastIndexOf('\n') + 1);
    const r::SceneParseResult parsed = r::parseSceneProgram(complete.toStdString());
    if (!parsed.ok || static_cast<int>(parsed.scene.objects.size()) == objects_seen_) return;
    objects_seen_ = static_cast<int>(parsed.scene.objects.size());
    Q_EMIT sceneUpdated(parsed.scene);
}

void SceneReconstruction::finish(uint64_t run, bool ok, const QString& message) {
    if (run != run_id_) return;
    running_ = false;
    if (ok) {
        const r::SceneParseResult parsed = r::parseSceneProgram(program_.toStdString());
        if (parsed.ok) Q_EMIT sceneUpdated(parsed.scene);
    }
    Q_EMIT finished(ok, message);
}

} // namespace tessera::widgets
