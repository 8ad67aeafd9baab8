// PerfStrip: a one-line strip of live figures: tokens/s, ms/token, time to first preview, model and
// KV-cache memory, and tokens accepted per decode step (AcceptanceStrip). Fed with the engine's
// StepTiming and TokenSampled events (GUI thread, via the bridge).
#pragma once

#include "tessera/engine/events.h"

#include <QWidget>

class QLabel;

namespace tessera::widgets {

class AcceptanceStrip;

class PerfStrip : public QWidget {
    Q_OBJECT
public:
    explicit PerfStrip(QWidget* parent = nullptr);
    QString text() const; // all figures as shown, for tests and the status bar
    AcceptanceStrip* acceptance() const { return acceptance_; }

public slots:
    void onTiming(const tessera::StepTiming& timing);
    void onToken(const tessera::TokenSampled& token);
    void clear();
    // The engine's CPU threads: `active` of `available`, and whether one core is left to the window.
    void setEngineThreads(int active, int available, bool yielded);

private:
    QLabel* tps_;
    QLabel* ms_;
    QLabel* first_;
    QLabel* model_;
    QLabel* kv_;
    QLabel* threads_;
    QLabel* per_step_;
    AcceptanceStrip* acceptance_;
};

QString formatBytes(size_t bytes);

} // namespace tessera::widgets
