// Export: a generation's picture as PNG with its recipe (prompt, seed, settings, tokens) in text
// chunks. exportPngAsync() encodes and writes on a pool thread and reports back on the GUI thread;
// ExportDialog asks where.
#pragma once

#include "tessera/widgets/generation.h"

#include <QDialog>
#include <QString>
#include <functional>

class QCheckBox;
class QLineEdit;

namespace tessera::widgets {

// Writes `g.image` to `path` (atomically), with the recipe in a "tessera.recipe" iTXt chunk and the
// prompt in "Description" when `with_recipe`. `done(ok, message)` runs on the GUI thread, in
// `context`'s thread, and not at all when `context` is gone.
void exportPngAsync(const Generation& g, const QString& path, bool with_recipe, QObject* context,
                    std::function<void(bool ok, QString message)> done);

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(const QString& suggested_path, QWidget* parent = nullptr);
    QString path() const;
    bool withRecipe() const;

private:
    QLineEdit* path_;
    QCheckBox* recipe_;
};

} // namespace tessera::widgets
