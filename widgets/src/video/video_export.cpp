#include "tessera/widgets/video_export.h"

#include "tessera/media/video.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMetaObject>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QThreadPool>
#include <cstring>

namespace tessera::widgets {

std::vector<std::pair<QString, QString>> videoExportFormats() {
    return {{"mp4", QObject::tr("MP4 (H.264)")},
            {"webm", QObject::tr("WebM (VP9)")},
            {"gif", QObject::tr("Animated GIF")},
            {"webp", QObject::tr("Animated WebP")},
            {"png", QObject::tr("PNG sequence (a folder)")}};
}

namespace {

ImageRgb8 toRgb8(const QImage& image) {
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    ImageRgb8 out;
    out.width = rgb.width();
    out.height = rgb.height();
    out.rgb.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height) * 3);
    for (int y = 0; y < out.height; ++y)
        std::memcpy(out.rgb.data() + static_cast<size_t>(y) * static_cast<size_t>(out.width) * 3,
                    rgb.constScanLine(y), static_cast<size_t>(out.width) * 3);
    return out;
}

} // namespace

void exportVideoAsync(std::shared_ptr<const VideoClip> clip, const VideoExportRequest& request,
                      QObject* context, std::function<void(int, int)> progress,
                      std::function<void(bool, QString)> done, std::shared_ptr<std::atomic<bool>> cancel) {
    QPointer<QObject> guard(context);
    if (!cancel) cancel = std::make_shared<std::atomic<bool>>(false);
    auto report = [guard](std::function<void()> fn) {
        // Through the application object, which outlives every pool task; the guard is read on the
        // GUI thread only.
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [guard, fn = std::move(fn)] {
                if (guard) fn();
            },
            Qt::QueuedConnection);
    };
    QThreadPool::globalInstance()->start([clip, request, progress, done, cancel, report] {
        auto fail = [&](const QString& why) { report([done, why] { done(false, why); }); };
        if (!clip || clip->frames.empty()) return fail(QObject::tr("This video has no frames to export."));
        auto format = media::parseFormatName(request.format.toStdString());
        if (!format) return fail(QObject::tr("Unknown video format '%1'.").arg(request.format));
        std::vector<ImageRgb8> frames;
        frames.reserve(clip->frames.size());
        for (const QImage& f : clip->frames) {
            if (f.isNull()) return fail(QObject::tr("The video is incomplete: a frame is missing."));
            frames.push_back(toRgb8(f));
        }
        media::VideoExportOptions o;
        o.format = *format;
        o.fps = {request.fps > 0 ? request.fps : std::max(1, clip->fps), 1};
        o.quality = request.quality;
        if (!clip->recipe.isEmpty()) o.metadata[media::kRecipeKey] = clip->recipe.toStdString();
        std::string path = request.path.toStdString();
        if (*format == media::VideoFormat::PngSequence && !path.empty() && path.back() != '/') path += '/';
        const int total = static_cast<int>(frames.size());
        Status st = media::writeVideo(path, frames, o, cancel.get(), [&](int64_t written) {
            if (progress) report([progress, written, total] { progress(static_cast<int>(written), total); });
        });
        const bool ok = st.ok();
        const QString msg = ok ? QObject::tr("Exported %1 (%2 frames)").arg(request.path).arg(total)
                               : QString::fromStdString(st.message());
        report([done, ok, msg] { done(ok, msg); });
    });
}

VideoExportDialog::VideoExportDialog(const QString& suggested_stem, int fps, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Export video"));
    path_ = new QLineEdit(suggested_stem + ".mp4", this);
    path_->setObjectName("videoExportPath");
    auto* browse = new QPushButton(tr("Browse…"), this);
    format_ = new QComboBox(this);
    format_->setObjectName("videoExportFormat");
    for (const auto& [name, label] : videoExportFormats()) format_->addItem(label, name);
    fps_ = new QSpinBox(this);
    fps_->setRange(1, 120);
    fps_->setValue(std::max(1, fps));
    quality_ = new QSpinBox(this);
    quality_->setRange(-1, 100);
    quality_->setSpecialValueText(tr("format default"));
    quality_->setValue(-1);
    auto* row = new QHBoxLayout;
    row->addWidget(path_, 1);
    row->addWidget(browse);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Format"), format_);
    form->addRow(tr("File"), row);
    form->addRow(tr("Frames per second"), fps_);
    form->addRow(tr("Quality"), quality_);
    form->addRow(buttons);
    connect(format_, &QComboBox::currentIndexChanged, this, &VideoExportDialog::formatChanged);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString name = format_->currentData().toString();
        const QString p = name == "png"
                              ? QFileDialog::getExistingDirectory(this, tr("Folder for the frames"))
                              : QFileDialog::getSaveFileName(this, tr("Export video"), path_->text());
        if (!p.isEmpty()) path_->setText(p);
    });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

void VideoExportDialog::formatChanged() {
    // Keep the file name, swap its extension (a PNG sequence is a folder: no extension).
    const QString name = format_->currentData().toString();
    QFileInfo info(path_->text());
    const QString stem = info.path() + "/" + info.completeBaseName();
    path_->setText(name == "png" ? stem + "-frames" : stem + "." + name);
}

VideoExportRequest VideoExportDialog::request() const {
    VideoExportRequest r;
    r.path = path_->text();
    r.format = format_->currentData().toString();
    r.fps = fps_->value();
    r.quality = quality_->value();
    return r;
}

} // namespace tessera::widgets
