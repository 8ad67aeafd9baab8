#include "imgui/imgui_input.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>
#include <cfloat>
#include <iterator>

namespace tessera::widgets {

namespace {
struct KeyPair {
    int qt;
    ImGuiKey imgui;
};
// Index in this table + 1 is the key's slot in io.KeysDown.
constexpr KeyPair kKeys[] = {
    {Qt::Key_Tab, ImGuiKey_Tab},
    {Qt::Key_Left, ImGuiKey_LeftArrow},
    {Qt::Key_Right, ImGuiKey_RightArrow},
    {Qt::Key_Up, ImGuiKey_UpArrow},
    {Qt::Key_Down, ImGuiKey_DownArrow},
    {Qt::Key_PageUp, ImGuiKey_PageUp},
    {Qt::Key_PageDown, ImGuiKey_PageDown},
    {Qt::Key_Home, ImGuiKey_Home},
    {Qt::Key_End, ImGuiKey_End},
    {Qt::Key_Insert, ImGuiKey_Insert},
    {Qt::Key_Delete, ImGuiKey_Delete},
    {Qt::Key_Backspace, ImGuiKey_Backspace},
    {Qt::Key_Space, ImGuiKey_Space},
    {Qt::Key_Return, ImGuiKey_Enter},
    {Qt::Key_Escape, ImGuiKey_Escape},
    {Qt::Key_Enter, ImGuiKey_KeyPadEnter},
    {Qt::Key_A, ImGuiKey_A},
    {Qt::Key_C, ImGuiKey_C},
    {Qt::Key_V, ImGuiKey_V},
    {Qt::Key_X, ImGuiKey_X},
    {Qt::Key_Y, ImGuiKey_Y},
    {Qt::Key_Z, ImGuiKey_Z},
};

void setModifiers(ImGuiIO& io, Qt::KeyboardModifiers m) {
    io.KeyCtrl = m & Qt::ControlModifier;
    io.KeyShift = m & Qt::ShiftModifier;
    io.KeyAlt = m & Qt::AltModifier;
    io.KeySuper = m & Qt::MetaModifier;
}

int buttonIndex(Qt::MouseButton b) {
    switch (b) {
    case Qt::LeftButton:
        return 0;
    case Qt::RightButton:
        return 1;
    case Qt::MiddleButton:
        return 2;
    default:
        return -1;
    }
}
} // namespace

void ImGuiInputAdapter::install(ImGuiIO& io) {
    for (size_t i = 0; i < std::size(kKeys); ++i) io.KeyMap[kKeys[i].imgui] = static_cast<int>(i) + 1;
}

int ImGuiInputAdapter::keyIndex(int qt_key) {
    for (size_t i = 0; i < std::size(kKeys); ++i)
        if (kKeys[i].qt == qt_key) return static_cast<int>(i) + 1;
    return -1;
}

bool ImGuiInputAdapter::feed(ImGuiIO& io, QEvent* event) {
    switch (event->type()) {
    case QEvent::MouseMove: {
        auto* e = static_cast<QMouseEvent*>(event);
        io.MousePos = ImVec2(static_cast<float>(e->position().x()), static_cast<float>(e->position().y()));
        return true;
    }
    case QEvent::MouseButtonPress:
    case QEvent::MouseButtonDblClick:
    case QEvent::MouseButtonRelease: {
        auto* e = static_cast<QMouseEvent*>(event);
        io.MousePos = ImVec2(static_cast<float>(e->position().x()), static_cast<float>(e->position().y()));
        const int b = buttonIndex(e->button());
        if (b >= 0) io.MouseDown[b] = event->type() != QEvent::MouseButtonRelease;
        setModifiers(io, e->modifiers());
        return true;
    }
    case QEvent::Wheel: {
        auto* e = static_cast<QWheelEvent*>(event);
        // Qt reports eighths of a degree; one notch (15°) is one ImGui wheel unit.
        io.MouseWheel += static_cast<float>(e->angleDelta().y()) / 120.f;
        io.MouseWheelH += static_cast<float>(e->angleDelta().x()) / 120.f;
        return true;
    }
    case QEvent::Leave:
        io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
        return true;
    case QEvent::KeyPress:
    case QEvent::KeyRelease: {
        auto* e = static_cast<QKeyEvent*>(event);
        setModifiers(io, e->modifiers());
        const int k = keyIndex(e->key());
        if (k >= 0) io.KeysDown[k] = event->type() == QEvent::KeyPress;
        if (event->type() == QEvent::KeyPress)
            for (QChar c : e->text())
                if (c.isPrint()) io.AddInputCharacterUTF16(c.unicode());
        return true;
    }
    case QEvent::FocusOut:
        for (bool& d : io.KeysDown) d = false;
        for (bool& d : io.MouseDown) d = false;
        return true;
    default:
        return false;
    }
}

} // namespace tessera::widgets
