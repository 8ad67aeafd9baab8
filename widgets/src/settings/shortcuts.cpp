#include "tessera/widgets/shortcuts.h"

#include <QAction>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QKeySequenceEdit>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>
#include <QVBoxLayout>

namespace tessera::widgets {

void ShortcutRegistry::add(const QString& id, QAction* action, const QKeySequence& default_keys) {
    entries_[id] = {action, default_keys};
    action->setShortcut(default_keys);
    action->setShortcutVisibleInContextMenu(true);
}

void ShortcutRegistry::load(QSettings& store) {
    for (auto& [id, e] : entries_) {
        const QVariant v = store.value("shortcuts/" + id);
        if (v.isValid() && e.action)
            e.action->setShortcut(QKeySequence(v.toString(), QKeySequence::PortableText));
    }
}

void ShortcutRegistry::save(QSettings& store) const {
    for (const auto& [id, e] : entries_) {
        if (!e.action) continue;
        if (e.action->shortcut() == e.default_keys)
            store.remove("shortcuts/" + id);
        else
            store.setValue("shortcuts/" + id, e.action->shortcut().toString(QKeySequence::PortableText));
    }
}

void ShortcutRegistry::set(const QString& id, const QKeySequence& keys) {
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.action) it->second.action->setShortcut(keys);
}

void ShortcutRegistry::resetAll() {
    for (auto& [id, e] : entries_)
        if (e.action) e.action->setShortcut(e.default_keys);
}

QKeySequence ShortcutRegistry::keys(const QString& id) const {
    auto it = entries_.find(id);
    return it != entries_.end() && it->second.action ? it->second.action->shortcut() : QKeySequence();
}

QKeySequence ShortcutRegistry::defaultKeys(const QString& id) const {
    auto it = entries_.find(id);
    return it != entries_.end() ? it->second.default_keys : QKeySequence();
}

QStringList ShortcutRegistry::ids() const {
    QStringList out;
    for (const auto& [id, e] : entries_) out << id;
    return out;
}

QAction* ShortcutRegistry::action(const QString& id) const {
    auto it = entries_.find(id);
    return it != entries_.end() ? it->second.action.data() : nullptr;
}

QStringList ShortcutRegistry::conflicts() const {
    QStringList out;
    for (const auto& [a, ea] : entries_)
        for (const auto& [b, eb] : entries_)
            if (a != b && !keys(a).isEmpty() && keys(a) == keys(b) && !out.contains(a)) out << a;
    return out;
}

ShortcutDialog::ShortcutDialog(ShortcutRegistry* registry, QWidget* parent)
    : QDialog(parent), registry_(registry) {
    setWindowTitle(tr("Keyboard shortcuts"));
    const QStringList ids = registry->ids();
    table_ = new QTableWidget(static_cast<int>(ids.size()), 2, this);
    table_->setHorizontalHeaderLabels({tr("Action"), tr("Shortcut")});
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->verticalHeader()->setVisible(false);
    for (int i = 0; i < ids.size(); ++i) {
        QAction* a = registry->action(ids[i]);
        auto* name = new QTableWidgetItem(a ? a->text().remove('&') : ids[i]);
        name->setFlags(Qt::ItemIsEnabled);
        table_->setItem(i, 0, name);
        auto* edit = new QKeySequenceEdit(registry->keys(ids[i]), table_);
        const QString id = ids[i];
        connect(edit, &QKeySequenceEdit::editingFinished, this,
                [this, id, edit] { registry_->set(id, edit->keySequence()); });
        table_->setCellWidget(i, 1, edit);
    }
    table_->resizeColumnsToContents();
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close | QDialogButtonBox::RestoreDefaults, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::accept);
    connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this, [this, ids] {
        registry_->resetAll();
        for (int i = 0; i < ids.size(); ++i)
            if (auto* e = qobject_cast<QKeySequenceEdit*>(table_->cellWidget(i, 1)))
                e->setKeySequence(registry_->keys(ids[i]));
    });
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(table_);
    layout->addWidget(buttons);
    resize(480, 420);
}

} // namespace tessera::widgets
