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
        const std::vector<int>& order = g->decodeOrderOf(image_);
        const auto it = std::find(order.begin(), order.end(), position_);
        if (it == order.end()) return;
        const int step = static_cast<int>(it - order.begin());
        const int64_t child = studio_->branch(id_, step, token, image_);
        if (child) Q_EMIT branched(child);
    });
    connect(studio_, &StudioController::finished, this, [this](qint64 id) {
        if (id == id_ && position_ >= 0) inspect(id_, position_, image_); // patches become available
    });
}

void InspectorController::inspect(int64_t id, int position, int image) {
    const Generation* g = studio_->generation(id);
    id_ = id;
    position_ = position;
    image_ = g ? std::clamp(image, 0, g->imageCount() - 1) : 0;
    ++request_;
    if (!g || position < 0 || position >= static_cast<int>(g->cellsOf(image_).size()) ||
        g->cellsOf(image_)[static_cast<size_t>(position)].token < 0) {
        view_->clear();
        return;
    }
    const std::vector<int>& order = g->decodeOrderOf(image_);
    const auto it = std::find(order.begin(), order.end(), position);
    const int step = static_cast<int>(it - order.begin());
    view_->showCell(position / std::max(1, g->cols), position % std::max(1, g->cols), step,
                    g->cellsOf(image_)[static_cast<size_t>(position)]);
    const int s = windowSide(*g, image_);
    if (s > 1) {
        const int row = position / g->cols, col = position % g->cols;
        const int r0 = row / s * s, c0 = col / s * s;
        std::vector<int32_t> tokens;
        for (int r = r0; r < r0 + s; ++r)
            for (int c = c0; c < c0 + s; ++c)
                tokens.push_back(g->cellsOf(image_)[static_cast<size_t>(r * g->cols + c)].token);
        view_->showWindow(row / s, col / s, s, tokens, (row - r0) * s + (col - c0));
    } else {
        view_->showWindow(0, 0, 1, {}, 0);
    }
    requestPatches();
}

// The window side a generation was sampled with, read off its decode order: Token-Shuffle's first step
// samples cells (0, 0) … (s−1, s−1) row-major, raster order samples row 0 first. 1 when the order is
// neither (or too little of it is known).
int InspectorController::windowSide(const Generation& g, int image) {
    const std::vector<int>& order = g.decodeOrderOf(image);
    for (int s : {4, 2}) {
        if (g.rows % s != 0 || g.cols % s != 0 || g.cols <= s || static_cast<int>(order.size()) < s * s)
            continue;
        bool window = true;
        for (int i = 0; i < s * s && window; ++i)
            window = order[static_cast<size_t>(i)] == (i / s) * g.cols + i % s;
        if (window) return s;
    }
    return 1;
}

void InspectorController::requestPatches() {
    const Generation* g = studio_->generation(id_);
    if (!g || !studio_->generator() || g->rows * g->cols > kMaxCellsForPatches) return;
    // Only a finished grid decodes to the picture the alternative would sit in.
    if (g->sampledOf(image_) != g->rows * g->cols) return;
    const TokenRecord& cell = g->cellsOf(image_)[static_cast<size_t>(position_)];
    const int rows = g->rows, cols = g->cols, pos = position_, request = request_;
    QPointer<InspectorController> self(this);
    for (size_t i = 0; i < cell.top_ids.size(); ++i) {
        std::vector<int32_t> tokens = g->tokensOf(image_);
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
