#include "tessera/widgets/cell_inspector.h"

#include "tessera/widgets/generation.h"

#include <QHeaderView>
#include <QLabel>
#include <QPixmap>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace tessera::widgets {

CellInspector::CellInspector(QWidget* parent) : QWidget(parent) {
    title_ = new QLabel(this);
    QFont f = title_->font();
    f.setBold(true);
    title_->setFont(f);
    stats_ = new QLabel(this);
    stats_->setObjectName("cellStats");
    stats_->setWordWrap(true);
    window_ = new QLabel(this);
    window_->setObjectName("windowTokens");
    window_->setTextFormat(Qt::RichText);
    window_->hide();
    table_ = new QTableWidget(0, 3, this);
    table_->setObjectName("alternatives");
    table_->setHorizontalHeaderLabels({tr("Patch"), tr("Token"), tr("Probability")});
    table_->verticalHeader()->setVisible(false);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setIconSize(QSize(32, 32));
    table_->verticalHeader()->setDefaultSectionSize(36);
    branch_ = new QPushButton(tr("Branch from here"), this);
    branch_->setObjectName("branchButton");
    branch_->setToolTip(tr("Queue a child generation that keeps every earlier token and takes the selected "
                           "alternative at this cell"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(title_);
    layout->addWidget(stats_);
    layout->addWidget(window_);
    layout->addWidget(table_, 1);
    layout->addWidget(branch_);
    connect(branch_, &QPushButton::clicked, this, [this] {
        const int32_t t = chosenToken();
        if (t >= 0) Q_EMIT branchRequested(t);
    });
    clear();
}

void CellInspector::clear() {
    title_->setText(tr("No cell selected"));
    stats_->setText(tr("Click a cell of the mosaic to see the tokens the model considered there."));
    table_->setRowCount(0);
    window_->hide();
    branch_->setEnabled(false);
}

void CellInspector::showWindow(int window_row, int window_col, int window, const std::vector<int32_t>& tokens,
                               int slot) {
    if (window <= 1 || static_cast<int>(tokens.size()) != window * window) {
        window_->hide();
        return;
    }
    QString html =
        tr("Window (%1, %2), %3×%3 tokens sampled in one step:").arg(window_row).arg(window_col).arg(window);
    html += "<table cellspacing=2>";
    for (int r = 0; r < window; ++r) {
        html += "<tr>";
        for (int c = 0; c < window; ++c) {
            const int i = r * window + c;
            const int32_t t = tokens[static_cast<size_t>(i)];
            const QString text = t < 0 ? QStringLiteral("·") : QString::number(t);
            html += i == slot ? "<td><b>[" + text + "]</b></td>" : "<td>" + text + "</td>";
        }
        html += "</tr>";
    }
    window_->setText(html + "</table>");
    window_->show();
}

void CellInspector::showCell(int row, int col, int step, const TokenRecord& cell) {
    title_->setText(tr("Cell (%1, %2) — step %3").arg(row).arg(col).arg(step + 1));
    stats_->setText(tr("Token %1, p = %2, rank %3, entropy %4 nats, guidance shift %5")
                        .arg(cell.token)
                        .arg(cell.probability, 0, 'f', 3)
                        .arg(cell.rank)
                        .arg(cell.entropy, 0, 'f', 3)
                        .arg(cell.guidance_kl, 0, 'f', 3) +
                    // The forward pass that made the cell final: with speculative decoding several cells
                    // share one, so this differs from the cell's place in the decode order above.
                    (cell.step < 0 ? QString()
                                   : "\n" + (cell.accepted_draft
                                                 ? tr("Accepted at decode step %1 (a draft that passed the test)")
                                                 : tr("Accepted at decode step %1 (sampled in that step)"))
                                                .arg(cell.step + 1)));
    const int n = static_cast<int>(std::min(cell.top_ids.size(), cell.top_probs.size()));
    table_->setRowCount(n);
    int preselect = -1;
    for (int i = 0; i < n; ++i) {
        const int32_t id = cell.top_ids[static_cast<size_t>(i)];
        const float p = cell.top_probs[static_cast<size_t>(i)];
        auto* patch = new QTableWidgetItem;
        QPixmap swatch(32, 32);
        swatch.fill(QColor::fromHsv((id * 47) % 360, 140, 200)); // until a decoded patch arrives
        patch->setIcon(QIcon(swatch));
        table_->setItem(i, 0, patch);
        auto* tok = new QTableWidgetItem(id == cell.token ? tr("%1 (sampled)").arg(id) : QString::number(id));
        tok->setData(Qt::UserRole, id);
        table_->setItem(i, 1, tok);
        auto* bar = new QProgressBar(table_);
        bar->setRange(0, 1000);
        bar->setValue(static_cast<int>(std::clamp(p, 0.f, 1.f) * 1000));
        bar->setFormat(QString::number(p, 'f', 3));
        table_->setCellWidget(i, 2, bar);
        if (preselect < 0 && id != cell.token) preselect = i;
    }
    if (preselect >= 0) table_->selectRow(preselect);
    branch_->setEnabled(n > 0);
}

void CellInspector::setPatch(int alternative, const QImage& patch) {
    if (alternative < 0 || alternative >= table_->rowCount() || patch.isNull()) return;
    if (auto* item = table_->item(alternative, 0))
        item->setIcon(
            QIcon(QPixmap::fromImage(patch.scaled(32, 32, Qt::IgnoreAspectRatio, Qt::FastTransformation))));
}

int CellInspector::alternativeCount() const {
    return table_->rowCount();
}

int32_t CellInspector::chosenToken() const {
    const int row = table_->currentRow();
    if (row < 0) return -1;
    auto* item = table_->item(row, 1);
    return item ? item->data(Qt::UserRole).toInt() : -1;
}

} // namespace tessera::widgets
