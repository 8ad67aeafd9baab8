// ProjectHistorySource: the History dock over a Tessera project folder (tessera::projects). The
// project's SQLite connection lives on a thread of its own: queries, loads and writes run there and
// their results come back to the GUI thread through queued calls, so the GUI never waits on the
// database, and closing a project hands its unfinished writes to a pool thread. Deleting hides a generation behind the "trash" tag, which undo removes again.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/widgets/history_source.h"

#include <QString>
#include <functional>
#include <memory>

namespace tessera::widgets {

// Opens (or, with create, creates) the project at `folder` on the calling thread (schema migration
// included): for tests and tools. The studio uses openProjectHistoryAsync.
Expected<std::unique_ptr<HistorySource>> openProjectHistory(const QString& folder, bool create = false);

// The same on the global thread pool; `done` runs later on the GUI thread with the source or the
// error, unless `receiver` was destroyed first (then the opened project is closed and nothing runs).
// Call on the GUI thread.
using OpenedFn = std::function<void(Expected<std::unique_ptr<HistorySource>>)>;
void openProjectHistoryAsync(const QString& folder, bool create, QObject* receiver, OpenedFn done);

// The tag that hides a generation from the History dock.
inline constexpr const char* kTrashTag = "trash";

} // namespace tessera::widgets
