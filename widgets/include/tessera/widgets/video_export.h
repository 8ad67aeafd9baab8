// Exporting a video generation: MP4 (H.264), WebM (VP9), animated GIF or WebP, or a PNG sequence,
// through tessera::media (FFmpeg libraries / libwebp), with the recipe in the file's metadata.
// exportVideoAsync() encodes on a pool thread — the GUI thread never waits on the encoder — reports
// progress and the outcome on the GUI thread, and can be cancelled (nothing is left behind then).
// VideoExportDialog asks where, in which format, at which frame rate and quality.
#pragma once

#include "tessera/widgets/generation.h"

#include <QDialog>
#include <QString>
#include <atomic>
#include <functional>
#include <memory>

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace tessera::widgets {

struct VideoExportRequest {
    QString path;
    QString format = "mp4"; // "mp4", "webm", "gif", "webp", "png" (a folder of PNG frames)
    int fps = 0;            // 0: the clip's own
    int quality = -1;       // 0..100, -1: the format's default
};

// The formats a video can be exported in, as (name, label) pairs, MP4 first.
std::vector<std::pair<QString, QString>> videoExportFormats();

// Encodes `clip` to `request.path`. `progress(frames_written, frames)` and `done(ok, message)` run
// on `context`'s (GUI) thread, not at all once `context` is gone. Setting *cancel stops the encoder
// between frames and removes the partial output. Returns at once.
void exportVideoAsync(std::shared_ptr<const VideoClip> clip, const VideoExportRequest& request,
                      QObject* context, std::function<void(int frames_written, int frames)> progress,
                      std::function<void(bool ok, QString message)> done,
                      std::shared_ptr<std::atomic<bool>> cancel = nullptr);

class VideoExportDialog : public QDialog {
    Q_OBJECT
public:
    VideoExportDialog(const QString& suggested_stem, int fps, QWidget* parent = nullptr);
    VideoExportRequest request() const;
    QComboBox* formatPicker() const { return format_; }

private:
    void formatChanged();
    QLineEdit* path_;
    QComboBox* format_;
    QSpinBox* fps_;
    QSpinBox* quality_;
};

} // namespace tessera::widgets
