// The erasure views: loss curve, compare view, prompt-pair dialog, and the dock panel.
//
// Sections: curve / compare view / dialog / panel.
#include "tessera/widgets/erasure.h"

#include <QComboBox>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPainterPath>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

namespace tessera::widgets {

// ---- curve -------------------------------------------------------------------------------------------

ErasureCurve::ErasureCurve(QWidget* parent) : QWidget(parent) {
    setMinimumSize(320, 180);
    setAutoFillBackground(true);
}

void ErasureCurve::clear() {
    points_.clear();
    updates_ = skips_ = 0;
    update();
}

void ErasureCurve::add(const TrainingProgress& p) {
    points_.push_back(p);
    if (p.window_closed) (p.updated ? updates_ : skips_)++;
    update();
}

void ErasureCurve::paintEvent(QPaintEvent*) {
    QPainter g(this);
    g.setRenderHint(QPainter::Antialiasing);
    g.fillRect(rect(), QColor(24, 26, 30));
    const QRectF plot = QRectF(rect()).adjusted(48, 26, -14, -30);
    g.setPen(QColor(90, 90, 100));
    g.drawRect(plot);
    g.setPen(QColor(220, 220, 225));
    const int64_t total = points_.empty() ? 0 : std::max<int64_t>(points_.back().total, points_.back().step);
    const QString head = points_.empty()
                             ? tr("EAR loss — waiting for the first step")
                             : tr("EAR loss  step %1/%2  iteration %3/%4  loss %5   updates %6  skips %7")
                                   .arg(points_.back().step)
                                   .arg(total)
                                   .arg(points_.back().iteration)
                                   .arg(points_.back().iterations)
                                   .arg(points_.back().loss, 0, 'g', 4)
                                   .arg(updates_)
                                   .arg(skips_);
    g.drawText(QRectF(8, 4, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, head);
    if (points_.empty() || total <= 0) return;
    // Log scale: EAR's per-step losses span orders of magnitude (the prompt step against image steps).
    double lo = INFINITY, hi = 0;
    for (const auto& p : points_)
        if (p.loss > 0) {
            lo = std::min(lo, static_cast<double>(p.loss));
            hi = std::max(hi, static_cast<double>(p.loss));
        }
    if (!(hi > 0)) return;
    const double llo = std::log10(lo) - 0.1, lhi = std::log10(hi) + 0.1;
    auto at = [&](int64_t step, double loss) {
        const double x = plot.left() + plot.width() * static_cast<double>(step - 1) /
                                           std::max<double>(1.0, static_cast<double>(total - 1));
        const double v = (std::log10(std::max(loss, lo)) - llo) / std::max(1e-9, lhi - llo);
        return QPointF(x, plot.bottom() - plot.height() * v);
    };
    g.setPen(QColor(150, 150, 160));
    g.drawText(QRectF(2, plot.top() - 8, 44, 16), Qt::AlignRight, QString::number(hi, 'g', 3));
    g.drawText(QRectF(2, plot.bottom() - 8, 44, 16), Qt::AlignRight, QString::number(lo, 'g', 3));
    g.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 20), Qt::AlignCenter,
               tr("rollout step (log-scale loss)   ▲ update   □ skipped window"));
    QPainterPath path;
    path.moveTo(at(points_.front().step, points_.front().loss));
    for (size_t i = 1; i < points_.size(); ++i) path.lineTo(at(points_[i].step, points_[i].loss));
    g.setPen(QPen(QColor(90, 170, 250), 1.4));
    g.drawPath(path);
    for (const auto& p : points_) {
        if (!p.window_closed) continue;
        const QPointF c = at(p.step, p.loss);
        if (p.updated) {
            QPainterPath tri;
            tri.moveTo(c + QPointF(0, -6));
            tri.lineTo(c + QPointF(5, 4));
            tri.lineTo(c + QPointF(-5, 4));
            tri.closeSubpath();
            g.fillPath(tri, QColor(80, 210, 110));
        } else {
            g.setPen(QPen(QColor(235, 90, 80), 1.6));
            g.setBrush(Qt::NoBrush);
            g.drawRect(QRectF(c - QPointF(4, 4), QSizeF(8, 8)));
        }
    }
}

// ---- compare view ------------------------------------------------------------------------------------

ErasureCompareView::ErasureCompareView(QWidget* parent) : QWidget(parent) {
    setMinimumSize(360, 160);
}

void ErasureCompareView::setCompares(std::vector<ErasureCompare> compares, const QString& prompt) {
    compares_ = std::move(compares);
    prompt_ = prompt;
    updateGeometry();
    update();
}

void ErasureCompareView::paintEvent(QPaintEvent*) {
    QPainter g(this);
    g.fillRect(rect(), QColor(24, 26, 30));
    g.setPen(QColor(220, 220, 225));
    if (compares_.empty()) {
        g.drawText(rect(), Qt::AlignCenter, tr("Original vs erased appears when the erasure finishes"));
        return;
    }
    g.drawText(QRectF(8, 4, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter,
               tr("\"%1\" — original | erased | tokens that changed").arg(prompt_));
    const int rows = static_cast<int>(compares_.size());
    const int cell = std::max(32, std::min((width() - 40) / 3 - 8, (height() - 30) / rows - 22));
    for (int r = 0; r < rows; ++r) {
        const ErasureCompare& c = compares_[static_cast<size_t>(r)];
        const int y = 28 + r * (cell + 22);
        int differ = 0;
        const size_t n = std::min(c.original_tokens.size(), c.erased_tokens.size());
        for (size_t i = 0; i < n; ++i) differ += c.original_tokens[i] != c.erased_tokens[i];
        g.setPen(QColor(200, 200, 205));
        g.drawText(QRectF(8, y, width() - 16, 18), Qt::AlignLeft,
                   tr("seed %1: %2 of %3 tokens differ").arg(c.seed).arg(differ).arg(n));
        const int top = y + 18;
        auto image = [&](int col, const QImage& img) {
            const QRect box(8 + col * (cell + 8), top, cell, cell);
            g.drawImage(box, img.scaled(cell, cell, Qt::IgnoreAspectRatio, Qt::FastTransformation));
            g.setPen(QColor(90, 90, 100));
            g.drawRect(box);
        };
        image(0, c.original);
        image(1, c.erased);
        // Difference map: one square per token cell, orange where the erased model drew another token.
        const QRect box(8 + 2 * (cell + 8), top, cell, cell);
        const int gw = std::max(1, c.grid_w), gh = std::max(1, c.grid_h);
        for (int i = 0; i < gw * gh; ++i) {
            const bool known = static_cast<size_t>(i) < n;
            const bool changed =
                known && c.original_tokens[static_cast<size_t>(i)] != c.erased_tokens[static_cast<size_t>(i)];
            const QRectF sq(box.left() + box.width() * (i % gw) / static_cast<double>(gw),
                            box.top() + box.height() * (i / gw) / static_cast<double>(gh),
                            box.width() / static_cast<double>(gw), box.height() / static_cast<double>(gh));
            g.fillRect(sq.adjusted(0.5, 0.5, -0.5, -0.5), changed ? QColor(250, 150, 40)
                                                          : known ? QColor(60, 64, 72)
                                                                  : QColor(35, 35, 40));
        }
        g.setPen(QColor(90, 90, 100));
        g.drawRect(box);
    }
}

// ---- dialog ------------------------------------------------------------------------------------------

ErasureDialog::ErasureDialog(const QString& model_dir, const QString& out_path, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Erase a concept"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    model_ = new QLineEdit(model_dir, this);
    auto* browse = new QPushButton(tr("Browse…"), this);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString d =
            QFileDialog::getExistingDirectory(this, tr("Janus checkpoint folder"), model_->text());
        if (!d.isEmpty()) model_->setText(d);
    });
    auto* model_row = new QHBoxLayout;
    model_row->addWidget(model_, 1);
    model_row->addWidget(browse);
    form->addRow(tr("Model"), model_row);
    concept_ = new QLineEdit(this);
    concept_->setPlaceholderText(tr("e.g. church"));
    form->addRow(tr("Concept"), concept_);
    layout->addLayout(form);

    table_ = new QTableWidget(0, 3, this);
    table_->setHorizontalHeaderLabels({tr("Unsafe prompt"), tr("Safe neutral"), tr("Safe target")});
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    layout->addWidget(table_, 1);
    auto* rows = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add pair"), this);
    auto* remove = new QPushButton(tr("Remove pair"), this);
    auto* load = new QPushButton(tr("Load pairs file…"), this);
    connect(add, &QPushButton::clicked, this, [this] { table_->insertRow(table_->rowCount()); });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (table_->currentRow() >= 0) table_->removeRow(table_->currentRow());
    });
    connect(load, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Pairs file"), {}, tr("JSON (*.json)"));
        if (f.isEmpty()) return;
        // A small file; the format's errors name the line or the JSON path.
        auto p = train::readEarPairs(f.toStdString());
        if (!p) {
            error_->setText(QString::fromStdString(p.error()));
            return;
        }
        setPairs(*p);
    });
    rows->addWidget(add);
    rows->addWidget(remove);
    rows->addStretch(1);
    rows->addWidget(load);
    layout->addLayout(rows);

    auto* settings = new QFormLayout;
    steps_ = new QSpinBox(this);
    steps_->setRange(1, 1000000);
    steps_->setValue(50);
    window_ = new QSpinBox(this);
    window_->setRange(1, 100000);
    window_->setValue(48);
    layers_ = new QSpinBox(this);
    layers_->setRange(1, 1000);
    layers_->setValue(5);
    threshold_ = new QDoubleSpinBox(this);
    threshold_->setDecimals(4);
    threshold_->setRange(0, 1e9);
    threshold_->setValue(0.05);
    eta_ = new QDoubleSpinBox(this);
    eta_->setRange(-100, 100);
    eta_->setValue(1.0);
    lr_ = new QDoubleSpinBox(this);
    lr_->setDecimals(6);
    lr_->setRange(1e-6, 10);
    lr_->setValue(1e-4);
    mode_ = new QComboBox(this);
    mode_->addItems({QStringLiteral("corrected"), QStringLiteral("faithful")});
    settings->addRow(tr("Iterations (one pair's rollout each)"), steps_);
    settings->addRow(tr("Window W (steps)"), window_);
    settings->addRow(tr("Threshold τ"), threshold_);
    settings->addRow(tr("η"), eta_);
    settings->addRow(tr("Layers"), layers_);
    settings->addRow(tr("Learning rate"), lr_);
    settings->addRow(tr("Mode"), mode_);
    out_ = new QLineEdit(out_path, this);
    settings->addRow(tr("Delta file"), out_);
    layout->addLayout(settings);
    error_ = new QLabel(this);
    error_->setStyleSheet(QStringLiteral("color: #e05a50"));
    error_->setWordWrap(true);
    layout->addWidget(error_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Start erasure"));
    connect(buttons, &QDialogButtonBox::accepted, this, &ErasureDialog::validateAndAccept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    resize(760, 560);
}

void ErasureDialog::setPairs(const train::EarPairs& pairs) {
    concept_->setText(QString::fromStdString(pairs.concept_name));
    table_->setRowCount(0);
    for (const auto& p : pairs.pairs) {
        const int r = table_->rowCount();
        table_->insertRow(r);
        table_->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(p.unsafe)));
        table_->setItem(r, 1, new QTableWidgetItem(QString::fromStdString(p.safe_neutral)));
        table_->setItem(r, 2, new QTableWidgetItem(QString::fromStdString(p.safe_target)));
    }
}

Expected<ErasureRequest> ErasureDialog::request() const {
    ErasureRequest r;
    r.model_dir = model_->text().trimmed();
    r.out_path = out_->text().trimmed();
    if (r.model_dir.isEmpty()) return Status::error("choose a Janus checkpoint folder");
    if (r.out_path.isEmpty()) return Status::error("choose where to write the delta file");
    r.pairs.concept_name = concept_->text().trimmed().toStdString();
    static const char* kColumns[] = {"unsafe", "safe_neutral", "safe_target"};
    for (int row = 0; row < table_->rowCount(); ++row) {
        std::string cells[3];
        for (int c = 0; c < 3; ++c) {
            const QTableWidgetItem* item = table_->item(row, c);
            cells[c] = item ? item->text().trimmed().toStdString() : std::string();
            if (cells[c].empty())
                return Status::error("pair " + std::to_string(row + 1) + ": the " + kColumns[c] +
                                     " prompt is empty");
        }
        r.pairs.pairs.push_back({cells[0], cells[1], cells[2]});
    }
    if (r.pairs.pairs.empty()) return Status::error("add at least one prompt pair");
    r.options.iterations = steps_->value();
    r.options.window = window_->value();
    r.options.layers = layers_->value();
    r.options.threshold = threshold_->value();
    r.options.eta = static_cast<float>(eta_->value());
    r.options.lr = lr_->value();
    r.options.mode = mode_->currentIndex() == 1 ? train::EarMode::Faithful : train::EarMode::Corrected;
    return r;
}

void ErasureDialog::validateAndAccept() {
    auto r = request();
    if (!r) {
        error_->setText(QString::fromStdString(r.error()));
        return;
    }
    accept();
}

// ---- panel -------------------------------------------------------------------------------------------

ErasurePanel::ErasurePanel(ErasureController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    status_ = new QLabel(tr("No erasure yet: Generate > Erase a concept…"), this);
    status_->setWordWrap(true);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setEnabled(false);
    stored_ = new QComboBox(this);
    stored_->setObjectName("storedErasures");
    stored_->setToolTip(
        tr("Erasures stored in the open project: choose one to see its loss curve and compare view"));
    stored_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    top->addWidget(status_, 1);
    top->addWidget(stored_);
    top->addWidget(cancel_);
    layout->addLayout(top);
    auto* views = new QHBoxLayout;
    curve_ = new ErasureCurve(this);
    compare_ = new ErasureCompareView(this);
    views->addWidget(curve_, 3);
    views->addWidget(compare_, 2);
    layout->addLayout(views, 1);
    connect(cancel_, &QPushButton::clicked, controller_, &ErasureController::cancel);
    connect(controller_, &ErasureController::started, this, [this](qint64 job) {
        curve_->clear();
        compare_->setCompares({}, {});
        cancel_->setEnabled(true);
        status_->setText(
            tr("Erasure job %1 queued: loading %2").arg(job).arg(controller_->request().model_dir));
    });
    connect(controller_, &ErasureController::progress, this, [this](const TrainingProgress& p) {
        curve_->add(p);
        status_->setText(tr("Erasing: step %1 of %2").arg(p.step).arg(p.total));
    });
    connect(controller_, &ErasureController::comparesReady, this, [this] {
        compare_->setCompares(controller_->compares(), controller_->request().compare_prompt);
    });
    connect(controller_, &ErasureController::finished, this, [this](bool ok, const QString& message) {
        cancel_->setEnabled(false);
        status_->setText(ok ? tr("Erasure finished: %1").arg(message)
                            : tr("Erasure stopped: %1").arg(message));
    });
    connect(controller_, &ErasureController::storedListChanged, this, &ErasurePanel::showStoredList);
    connect(stored_, QOverload<int>::of(&QComboBox::activated), this, [this](int index) {
        const qint64 job = stored_->itemData(index).toLongLong();
        if (job > 0) controller_->openStored(job);
    });
    connect(controller_, &ErasureController::storedOpened, this, [this](qint64 job) {
        curve_->clear();
        for (const auto& p : controller_->curve()) curve_->add(p);
        compare_->setCompares(controller_->compares(), controller_->request().compare_prompt);
        const QString concept_name = QString::fromStdString(controller_->request().pairs.concept_name);
        status_->setText(tr("Stored erasure (job %1%2): %3 steps, delta %4")
                             .arg(job)
                             .arg(concept_name.isEmpty() ? QString() : QStringLiteral(", ") + concept_name)
                             .arg(controller_->curve().size())
                             .arg(QFileInfo(controller_->request().out_path).fileName()));
        const int at = stored_->findData(job);
        if (at >= 0) stored_->setCurrentIndex(at);
    });
    connect(controller_, &ErasureController::message, status_, &QLabel::setText);
    showStoredList();
}

void ErasurePanel::showStoredList() {
    const auto& list = controller_->storedErasures();
    stored_->clear();
    stored_->setEnabled(!list.empty());
    if (list.empty()) {
        stored_->addItem(controller_->project().isEmpty() ? tr("No project open") : tr("No stored erasure"),
                         0);
        return;
    }
    stored_->addItem(tr("Stored erasures (%1)…").arg(list.size()), 0);
    for (const auto& e : list) {
        const QString when =
            QDateTime::fromMSecsSinceEpoch(e.created_at_ms).toString(QStringLiteral("yyyy-MM-dd HH:mm"));
        const QString name = e.concept_name.empty() ? tr("erasure") : QString::fromStdString(e.concept_name);
        stored_->addItem(tr("#%1 %2 — %3, %4 steps").arg(e.job).arg(name, when).arg(e.steps),
                         static_cast<qlonglong>(e.job));
    }
    if (const int at = stored_->findData(static_cast<qlonglong>(controller_->openedStored())); at > 0)
        stored_->setCurrentIndex(at);
}

} // namespace tessera::widgets
