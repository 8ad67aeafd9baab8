// PerfStrip: a one-line strip of live figures: tokens/s, ms/token, time to first preview, model and
// KV-cache memory. Fed with the engine's StepTiming events (GUI thread, via the bridge).
#pragma once

#include "tessera/engine/events.h"

#include <QWidget>

class QLabel;

namespace tessera::widgets {

class PerfStrip : public QWidget {
    Q_OBJECT
public:
    explicit PerfStrip(QWidget* parent = nullptr);
    QString text() const; // all figures as shown, for tests and the status bar

public slots:
    void onTiming(const tessera::StepTiming& timing);
    void clear();

private:
    QLabel* tps_;
    QLabel* ms_;
    QLabel* first_;
    QLabel* model_;
    QLabel* kv_;
};

QString formatBytes(size_t bytes);

} // namespace tessera::widgets
