// The studio's scene view: the input image and the render side by side, the object list, an editor for
// the selected object (shape, colour, material, size, position, rotation), undo/redo, and export as
// scene JSON or glTF. Every edit re-renders on the controller's worker; the view only shows results.
// With a reference scene (SceneController::setReference) the object list gains a difference column:
// per object, the matched reference object and whether shape, colour, material and size agree, the
// position and rotation error; objects without a match are marked, and reference objects no object
// matches are listed after the scene's own as "missing".
// GUI thread only.
#pragma once

#include "tessera/widgets/scene_controller.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QTreeWidget;
class QPushButton;

namespace tessera::widgets {

class SceneView : public QWidget {
    Q_OBJECT
public:
    explicit SceneView(SceneController& controller, QWidget* parent = nullptr);

    void setInputImage(const QImage& image);
    SceneController& controller() { return controller_; }
    // For tests and the window's shortcuts.
    QTreeWidget* objectList() const { return objects_; }
    int objectCount() const;                      // rows for the scene's own objects
    void selectObject(int index);                 // -1 = none
    QString objectText(int row, int column = 0) const; // column 1: the difference ("" without a reference)
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
    int currentObject() const;
    void showSelected();
    void editorChanged();
    void exportAs(bool gltf);

    SceneController& controller_;
    QLabel *input_ = nullptr, *render_ = nullptr, *status_ = nullptr;
    QTreeWidget* objects_ = nullptr;
    QLabel* reference_ = nullptr;
    QComboBox *shape_ = nullptr, *colour_ = nullptr, *material_ = nullptr;
    QDoubleSpinBox *size_ = nullptr, *position_[3] = {nullptr, nullptr, nullptr}, *rotation_ = nullptr;
    QPushButton *undo_ = nullptr, *redo_ = nullptr;
    bool filling_ = false; // editor being filled from the scene: its signals are not edits
};

} // namespace tessera::widgets
