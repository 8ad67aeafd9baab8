// TokenMosaic: the decode grid. Each cell is one image token; sampled cells show their colour (from a
// preview image when one exists, else a placeholder hue), unsampled cells stay dark.
//
// Thread affinity: GUI thread only. Feed it through queued signals from engine events.
#pragma once

#include <QImage>
#include <QWidget>
#include <vector>

namespace tessera::widgets {

class TokenMosaic : public QWidget {
    Q_OBJECT
public:
    explicit TokenMosaic(QWidget* parent = nullptr);

    void setGrid(int rows, int cols);
    int rows() const { return rows_; }
    int cols() const { return cols_; }
    int sampledCount() const;
    // A decoded preview of the (partially) filled grid; drawn under the cells that are sampled.
    void setPreview(const QImage& image);

public slots:
    void markSampled(int position, int token_id);
    void reset();

signals:
    void cellClicked(int position);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    QSize sizeHint() const override { return {384, 384}; }

private:
    QRectF cellRect(int position) const;
    int rows_ = 0, cols_ = 0;
    std::vector<int> tokens_; // -1 = not sampled yet
    QImage preview_;
};

} // namespace tessera::widgets
