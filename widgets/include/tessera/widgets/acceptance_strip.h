// AcceptanceStrip: how many tokens each decode step (forward pass) of the running job made final, as a
// bar per step, with plain decoding's one token per image per step drawn as a line for scale. With
// speculative Jacobi decoding the bars rise above the line: the steps the speculation saved. Fed with
// the engine's TokenSampled events (GUI thread, via the bridge); a new job id starts a new strip.
//
// Thread affinity: GUI thread only.
#pragma once

#include "tessera/engine/events.h"
#include "tessera/widgets/engine_bridge.h" // the events' Q_DECLARE_METATYPE, before moc uses them

#include <QWidget>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace tessera::widgets {

class AcceptanceStrip : public QWidget {
    Q_OBJECT
public:
    explicit AcceptanceStrip(QWidget* parent = nullptr);

    // Tokens made final at each step, step 0 first (steps no token reported are 0).
    const std::vector<int>& tokensPerStep() const { return per_step_; }
    int tokens() const { return tokens_; }
    int steps() const { return static_cast<int>(per_step_.size()); }
    // Plain decoding's tokens per step: what step 0 made final (speculative decoding's first step has no
    // drafts, so it is one plain step: one token per image, or one s×s window per image for
    // Token-Shuffle); before any token, the images seen so far.
    int baseline() const { return per_step_.empty() ? images_ : std::max(1, per_step_[0]); }
    int drafts() const { return drafts_; } // tokens that were accepted drafts
    int64_t job() const { return job_; }
    // "N tokens in S steps, x.xx per step (plain: B)", or a dash before the first token.
    QString summary() const;

public slots:
    void onToken(const tessera::TokenSampled& event);
    void clear();

protected:
    void paintEvent(QPaintEvent* event) override;
    QSize sizeHint() const override { return {220, 22}; }

private:
    int64_t job_ = 0;
    std::vector<int> per_step_;
    int tokens_ = 0, drafts_ = 0, images_ = 1, peak_ = 0;
};

} // namespace tessera::widgets
