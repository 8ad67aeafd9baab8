// Shortcuts: every menu action registers here under a stable id with its default key sequence; the
// user's overrides live in QSettings ("shortcuts/<id>") and ShortcutDialog edits them. Menus show
// the current sequence because it is set on the QAction itself.
//
// Thread affinity: GUI thread only.
#pragma once

#include <QDialog>
#include <QKeySequence>
#include <QObject>
#include <QPointer>
#include <QString>
#include <map>

class QAction;
class QSettings;
class QTableWidget;

namespace tessera::widgets {

class ShortcutRegistry : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    void add(const QString& id, QAction* action, const QKeySequence& default_keys);
    void load(QSettings& store);       // applies saved overrides
    void save(QSettings& store) const; // writes only sequences that differ from the default
    void set(const QString& id, const QKeySequence& keys);
    void resetAll();
    QKeySequence keys(const QString& id) const;
    QKeySequence defaultKeys(const QString& id) const;
    QStringList ids() const;
    QAction* action(const QString& id) const;
    // Ids whose sequence is also used by another action (empty sequences excluded).
    QStringList conflicts() const;

private:
    struct Entry {
        QPointer<QAction> action;
        QKeySequence default_keys;
    };
    std::map<QString, Entry> entries_;
};

class ShortcutDialog : public QDialog {
    Q_OBJECT
public:
    ShortcutDialog(ShortcutRegistry* registry, QWidget* parent = nullptr);
    QTableWidget* table() const { return table_; }

private:
    ShortcutRegistry* registry_;
    QTableWidget* table_;
};

} // namespace tessera::widgets
