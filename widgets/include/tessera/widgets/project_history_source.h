// ProjectHistorySource: the History dock over a Tessera project folder (tessera::projects). The
// project's SQLite connection lives on a thread of its own: queries, loads and writes run there and
// their results come back to the GUI thread through queued calls, so the GUI never waits on the
// database. Deleting hides a generation behind the "trash" tag, which undo removes again.
#pragma once

#include "tessera/engine/status.h"
#include "tessera/widgets/history_source.h"

#include <QString>
#include <memory>

namespace tessera::widgets {

// Opens (or, with create, creates) the project at `folder`. Opening runs the schema migration on
// the calling thread (a short, one-off wait when a project is opened, not per operation).
Expected<std::unique_ptr<HistorySource>> openProjectHistory(const QString& folder, bool create = false);

// The tag that hides a generation from the History dock.
inline constexpr const char* kTrashTag = "trash";

} // namespace tessera::widgets
