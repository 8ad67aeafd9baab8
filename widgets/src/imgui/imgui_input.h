// ImGuiInputAdapter: translates Qt input events into Dear ImGui's IO state (1.86 API: MousePos,
// MouseDown[], MouseWheel, KeysDown[] through KeyMap, AddInputCharacter). Small on purpose: the
// engine panel needs pointer, wheel, navigation keys and text.
#pragma once

#include <imgui.h>

class QEvent;

namespace tessera::widgets {

class ImGuiInputAdapter {
public:
    // Fills io.KeyMap with the adapter's key indices. Call once per ImGui context.
    static void install(ImGuiIO& io);
    // Applies one Qt event; returns true when it was an input event ImGui understands.
    // `scale` converts event coordinates to ImGui's display coordinates.
    static bool feed(ImGuiIO& io, QEvent* event);
    // The adapter's index in io.KeysDown for a Qt::Key, or -1.
    static int keyIndex(int qt_key);
};

} // namespace tessera::widgets
