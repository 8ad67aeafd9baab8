#include "tessera/widgets/settings_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QRegularExpressionValidator>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>

namespace tessera::widgets {

SettingsPanel::SettingsPanel(QWidget* parent) : QWidget(parent) {
    model_ = new QComboBox(this);
    model_->setObjectName("modelCombo");
    prompt_ = new QPlainTextEdit(this);
    prompt_->setObjectName("prompt");
    prompt_->setPlaceholderText(tr("Describe the image…"));
    prompt_->setTabChangesFocus(true);
    seed_ = new QLineEdit(this);
    seed_->setObjectName("seed");
    seed_->setValidator(new QRegularExpressionValidator(QRegularExpression("[0-9]{1,19}"), seed_));
    lock_ = new QCheckBox(tr("Lock"), this);
    lock_->setToolTip(tr("Keep this seed; unlocked, every run draws a new one"));
    auto* dice = new QToolButton(this);
    dice->setText(tr("Random"));
    dice->setToolTip(tr("Draw a new seed now"));
    cfg_ = new QDoubleSpinBox(this);
    cfg_->setRange(0, 30);
    cfg_->setSingleStep(0.5);
    cfg_->setToolTip(tr("Classifier-free guidance weight (1 = conditional only)"));
    temperature_ = new QDoubleSpinBox(this);
    temperature_->setRange(0, 5);
    temperature_->setSingleStep(0.05);
    temperature_->setToolTip(tr("0 = always the most likely token"));
    top_k_ = new QSpinBox(this);
    top_k_->setRange(0, 100000);
    top_k_->setSpecialValueText(tr("off"));
    top_p_ = new QDoubleSpinBox(this);
    top_p_->setRange(0.01, 1);
    top_p_->setSingleStep(0.05);
    top_p_->setToolTip(tr("1 = off"));
    images_ = new QSpinBox(this);
    images_->setRange(1, 16);
    generate_ = new QPushButton(tr("Generate"), this);
    generate_->setObjectName("generateButton");

    auto* seed_row = new QHBoxLayout;
    seed_row->addWidget(seed_, 1);
    seed_row->addWidget(lock_);
    seed_row->addWidget(dice);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Model"), model_);
    form->addRow(tr("Prompt"), prompt_);
    form->addRow(tr("Seed"), seed_row);
    form->addRow(tr("CFG"), cfg_);
    form->addRow(tr("Temperature"), temperature_);
    form->addRow(tr("Top-k"), top_k_);
    form->addRow(tr("Top-p"), top_p_);
    form->addRow(tr("Images"), images_);
    form->addRow(generate_);

    setSettings(GenerationSettings{});
    connect(dice, &QToolButton::clicked, this,
            [this] { seed_->setText(QString::number(QRandomGenerator::global()->generate64() >> 1)); });
    connect(generate_, &QPushButton::clicked, this, [this] { Q_EMIT generateRequested(settingsForRun()); });
    connect(model_, &QComboBox::activated, this,
            [this](int i) { Q_EMIT modelChosen(model_->itemData(i).toString()); });
}

GenerationSettings SettingsPanel::settings() const {
    GenerationSettings s;
    s.model = model_->currentData().toString();
    s.prompt = prompt_->toPlainText();
    s.seed = seed_->text().toULongLong();
    s.seed_locked = lock_->isChecked();
    s.cfg = cfg_->value();
    s.temperature = temperature_->value();
    s.top_k = top_k_->value();
    s.top_p = top_p_->value();
    s.images = images_->value();
    return s;
}

void SettingsPanel::setSettings(const GenerationSettings& s) {
    if (!s.model.isEmpty()) {
        int i = model_->findData(s.model);
        if (i < 0) {
            model_->addItem(s.model, s.model);
            i = model_->count() - 1;
        }
        model_->setCurrentIndex(i);
    }
    prompt_->setPlainText(s.prompt);
    seed_->setText(QString::number(s.seed));
    lock_->setChecked(s.seed_locked);
    cfg_->setValue(s.cfg);
    temperature_->setValue(s.temperature);
    top_k_->setValue(s.top_k);
    top_p_->setValue(s.top_p);
    images_->setValue(s.images);
}

GenerationSettings SettingsPanel::settingsForRun() {
    if (!lock_->isChecked()) seed_->setText(QString::number(QRandomGenerator::global()->generate64() >> 1));
    return settings();
}

void SettingsPanel::setModels(const QStringList& folders, const QString& current) {
    model_->clear();
    for (const QString& f : folders) model_->addItem(f.section('/', -1), f);
    const int i = model_->findData(current);
    if (i >= 0) model_->setCurrentIndex(i);
}

void SettingsPanel::save(QSettings& store) const {
    store.setValue("settings/last", QJsonDocument(settings().toJson()).toJson(QJsonDocument::Compact));
}

void SettingsPanel::restore(QSettings& store) {
    const QJsonDocument doc = QJsonDocument::fromJson(store.value("settings/last").toByteArray());
    if (doc.isObject()) setSettings(GenerationSettings::fromJson(doc.object()));
}

} // namespace tessera::widgets
