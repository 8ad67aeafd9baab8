// Helpers the studio screenshot tests share (screenshots_xvfb.cpp, screenshots_xvfb_docks.cpp): where the
// screenshots go, how their content is counted, and a studio on the synthetic generator.
#pragma once

#include "studio/main_window.h"
#include "tessera/widgets/scene_view.h"
#include "widgets/synthetic_generator.h"
#include "widgets/test_app.h"

#include <QDir>
#include <QImage>
#include <QSet>
#include <QString>
#include <QTreeWidget>
#include <cstdio>
#include <gtest/gtest.h>

namespace tessera::test::shots {

using tessera::studio::StudioOptions;
using tessera::widgets::Generation;
using tessera::widgets::Generator;

// The bundled janus_tiny, or the copy under $TESSERA_DATA_DIR (the same override tessera-cli reads):
// tests/app/broken_model_fails.sh points it at a broken copy to show that these tests then fail.
inline QString janusTinyDir() {
    const QByteArray env = qgetenv("TESSERA_DATA_DIR");
    return (env.isEmpty() ? QString(TESSERA_TEST_DATA_DIR) : QString::fromLocal8Bit(env)) +
           "/reference/janus_tiny";
}

inline const QString kShots = QString(TESSERA_BINARY_DIR) + "/screenshots";

inline int distinctColours(const QImage& img) {
    QSet<QRgb> seen;
    for (int y = 0; y < img.height(); y += 2)
        for (int x = 0; x < img.width(); x += 2) seen.insert(img.pixel(x, y));
    return static_cast<int>(seen.size());
}

inline void save(const QImage& img, const QString& name) {
    QDir().mkpath(kShots);
    ASSERT_TRUE(img.save(kShots + "/" + name)) << name.toStdString();
    std::printf("screenshot: %s (%dx%d, %d colours)\n", qPrintable(kShots + "/" + name), img.width(),
                img.height(), distinctColours(img));
}

inline StudioOptions syntheticOptions(int rows, int step_us) {
    StudioOptions o;
    o.model = janusTinyDir(); // probed for the model list
    o.persist = false;
    o.autostart = true;
    o.software_gl = true; // the screenshots show the ImGui panel, on Xvfb's llvmpipe too
    o.prompt = "a lighthouse on a cliff at dawn";
    o.loader = [rows, step_us](const std::string&) -> Expected<std::shared_ptr<Generator>> {
        auto g = std::make_shared<SyntheticGenerator>(rows, rows, 1024, step_us, rows);
        g->setNote("synthetic test generator (not a model): colours follow a formula");
        std::shared_ptr<Generator> out = g;
        return out;
    };
    return o;
}

inline bool finished(const Generation* g) {
    return g && g->state == JobState::Finished;
}

// Whether the Scene dock comes to list `objects` objects and to draw its latest version (in 30 s).
inline bool sceneDockShows(studio::MainWindow& w, int objects) {
    return waitFor([&] { return w.sceneView()->objectList()->topLevelItemCount() == objects; }, 10000) &&
           waitFor(
               [&] {
                   return w.sceneView()->controller().renderedVersion() ==
                          w.sceneView()->controller().version();
               },
               20000);
}

} // namespace tessera::test::shots
