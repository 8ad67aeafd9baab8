// Shared by the widget tests: one QApplication for the process, and waiting helpers that spin the
// event loop (the GUI thread never blocks on jobs, so tests must not either).
#pragma once

#include <QApplication>
#include <QElapsedTimer>
#include <QTest>
#include <functional>

namespace tessera::test {

inline QApplication& app() {
    static int argc = 1;
    static char arg0[] = "widgets_test";
    static char* argv[] = {arg0, nullptr};
    // Never destroyed: Qt objects of other statics may outlive it at exit.
    static QApplication* a = new QApplication(argc, argv);
    return *a;
}

// Spins the event loop until `done` holds or `timeout_ms` passes; returns whether it held.
inline bool waitFor(const std::function<bool()>& done, int timeout_ms = 10000) {
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeout_ms) return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        QTest::qWait(1);
    }
    return true;
}

} // namespace tessera::test

#include <QElapsedTimer>
#include <QFile>
#include <QTimer>
#include <algorithm>

namespace tessera::test {

// Measures how long the GUI thread's event loop goes without turning: a 5 ms timer records the
// longest gap between its ticks. On a machine shared with other work the OS may leave the thread
// waiting for a CPU; Linux reports that wait (run_delay in /proc/thread-self/schedstat), and
// worstMs() leaves it out, so that what remains is time the loop itself was busy or blocked.
class StallProbe {
public:
    StallProbe() {
        timer_.setInterval(5);
        QObject::connect(&timer_, &QTimer::timeout, [this] { tick(); });
    }
    void start() {
        clock_.start();
        last_wall_ = -1;
        timer_.start();
    }
    void stop() { timer_.stop(); }
    qint64 worstMs() const { return worst_ / 1000000; }        // wall gap minus waiting for a CPU
    qint64 worstWallMs() const { return worst_wall_ / 1000000; } // raw wall-clock gap

private:
    static qint64 runDelayNs() {
        QFile f("/proc/thread-self/schedstat");
        if (!f.open(QIODevice::ReadOnly)) return 0;
        const QList<QByteArray> parts = f.readAll().split(' ');
        return parts.size() >= 2 ? parts[1].toLongLong() : 0;
    }
    void tick() {
        const qint64 wall = clock_.nsecsElapsed(), delay = runDelayNs();
        if (last_wall_ >= 0) {
            const qint64 gap = wall - last_wall_;
            worst_wall_ = std::max(worst_wall_, gap);
            worst_ = std::max(worst_, gap - (delay - last_delay_));
        }
        last_wall_ = wall;
        last_delay_ = delay;
    }
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 last_wall_ = -1, last_delay_ = 0, worst_ = 0, worst_wall_ = 0;
};

} // namespace tessera::test
