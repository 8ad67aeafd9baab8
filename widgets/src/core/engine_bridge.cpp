#include "tessera/widgets/engine_bridge.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QThread>

namespace tessera::widgets {

EngineBridge::EngineBridge(int cpu_workers, QObject* parent) : QObject(parent) {
    qRegisterMetaType<tessera::TokenSampled>();
    qRegisterMetaType<tessera::PreviewReady>();
    qRegisterMetaType<tessera::StepTiming>();
    qRegisterMetaType<tessera::TrainingProgress>();
    qRegisterMetaType<tessera::JobStateChanged>();
    scheduler_ = std::make_unique<Scheduler>(cpu_workers, 0);
    scheduler_->setSink([this](const Event& e) { post(e); });
}

EngineBridge::~EngineBridge() {
    scheduler_->setSink({});
    scheduler_.reset(); // joins workers: after this no thread touches `this`
}

void EngineBridge::post(const Event& event) {
    bool need_post = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        inbox_.push_back(event);
        need_post = !drain_posted_;
        drain_posted_ = true;
    }
    if (need_post)
        QMetaObject::invokeMethod(
            this, [this] { drain(); }, Qt::QueuedConnection);
}

void EngineBridge::drain() {
    Q_ASSERT(QThread::currentThread() == thread());
    QElapsedTimer clock;
    clock.start();
    for (;;) {
        Event e;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (inbox_.empty()) {
                drain_posted_ = false;
                return;
            }
            if (clock.elapsed() >= kDrainBudgetMs) {
                // Yield: paint and input get their turn; the rest follows in the next drain.
                QMetaObject::invokeMethod(
                    this, [this] { drain(); }, Qt::QueuedConnection);
                return;
            }
            e = std::move(inbox_.front());
            inbox_.pop_front();
        }
        std::visit(
            [this](const auto& ev) {
                using T = std::decay_t<decltype(ev)>;
                if constexpr (std::is_same_v<T, TokenSampled>)
                    Q_EMIT tokenSampled(ev);
                else if constexpr (std::is_same_v<T, PreviewReady>)
                    Q_EMIT previewReady(ev);
                else if constexpr (std::is_same_v<T, StepTiming>)
                    Q_EMIT stepTiming(ev);
                else if constexpr (std::is_same_v<T, TrainingProgress>)
                    Q_EMIT trainingProgress(ev);
                else
                    Q_EMIT jobStateChanged(ev);
            },
            e);
    }
}

} // namespace tessera::widgets
