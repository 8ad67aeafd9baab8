// The schema and its migrations. The database's PRAGMA user_version is the number of migrations
// applied; opening a project applies the missing ones in one transaction.
#pragma once

#include "db.h"

namespace tessera::projects::detail {

int latestSchemaVersion();
int userVersion(Db& db);
// Applies migrations (user_version, target]; throws UsageError when the database is newer than
// this build understands. Exposed with `target` so tests can build databases at older versions.
void migrate(Db& db, int target);

} // namespace tessera::projects::detail
