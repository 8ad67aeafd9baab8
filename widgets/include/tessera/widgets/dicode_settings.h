// DicodeSettingsBox: the DiCoDe options `tessera-cli generate-video` takes (keyframes, DDIM steps, eta,
// decoder CFG and its rescale, frame stride, LLM guidance, variance scale, sampling), as the
// GenerationSettings::dicode object (dicode_generator.h). The settings panel shows it only while a
// DiCoDe model is loaded.
//
// Thread affinity: GUI thread only.
#pragma once

#include <QGroupBox>
#include <QJsonObject>

class QCheckBox;
class QDoubleSpinBox;
class QSpinBox;

namespace tessera::widgets {

class DicodeSettingsBox : public QGroupBox {
    Q_OBJECT
public:
    explicit DicodeSettingsBox(QWidget* parent = nullptr);
    QJsonObject options() const;
    // Missing fields keep what the box shows.
    void setOptions(const QJsonObject& options);
    // The most keyframes the loaded model makes per prompt (the field's maximum).
    void setMaxKeyframes(int keyframes);

    QSpinBox* keyframesField() const { return keyframes_; }
    QSpinBox* ddimStepsField() const { return ddim_steps_; }

private:
    QSpinBox* keyframes_;
    QSpinBox* ddim_steps_;
    QDoubleSpinBox* eta_;
    QDoubleSpinBox* cfg_;
    QDoubleSpinBox* rescale_;
    QSpinBox* fs_;
    QDoubleSpinBox* llm_cfg_;
    QDoubleSpinBox* var_scale_;
    QCheckBox* do_sample_;
};

} // namespace tessera::widgets
