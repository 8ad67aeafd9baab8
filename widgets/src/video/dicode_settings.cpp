#include "tessera/widgets/dicode_settings.h"

#include "tessera/engine/dicode_pipeline.h"
#include "tessera/widgets/dicode_generator.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>

namespace tessera::widgets {

namespace {

QDoubleSpinBox* number(QWidget* parent, const char* name, double lo, double hi, double step, int decimals,
                       const QString& tip) {
    auto* b = new QDoubleSpinBox(parent);
    b->setObjectName(name);
    b->setRange(lo, hi);
    b->setSingleStep(step);
    b->setDecimals(decimals);
    b->setToolTip(tip);
    return b;
}

} // namespace

DicodeSettingsBox::DicodeSettingsBox(QWidget* parent) : QGroupBox(tr("DiCoDe"), parent) {
    setObjectName("dicodeSettings");
    keyframes_ = new QSpinBox(this);
    keyframes_->setObjectName("dicodeKeyframes");
    keyframes_->setRange(2, 1024);
    keyframes_->setToolTip(tr("Keyframes of deep tokens the LLM writes; N keyframes make N − 1 clips"));
    ddim_steps_ = new QSpinBox(this);
    ddim_steps_->setObjectName("dicodeDdimSteps");
    ddim_steps_->setRange(1, 1000);
    ddim_steps_->setToolTip(tr("DDIM steps per clip"));
    eta_ = number(this, "dicodeEta", 0, 10, 0.1, 2, tr("DDIM eta (0: deterministic, 1: the demo's)"));
    cfg_ = number(this, "dicodeCfg", 0, 100, 0.5, 2, tr("Decoder guidance on v (1: no unconditional pass)"));
    rescale_ = number(this, "dicodeRescale", 0, 1, 0.05, 2, tr("Guidance rescale (0: off)"));
    fs_ = new QSpinBox(this);
    fs_->setObjectName("dicodeFs");
    fs_->setRange(0, 1000);
    fs_->setToolTip(tr("Frame stride the decoder is conditioned on"));
    llm_cfg_ = number(this, "dicodeLlmCfg", 0.01, 100, 0.5, 2,
                      tr("LLM guidance against the empty prompt in token space (1: off)"));
    var_scale_ = number(this, "dicodeVarScale", 0.0001, 10000, 0.01, 4,
                        tr("Scale of the mixture component's variance when sampling"));
    do_sample_ = new QCheckBox(tr("Sample tokens"), this);
    do_sample_->setObjectName("dicodeDoSample");
    do_sample_->setToolTip(tr("Off: each token is the mixture's weighted mean"));
    auto* form = new QFormLayout(this);
    form->addRow(tr("Keyframes"), keyframes_);
    form->addRow(tr("DDIM steps"), ddim_steps_);
    form->addRow(tr("Eta"), eta_);
    form->addRow(tr("Decoder CFG"), cfg_);
    form->addRow(tr("Rescale"), rescale_);
    form->addRow(tr("Frame stride"), fs_);
    form->addRow(tr("LLM CFG"), llm_cfg_);
    form->addRow(tr("Var scale"), var_scale_);
    form->addRow(do_sample_);
    setOptions(dicodeOptionsJson(DicodeRequest{}));
}

QJsonObject DicodeSettingsBox::options() const {
    return {{"keyframes", keyframes_->value()},
            {"ddim_steps", ddim_steps_->value()},
            {"eta", eta_->value()},
            {"cfg", cfg_->value()},
            {"rescale", rescale_->value()},
            {"fs", fs_->value()},
            {"llm_cfg", llm_cfg_->value()},
            {"var_scale", var_scale_->value()},
            {"do_sample", do_sample_->isChecked()}};
}

void DicodeSettingsBox::setOptions(const QJsonObject& o) {
    keyframes_->setValue(o.value("keyframes").toInt(keyframes_->value()));
    ddim_steps_->setValue(o.value("ddim_steps").toInt(ddim_steps_->value()));
    eta_->setValue(o.value("eta").toDouble(eta_->value()));
    cfg_->setValue(o.value("cfg").toDouble(cfg_->value()));
    rescale_->setValue(o.value("rescale").toDouble(rescale_->value()));
    fs_->setValue(o.value("fs").toInt(fs_->value()));
    llm_cfg_->setValue(o.value("llm_cfg").toDouble(llm_cfg_->value()));
    var_scale_->setValue(o.value("var_scale").toDouble(var_scale_->value()));
    do_sample_->setChecked(o.value("do_sample").toBool(do_sample_->isChecked()));
}

void DicodeSettingsBox::setMaxKeyframes(int keyframes) {
    keyframes_->setMaximum(std::max(2, keyframes));
    keyframes_->setToolTip(tr("Keyframes of deep tokens the LLM writes (this model: at most %1); N keyframes "
                              "make N − 1 clips")
                               .arg(keyframes));
}

} // namespace tessera::widgets
