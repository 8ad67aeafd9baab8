#include "tessera/widgets/scene_view.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QHeaderView>
#include <QTreeWidget>
#include <QPushButton>
#include <QVBoxLayout>

namespace tessera::widgets {

namespace r = tessera::renderers;

namespace {

QDoubleSpinBox* spin(double lo, double hi, double step) {
    auto* s = new QDoubleSpinBox;
    s->setRange(lo, hi);
    s->setDecimals(3);
    s->setSingleStep(step);
    s->setKeyboardTracking(false); // one edit per finished value, not per keystroke
    return s;
}

QLabel* picture(const QString& placeholder) {
    auto* l = new QLabel(placeholder);
    l->setAlignment(Qt::AlignCenter);
    l->setMinimumSize(240, 160);
    l->setFrameShape(QFrame::StyledPanel);
    return l;
}

QString describe(const r::SceneObject& o, int index) {
    return QString("%1. %2 %3 %4, size %5 at (%6, %7, %8), %9°")
        .arg(index + 1)
        .arg(QString::fromStdString(std::string(r::colorName(o.color))),
             QString::fromStdString(std::string(r::materialName(o.material))),
             QString::fromStdString(std::string(r::shapeName(o.shape))))
        .arg(o.size, 0, 'g', 4)
        .arg(o.position[0], 0, 'g', 4)
        .arg(o.position[1], 0, 'g', 4)
        .arg(o.position[2], 0, 'g', 4)
        .arg(o.rotation, 0, 'g', 4);
}

QString objectWords(const r::SceneObject& o) {
    return QString("%1 %2 %3")
        .arg(QString::fromStdString(std::string(r::colorName(o.color))),
             QString::fromStdString(std::string(r::materialName(o.material))),
             QString::fromStdString(std::string(r::shapeName(o.shape))));
}

// "ref 2: shape ✓ · colour ✗ (blue) · material ✓ · size ✗ (0.35) · position off by 0.3 · rotation off by 20°":
// what differs names the reference's value.
QString differenceText(const r::ObjectDifference& d, const r::Scene& reference) {
    if (d.truth < 0) return QStringLiteral("unmatched: not in the reference");
    const r::SceneObject& t = reference.objects[static_cast<size_t>(d.truth)];
    const auto attr = [](const char* name, bool same, const QString& ref) {
        return same ? QString("%1 ✓").arg(name) : QString("%1 ✗ (%2)").arg(name, ref);
    };
    return QString("ref %1: %2 · %3 · %4 · %5 · position off by %6 · rotation off by %7°")
        .arg(d.truth + 1)
        .arg(attr("shape", d.shape, QString::fromStdString(std::string(r::shapeName(t.shape)))),
             attr("colour", d.color, QString::fromStdString(std::string(r::colorName(t.color)))),
             attr("material", d.material, QString::fromStdString(std::string(r::materialName(t.material)))),
             attr("size", d.size, QString::number(t.size, 'g', 4)))
        .arg(d.position_error, 0, 'g', 3)
        .arg(d.rotation_error, 0, 'g', 3);
}

} // namespace

SceneView::SceneView(SceneController& controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
    input_ = picture("no input image");
    render_ = picture("rendering…");
    status_ = new QLabel;
    objects_ = new QTreeWidget;
    objects_->setObjectName("sceneObjects");
    objects_->setRootIsDecorated(false);
    objects_->setColumnCount(2);
    objects_->setHeaderLabels({"Object", "Against the reference"});
    objects_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    objects_->setColumnHidden(1, true);
    reference_ = new QLabel;
    reference_->setObjectName("sceneReference");
    reference_->setWordWrap(true);
    reference_->hide();
    shape_ = new QComboBox;
    for (auto s : {r::Shape::Cube, r::Shape::Sphere, r::Shape::Cylinder})
        shape_->addItem(QString::fromStdString(std::string(r::shapeName(s))));
    colour_ = new QComboBox;
    for (int c = 0; c < 8; ++c)
        colour_->addItem(QString::fromStdString(std::string(r::colorName(static_cast<r::Color>(c)))));
    material_ = new QComboBox;
    for (auto m : {r::Material::Rubber, r::Material::Metal})
        material_->addItem(QString::fromStdString(std::string(r::materialName(m))));
    size_ = spin(0.01, 100, 0.05);
    for (auto*& p : position_) p = spin(-1000, 1000, 0.1);
    rotation_ = spin(-360, 360, 5);
    undo_ = new QPushButton("Undo");
    redo_ = new QPushButton("Redo");
    auto* export_json = new QPushButton("Export JSON…");
    auto* export_gltf = new QPushButton("Export glTF…");

    auto* form = new QFormLayout;
    form->addRow("shape", shape_);
    form->addRow("colour", colour_);
    form->addRow("material", material_);
    form->addRow("size", size_);
    form->addRow("x", position_[0]);
    form->addRow("y", position_[1]);
    form->addRow("z", position_[2]);
    form->addRow("rotation", rotation_);
    auto* buttons = new QHBoxLayout;
    for (auto* b : {undo_, redo_, export_json, export_gltf}) buttons->addWidget(b);
    auto* side = new QVBoxLayout;
    // The object list runs under the pictures, across the dock: with a reference its difference column
    // needs the width.
    side->addLayout(form);
    side->addStretch(1);
    side->addLayout(buttons);
    auto* pictures = new QHBoxLayout;
    pictures->addWidget(input_, 1);
    pictures->addWidget(render_, 1);
    auto* left = new QVBoxLayout;
    left->addLayout(pictures, 3);
    auto* list_head = new QHBoxLayout;
    list_head->addWidget(new QLabel("Objects"));
    list_head->addWidget(reference_, 1);
    left->addLayout(list_head);
    left->addWidget(objects_, 2);
    left->addWidget(status_);
    auto* top = new QHBoxLayout(this);
    top->addLayout(left, 3);
    top->addLayout(side, 1);

    connect(objects_, &QTreeWidget::currentItemChanged, this, [this] { showSelected(); });
    for (auto* box : {shape_, colour_, material_})
        connect(box, &QComboBox::currentIndexChanged, this, [this] { editorChanged(); });
    for (auto* s : {size_, position_[0], position_[1], position_[2], rotation_})
        connect(s, &QDoubleSpinBox::valueChanged, this, [this] { editorChanged(); });
    connect(undo_, &QPushButton::clicked, &controller_.undoStack(), &QUndoStack::undo);
    connect(redo_, &QPushButton::clicked, &controller_.undoStack(), &QUndoStack::redo);
    connect(&controller_.undoStack(), &QUndoStack::canUndoChanged, undo_, &QPushButton::setEnabled);
    connect(&controller_.undoStack(), &QUndoStack::canRedoChanged, redo_, &QPushButton::setEnabled);
    undo_->setEnabled(false);
    redo_->setEnabled(false);
    connect(export_json, &QPushButton::clicked, this, [this] { exportAs(false); });
    connect(export_gltf, &QPushButton::clicked, this, [this] { exportAs(true); });
    connect(&controller_, &SceneController::sceneChanged, this, [this] { refreshList(); });
    connect(&controller_, &SceneController::referenceChanged, this, [this] { refreshList(); });
    connect(&controller_, &SceneController::renderReady, this, [this](const QImage& image, quint64 version) {
        if (version != controller_.version()) return; // an older scene: a newer render follows
        render_->setPixmap(QPixmap::fromImage(image));
        status_->setText(QString("%1 object(s) · %2")
                             .arg(controller_.scene().objects.size())
                             .arg(controller_.rendererDescription()));
    });
    connect(&controller_, &SceneController::renderFailed, this,
            [this](const QString& message) { status_->setText("render failed: " + message); });
    connect(&controller_, &SceneController::exportDone, this,
            [this](bool, const QString& message) { status_->setText(message); });
    refreshList();
}

void SceneView::setInputImage(const QImage& image) {
    input_->setPixmap(QPixmap::fromImage(image.scaled(render_->minimumSize().expandedTo(QSize(320, 240)),
                                                      Qt::KeepAspectRatio, Qt::SmoothTransformation)));
}

int SceneView::objectCount() const {
    return static_cast<int>(controller_.scene().objects.size());
}

void SceneView::selectObject(int index) {
    objects_->setCurrentItem(index >= 0 && index < objects_->topLevelItemCount() ? objects_->topLevelItem(index)
                                                                                  : nullptr);
}

QString SceneView::objectText(int row, int column) const {
    const QTreeWidgetItem* item = row >= 0 && row < objects_->topLevelItemCount() ? objects_->topLevelItem(row) : nullptr;
    return item ? item->text(column) : QString();
}

int SceneView::currentObject() const {
    const int row = objects_->indexOfTopLevelItem(objects_->currentItem());
    return row < objectCount() ? row : -1; // rows past the scene's objects are missing reference objects
}

void SceneView::refreshList() {
    const int row = currentObject();
    const auto& objs = controller_.scene().objects;
    const auto& ref = controller_.reference();
    const r::SceneDifference diff = controller_.difference();
    filling_ = true;
    objects_->clear();
    objects_->setColumnHidden(1, !ref);
    const QColor good(200, 235, 200), partly(250, 230, 170), bad(245, 190, 190);
    for (size_t i = 0; i < objs.size(); ++i) {
        auto* item = new QTreeWidgetItem(objects_, {describe(objs[i], static_cast<int>(i))});
        if (!ref || i >= diff.objects.size()) continue;
        const r::ObjectDifference& d = diff.objects[i];
        item->setText(1, differenceText(d, *ref));
        item->setBackground(1, d.truth < 0 ? bad : (d.shape && d.color && d.material && d.size ? good : partly));
    }
    if (ref) {
        for (int m : diff.missing) {
            const r::SceneObject& t = ref->objects[static_cast<size_t>(m)];
            auto* item = new QTreeWidgetItem(
                objects_, {QString("missing: %1 (ref %2)").arg(objectWords(t)).arg(m + 1),
                           QStringLiteral("in the reference only: no object matches it")});
            item->setForeground(0, QColor(130, 130, 130));
            item->setBackground(1, bad);
        }
        reference_->setText(QString("Reference: %1 (%2 object(s))")
                                .arg(controller_.referenceLabel())
                                .arg(ref->objects.size()));
    }
    reference_->setVisible(ref.has_value());
    objects_->resizeColumnToContents(1);
    selectObject(objs.empty() ? -1 : std::clamp(row, 0, static_cast<int>(objs.size()) - 1));
    filling_ = false;
    showSelected();
}

void SceneView::showSelected() {
    const int row = currentObject();
    const auto& objs = controller_.scene().objects;
    const bool any = row >= 0 && row < static_cast<int>(objs.size());
    for (QWidget* w : std::initializer_list<QWidget*>{shape_, colour_, material_, size_, position_[0],
                                                      position_[1], position_[2], rotation_})
        w->setEnabled(any);
    if (!any) return;
    const r::SceneObject& o = objs[static_cast<size_t>(row)];
    filling_ = true;
    shape_->setCurrentIndex(static_cast<int>(o.shape));
    colour_->setCurrentIndex(static_cast<int>(o.color));
    material_->setCurrentIndex(static_cast<int>(o.material));
    size_->setValue(o.size);
    for (int c = 0; c < 3; ++c) position_[c]->setValue(o.position[static_cast<size_t>(c)]);
    rotation_->setValue(o.rotation);
    filling_ = false;
}

void SceneView::editorChanged() {
    if (filling_) return;
    const int row = currentObject();
    if (row < 0 || row >= static_cast<int>(controller_.scene().objects.size())) return;
    r::SceneObject o = controller_.scene().objects[static_cast<size_t>(row)];
    o.shape = static_cast<r::Shape>(shape_->currentIndex());
    o.color = static_cast<r::Color>(colour_->currentIndex());
    o.material = static_cast<r::Material>(material_->currentIndex());
    o.size = size_->value();
    for (int c = 0; c < 3; ++c) o.position[static_cast<size_t>(c)] = position_[c]->value();
    o.rotation = rotation_->value();
    controller_.editObject(row, o);
}

void SceneView::exportAs(bool gltf) {
    const QString path =
        QFileDialog::getSaveFileName(this, gltf ? "Export glTF" : "Export scene JSON", QString(),
                                     gltf ? "glTF 2.0 (*.gltf)" : "Scene JSON (*.json)");
    if (path.isEmpty()) return;
    if (gltf)
        controller_.exportGltf(path);
    else
        controller_.exportJson(path);
}

} // namespace tessera::widgets
