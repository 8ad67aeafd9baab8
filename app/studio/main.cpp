// tessera: the studio window.
#include <QApplication>
#include <QMainWindow>

#include "tessera/widgets/token_mosaic.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("Tessera");
    QApplication::setApplicationVersion(TESSERA_VERSION);
    QMainWindow window;
    window.setWindowTitle("Tessera");
    auto* mosaic = new tessera::widgets::TokenMosaic(&window);
    mosaic->setGrid(24, 24);
    window.setCentralWidget(mosaic);
    window.resize(1280, 800);
    window.show();
    return app.exec();
}
