// What SQLite this build links (for `doctor`).
#pragma once

#include <string>

namespace tessera::projects {

std::string sqliteVersion();
// Whether the linked SQLite offers FTS5 (full-text search over prompts, tags and notes).
bool sqliteHasFts5();

} // namespace tessera::projects
