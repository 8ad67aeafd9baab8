#include "tessera/widgets/export_dialog.h"

#include "tessera/engine/image.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QThreadPool>
#include <cstring>

namespace tessera::widgets {

void exportPngAsync(const Generation& g, const QString& path, bool with_recipe, QObject* context,
                    std::function<void(bool, QString)> done) {
    QPointer<QObject> guard(context);
    if (g.image.isNull()) {
        done(false, QObject::tr("Generation #%1 has no picture yet.").arg(g.id));
        return;
    }
    const QImage rgb = g.image.convertToFormat(QImage::Format_RGB888);
    std::map<std::string, std::string> text;
    if (with_recipe) {
        text["tessera.recipe"] = QJsonDocument(recipeJson(g)).toJson(QJsonDocument::Compact).toStdString();
        text["Description"] = g.settings.prompt.toStdString();
        text["Software"] = "Tessera";
    }
    // Encoding and the disk write happen off the GUI thread.
    QThreadPool::globalInstance()->start([rgb, text, path, guard, done] {
        ImageRgb8 img;
        img.width = rgb.width();
        img.height = rgb.height();
        img.rgb.resize(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
        for (int y = 0; y < img.height; ++y)
            std::memcpy(img.rgb.data() + static_cast<size_t>(y) * static_cast<size_t>(img.width) * 3,
                        rgb.constScanLine(y), static_cast<size_t>(img.width) * 3);
        const Status st = writePng(path.toStdString(), img, text);
        const bool ok = st.ok();
        const QString msg = ok ? QObject::tr("Exported %1").arg(path) : QString::fromStdString(st.message());
        // Hop through the application object, which outlives every pool task; the guard is read on
        // the GUI thread only.
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [guard, done, ok, msg] {
                if (guard) done(ok, msg);
            },
            Qt::QueuedConnection);
    });
}

ExportDialog::ExportDialog(const QString& suggested_path, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Export PNG"));
    path_ = new QLineEdit(suggested_path, this);
    auto* browse = new QPushButton(tr("Browse…"), this);
    recipe_ = new QCheckBox(tr("Embed the recipe (prompt, seed, settings, tokens)"), this);
    recipe_->setChecked(true);
    auto* row = new QHBoxLayout;
    row->addWidget(path_, 1);
    row->addWidget(browse);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    auto* form = new QFormLayout(this);
    form->addRow(tr("File"), row);
    form->addRow(recipe_);
    form->addRow(buttons);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString p =
            QFileDialog::getSaveFileName(this, tr("Export PNG"), path_->text(), tr("PNG images (*.png)"));
        if (!p.isEmpty()) path_->setText(p);
    });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

QString ExportDialog::path() const {
    return path_->text();
}
bool ExportDialog::withRecipe() const {
    return recipe_->isChecked();
}

} // namespace tessera::widgets
