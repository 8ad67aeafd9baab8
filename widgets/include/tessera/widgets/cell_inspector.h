// CellInspector: one mosaic cell up close: the sampled token with its statistics, the top-k
// alternatives with their probabilities (and their decoded patch where decoding is cheap), and
// "Branch from here", which queues a child generation taking the chosen alternative at that step. For
// Token-Shuffle generations it also shows the s×s window (s² tokens) the cell was sampled with.
//
// Thread affinity: GUI thread only. InspectorController fills it.
#pragma once

#include <QImage>
#include <QWidget>
#include <vector>

class QLabel;
class QPushButton;
class QTableWidget;

namespace tessera::widgets {

struct TokenRecord;

class CellInspector : public QWidget {
    Q_OBJECT
public:
    explicit CellInspector(QWidget* parent = nullptr);
    void clear();
    // Shows a cell; `row`, `col` for the title, `step` its place in decode order.
    void showCell(int row, int col, int step, const TokenRecord& cell);
    // Token-Shuffle: the s×s window the cell belongs to (its s² tokens, row-major, -1 = not yet
    // sampled; `slot` the cell's place in it), sampled together in one step. window <= 1 hides it.
    void showWindow(int window_row, int window_col, int window, const std::vector<int32_t>& tokens, int slot);
    QLabel* windowLabel() const { return window_; }
    void setPatch(int alternative, const QImage& patch);
    int alternativeCount() const;
    int32_t chosenToken() const; // the selected alternative (-1 = none)
    QTableWidget* table() const { return table_; }
    QPushButton* branchButton() const { return branch_; }

signals:
    void branchRequested(int32_t token);

private:
    QLabel* title_;
    QLabel* stats_;
    QLabel* window_;
    QTableWidget* table_;
    QPushButton* branch_;
};

} // namespace tessera::widgets
