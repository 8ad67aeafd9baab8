#include "tessera/widgets/inspector_controller.h"

#include "tessera/widgets/cell_inspector.h"
#include "tessera/widgets/studio_controller.h"

#include <QPointer>
#include <algorithm>

namespace tessera::widgets {

InspectorController::InspectorController(StudioController* studio, CellInspector* view, QObject* parent)
    : QObject(parent), studio_(studio), view_(view) {
    connect(view_, &CellInspector::branchRequested, this, [this](int32_t token) {
        const Generation* g = studio_->generation(id_);
        if (!g) return;
        const auto it = std::find(g->decode_order.begin(), g->decode_order.end(), position_);
        if (it == g->decode_order.end()) return;
        const int step = static_cast<int>(it - g->decode_order.begin());
        const int64_t child = studio_->branch(id_, step, token);
        if (child) Q_EMIT branched(child);
    });
    connect(studio_, &StudioController::finished, this, [this](qint64 id) {
        if (id == id_ && position_ >= 0) inspect(id_, position_); // patches become available
    });
}

void InspectorController::inspect(int64_t id, int position) {
    const Generation* g = studio_->generation(id);
    id_ = id;
    position_ = position;
    ++request_;
    if (!g || position < 0 || position >= static_cast<int>(g->cells.size()) ||
        g->cells[static_cast<size_t>(position)].token < 0) {
        view_->clear();
        return;
    }
    const auto it = std::find(g->decode_order.begin(), g->decode_order.end(), position);
    const int step = static_cast<int>(it - g->decode_order.begin());
    view_->showCell(position / std::max(1, g->cols), position % std::max(1, g->cols), step,
                    g->cells[static_cast<size_t>(position)]);
    requestPatches();
}

void InspectorController::requestPatches() {
    const Generation* g = studio_->generation(id_);
    if (!g || !studio_->generator() || g->rows * g->cols > kMaxCellsForPatches) return;
    // Only a finished grid decodes to the picture the alternative would sit in.
    if (g->sampled() != g->rows * g->cols) return;
    const TokenRecord& cell = g->cells[static_cast<size_t>(position_)];
    const int rows = g->rows, cols = g->cols, pos = position_, request = request_;
    QPointer<InspectorController> self(this);
    for (size_t i = 0; i < cell.top_ids.size(); ++i) {
        std::vector<int32_t> tokens = g->tokens();
        tokens[static_cast<size_t>(pos)] = cell.top_ids[i];
        studio_->decodeAsync(std::move(tokens), [self, i, rows, cols, pos, request](QImage image) {
            if (!self || request != self->request_ || image.isNull()) return;
            const int cw = image.width() / cols, ch = image.height() / rows;
            self->view_->setPatch(static_cast<int>(i),
                                  image.copy((pos % cols) * cw, (pos / cols) * ch, cw, ch));
        });
    }
}

} // namespace tessera::widgets
