// The studio's scene view: the input image and the render side by side, the object list, an editor for
// the selected object (shape, colour, material, size, position, rotation), undo/redo, and export as
// scene JSON or glTF. Every edit re-renders on the controller's worker; the view only shows results.
// GUI thread only.
#pragma once

#include "tessera/widgets/scene_controller.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace tessera::widgets {

class SceneView : public QWidget {
    Q_OBJECT
public:
    explicit SceneView(SceneController& controller, QWidget* parent = nullptr);

    void setInputImage(const QImage& image);
    SceneController& controller() { return controller_; }
    // For tests and the window's shortcuts.
    QListWidget* objectList() const { return objects_; }
    QComboBox* shapeBox() const { return shape_; }
    QComboBox* colourBox() const { return colour_; }
    QComboBox* materialBox() const { return material_; }
    QDoubleSpinBox* sizeBox() const { return size_; }
    QDoubleSpinBox* positionBox(int axis) const { return position_[axis]; }
    QDoubleSpinBox* rotationBox() const { return rotation_; }
    QPushButton* undoButton() const { return undo_; }
    QPushButton* redoButton() const { return redo_; }
    QLabel* renderLabel() const { return render_; }
    QLabel* statusLabel() const { return status_; }

private:
    void refreshList();
    void showSelected();
    void editorChanged();
    void exportAs(bool gltf);

    SceneController& controller_;
    QLabel *input_ = nullptr, *render_ = nullptr, *status_ = nullptr;
    QListWidget* objects_ = nullptr;
    QComboBox *shape_ = nullptr, *colour_ = nullptr, *material_ = nullptr;
    QDoubleSpinBox *size_ = nullptr, *position_[3] = {nullptr, nullptr, nullptr}, *rotation_ = nullptr;
    QPushButton *undo_ = nullptr, *redo_ = nullptr;
    bool filling_ = false; // editor being filled from the scene: its signals are not edits
};

} // namespace tessera::widgets
