#include <gtest/gtest.h>

#include "tessera/projects/sqlite_info.h"

TEST(SqliteInfo, LinkedSqliteHasFullTextSearch) {
    EXPECT_FALSE(tessera::projects::sqliteVersion().empty());
    EXPECT_TRUE(tessera::projects::sqliteHasFts5());
}
