// The schema and its migrations. The database's PRAGMA user_version is the number of migrations
// applied; opening a project applies the missing ones in one transaction.
#pragma once

#include "db.h"

#include <filesystem>

namespace tessera::projects::detail {

int latestSchemaVersion();
int userVersion(Db& db);
// Applies migrations (user_version, target]; throws UsageError when the database is newer than
// this build understands. Exposed with `target` so tests can build databases at older versions.
void migrate(Db& db, int target);

// PRAGMA application_id of every Tessera project database ("TSRA").
inline constexpr int kApplicationId = 0x54535241;
// Throws UsageError unless `db` is a Tessera project: application_id is Tessera's, or (projects made
// before the id was stamped) it is unset and the database holds Tessera's tables at a schema version
// of at least 1. An empty database or another application's is refused, never migrated into.
void requireTesseraDatabase(Db& db, const std::filesystem::path& file);
// PRAGMA quick_check; throws UsageError naming the first problems when the file is damaged.
void quickCheck(Db& db, const std::filesystem::path& file);
// Sets application_id when it is not yet set (a write only then).
void stampApplicationId(Db& db);

} // namespace tessera::projects::detail
