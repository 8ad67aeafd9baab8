#include "tessera/widgets/settings_panel.h"

#include "tessera/widgets/dicode_settings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QRegularExpressionValidator>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>
#include <algorithm>

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
    decode_ = new QComboBox(this);
    decode_->setObjectName("decodeStrategy");
    decode_->addItem(tr("Plain (one token per step)"), "plain");
    decode_->addItem(tr("Speculative Jacobi (SJD)"), "sjd");
    decode_->setToolTip(tr("SJD verifies a window of draft tokens in one forward pass and keeps a prefix of "
                           "them; the images follow plain sampling's distribution, in fewer steps. "
                           "Janus and Token-Shuffle models (a Token-Shuffle window counts s×s tokens)"));
    sjd_window_ = new QSpinBox(this);
    sjd_window_->setObjectName("sjdWindow");
    sjd_window_->setRange(1, kMaxSjdWindow);
    sjd_window_->setToolTip(tr("Draft tokens verified per forward pass"));
    sjd_init_ = new QComboBox(this);
    sjd_init_->setObjectName("sjdInit");
    sjd_init_->addItem(tr("Random"), "random");
    sjd_init_->addItem(tr("Spatial (left neighbour)"), "spatial");
    sjd_init_->setToolTip(tr("A new draft's first guess: a uniform random token, or the token of the cell "
                             "to its left"));
    lantern_ = new QCheckBox(tr("LANTERN relaxed acceptance"), this);
    lantern_->setObjectName("lantern");
    lantern_->setToolTip(tr("Also accept drafts close to likely tokens in the latent space. LOSSY: images no "
                            "longer follow plain sampling's distribution"));
    lantern_k_ = new QSpinBox(this);
    lantern_k_->setObjectName("lanternK");
    lantern_k_->setRange(1, kMaxLanternK);
    lantern_k_->setToolTip(tr("k: latent neighbours whose probability may count for a draft"));
    lantern_delta_ = new QDoubleSpinBox(this);
    lantern_delta_->setObjectName("lanternDelta");
    lantern_delta_->setRange(0, 1);
    lantern_delta_->setDecimals(3);
    lantern_delta_->setSingleStep(0.05);
    lantern_delta_->setToolTip(tr("δ: the most probability mass (total-variation distance) the relaxation "
                                  "may move; 0 = exact SJD"));
    lossy_ = new QLabel(tr("Lossy: images no longer follow plain sampling's distribution"), this);
    lossy_->setObjectName("lossyWarning");
    lossy_->setWordWrap(true);
    lossy_->setStyleSheet("color: #c05a00; font-weight: bold");
    dicode_ = new DicodeSettingsBox(this);
    dicode_->hide(); // shown while a DiCoDe model is loaded
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
    form->addRow(tr("Decoding"), decode_);
    form->addRow(tr("SJD window"), sjd_window_);
    form->addRow(tr("SJD first drafts"), sjd_init_);
    auto* lantern_row = new QHBoxLayout;
    lantern_row->addWidget(lantern_);
    lantern_row->addWidget(new QLabel(tr("k"), this));
    lantern_row->addWidget(lantern_k_);
    lantern_row->addWidget(new QLabel(tr("δ"), this));
    lantern_row->addWidget(lantern_delta_);
    form->addRow(lantern_row);
    form->addRow(lossy_);
    form->addRow(dicode_);
    form->addRow(generate_);

    setSettings(GenerationSettings{});
    connect(dice, &QToolButton::clicked, this,
            [this] { seed_->setText(QString::number(QRandomGenerator::global()->generate64() >> 1)); });
    connect(decode_, &QComboBox::currentIndexChanged, this, [this] { updateDecodeFields(); });
    connect(lantern_, &QCheckBox::toggled, this, [this] { updateDecodeFields(); });
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
    s.decode = decode_->currentData().toString();
    s.sjd_window = sjd_window_->value();
    s.sjd_init = sjd_init_->currentData().toString();
    if (s.speculative() && lantern_->isChecked()) {
        s.lantern_k = lantern_k_->value();
        s.lantern_delta = lantern_delta_->value();
    }
    if (!dicode_->isHidden()) s.dicode = dicode_->options();
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
    decode_->setCurrentIndex(std::max(0, decode_->findData(s.speculative() ? "sjd" : "plain")));
    sjd_window_->setValue(s.sjd_window);
    sjd_init_->setCurrentIndex(std::max(0, sjd_init_->findData(s.sjd_init)));
    lantern_->setChecked(s.lantern_k > 0);
    // Sensible values to start from when LANTERN is switched on later.
    lantern_k_->setValue(s.lantern_k > 0 ? s.lantern_k : 100);
    lantern_delta_->setValue(s.lantern_k > 0 ? s.lantern_delta : 0.1);
    if (!s.dicode.isEmpty()) dicode_->setOptions(s.dicode);
    updateDecodeFields();
}

void SettingsPanel::showDicodeFields(bool shown, int max_keyframes) {
    dicode_->setVisible(shown);
    if (shown) dicode_->setMaxKeyframes(max_keyframes);
}

void SettingsPanel::updateDecodeFields() {
    const bool sjd = decode_->currentData().toString() == "sjd";
    sjd_window_->setEnabled(sjd);
    sjd_init_->setEnabled(sjd);
    lantern_->setEnabled(sjd);
    lantern_k_->setEnabled(sjd && lantern_->isChecked());
    lantern_delta_->setEnabled(sjd && lantern_->isChecked());
    lossy_->setVisible(sjd && lantern_->isChecked());
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
