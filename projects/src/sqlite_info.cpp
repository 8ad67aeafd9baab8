#include "tessera/projects/sqlite_info.h"

#include <sqlite3.h>

namespace tessera::projects {

std::string sqliteVersion() { return sqlite3_libversion(); }

bool sqliteHasFts5() { return sqlite3_compileoption_used("ENABLE_FTS5") != 0; }

} // namespace tessera::projects
