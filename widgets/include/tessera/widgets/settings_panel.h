// SettingsPanel: the prompt and sampler settings (model, prompt, seed with lock/random, CFG,
// temperature, top-k/p, images), the decode strategy (plain, or speculative Jacobi decoding with its
// window and first-draft initialisation; LANTERN's relaxed acceptance as an opt-in marked lossy, with
// its neighbourhood size k and total-variation bound delta) and the Generate button. Persists itself
// through QSettings.
//
// Thread affinity: GUI thread only.
#pragma once

#include "tessera/widgets/generation.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSettings;
class QSpinBox;

namespace tessera::widgets {

class DicodeSettingsBox;

class SettingsPanel : public QWidget {
    Q_OBJECT
public:
    explicit SettingsPanel(QWidget* parent = nullptr);

    GenerationSettings settings() const;
    void setSettings(const GenerationSettings& settings);
    // The settings for the next run: draws a fresh seed first unless the seed is locked.
    GenerationSettings settingsForRun();
    void setModels(const QStringList& folders, const QString& current);
    void save(QSettings& store) const;
    void restore(QSettings& store);
    QPlainTextEdit* promptEdit() const { return prompt_; }
    QPushButton* generateButton() const { return generate_; }
    // The DiCoDe options (dicode_settings.h), shown only for DiCoDe models; settings() carries them
    // while shown.
    void showDicodeFields(bool shown, int max_keyframes = 0);
    DicodeSettingsBox* dicodeFields() const { return dicode_; }

signals:
    void generateRequested(const tessera::widgets::GenerationSettings& settings);
    void modelChosen(const QString& folder);

private:
    QComboBox* model_;
    QPlainTextEdit* prompt_;
    QLineEdit* seed_;
    QCheckBox* lock_;
    QDoubleSpinBox* cfg_;
    QDoubleSpinBox* temperature_;
    QSpinBox* top_k_;
    QDoubleSpinBox* top_p_;
    QSpinBox* images_;
    QComboBox* decode_;
    QSpinBox* sjd_window_;
    QComboBox* sjd_init_;
    QCheckBox* lantern_;
    QSpinBox* lantern_k_;
    QDoubleSpinBox* lantern_delta_;
    QLabel* lossy_;
    DicodeSettingsBox* dicode_;
    QPushButton* generate_;

    void updateDecodeFields();
};

} // namespace tessera::widgets
