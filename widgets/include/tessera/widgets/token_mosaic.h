// TokenMosaic: the decode grid. Each cell is one image token; sampled cells show their part of the
// preview image (or a placeholder hue before one exists), unsampled cells stay dark. An overlay can
// colour every sampled cell by one statistic (probability, entropy, rank, guidance shift, or the decode
// step that accepted it: speculative decoding makes several cells final in one step), with a legend
// drawn in the corner.
//
// Thread affinity: GUI thread only. Feed it from the MosaicController.
#pragma once

#include "tessera/widgets/generation.h"

#include <QImage>
#include <QWidget>
#include <optional>
#include <vector>

namespace tessera::widgets {

enum class MosaicOverlay { None, Probability, Entropy, Rank, Guidance, AcceptedStep };
QString overlayName(MosaicOverlay overlay);

class TokenMosaic : public QWidget {
    Q_OBJECT
public:
    explicit TokenMosaic(QWidget* parent = nullptr);

    void setGrid(int rows, int cols);
    int rows() const { return rows_; }
    int cols() const { return cols_; }
    int sampledCount() const;
    // The token shown in a cell (-1 = unsampled or out of range).
    int32_t tokenAt(int position) const {
        return position >= 0 && position < static_cast<int>(cells_.size())
                   ? cells_[static_cast<size_t>(position)].token
                   : -1;
    }
    // A decoded preview of the (partially) filled grid; drawn under the cells that are sampled.
    void setPreview(const QImage& image);
    void setOverlay(MosaicOverlay overlay);
    MosaicOverlay overlay() const { return overlay_; }
    void setSelected(int position); // -1 = none
    int selected() const { return selected_; }
    // The value the current overlay colours a cell by (AcceptedStep: the 0-based step); nullopt for an
    // unsampled cell, a position out of range, no overlay, or a cell whose step is unknown.
    std::optional<float> overlayValueAt(int position) const;
    // Overlay range [lo, hi] of the current statistic over the sampled cells.
    std::pair<float, float> overlayRange() const;
    // The centre of a cell in widget coordinates (for tests and tooltips).
    QPoint cellCenter(int position) const;
    // A short text, e.g. "untrained smoke-test model", shown across the top.
    void setBanner(const QString& text);

public slots:
    void markSampled(int position, int token_id);
    void setCell(int position, const tessera::widgets::TokenRecord& cell);
    void reset();

signals:
    void cellClicked(int position);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    QSize sizeHint() const override { return {384, 384}; }

private:
    QRectF cellRect(int position) const;
    float statistic(const TokenRecord& cell) const;
    void paintLegend(QPainter& p, float lo, float hi);
    int rows_ = 0, cols_ = 0;
    std::vector<TokenRecord> cells_; // token -1 = not sampled yet
    QImage preview_;
    MosaicOverlay overlay_ = MosaicOverlay::None;
    int selected_ = -1;
    QString banner_;
};

// Colour for a value in [0, 1] on the overlay's scale (dark blue → teal → yellow).
QColor overlayColor(float t);

} // namespace tessera::widgets
