// Migrations, oldest first. Never edit a migration that has shipped: add a new one. Each is tested
// from every older version (tests/projects/migration_test.cpp).
#include "schema.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace tessera::projects::detail {

namespace {

struct Migration {
    int version;
    const char* sql;
};

const Migration kMigrations[] = {
    // v1: the records.
    {1, R"sql(
CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL, family TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL DEFAULT '', size_bytes INTEGER NOT NULL DEFAULT 0, added_at INTEGER NOT NULL,
  UNIQUE(path, content_hash));
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
  priority INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'queued', created_at INTEGER NOT NULL,
  started_at INTEGER, finished_at INTEGER, error TEXT NOT NULL DEFAULT '', result TEXT);
CREATE TABLE assets(
  id INTEGER PRIMARY KEY, rel_path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, kind TEXT NOT NULL DEFAULT '',
  size_bytes INTEGER NOT NULL DEFAULT 0, meta TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL DEFAULT 'ok',
  created_at INTEGER NOT NULL);
CREATE TABLE generations(
  id INTEGER PRIMARY KEY,
  job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  parent_id INTEGER REFERENCES generations(id) ON DELETE SET NULL,
  branch_token INTEGER NOT NULL DEFAULT 0, seed INTEGER NOT NULL DEFAULT 0, prompt TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}', tokens BLOB, token_stats BLOB, top_k TEXT,
  state TEXT NOT NULL DEFAULT 'complete',
  asset_id INTEGER REFERENCES assets(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX generations_parent ON generations(parent_id);
CREATE INDEX generations_created ON generations(created_at);
CREATE INDEX generations_model ON generations(model_id);
CREATE INDEX generations_asset ON generations(asset_id);
CREATE TABLE scenes(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', program TEXT NOT NULL, parsed TEXT,
  created_at INTEGER NOT NULL);
CREATE TABLE erasures(
  id INTEGER PRIMARY KEY, concept TEXT NOT NULL,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  prompt_pairs TEXT NOT NULL DEFAULT '[]', loss_curve BLOB,
  delta_asset_id INTEGER REFERENCES assets(id) ON DELETE SET NULL, created_at INTEGER NOT NULL);
CREATE TABLE exports(
  id INTEGER PRIMARY KEY,
  generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
  target_path TEXT NOT NULL, format TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);
)sql"},
    // v2: ratings, notes, tags and the full-text index over prompts, tags and notes.
    {2, R"sql(
ALTER TABLE generations ADD COLUMN rating INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN notes TEXT NOT NULL DEFAULT '';
CREATE INDEX generations_rating ON generations(rating);
CREATE TABLE tags(
  generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE, tag TEXT NOT NULL,
  PRIMARY KEY(generation_id, tag)) WITHOUT ROWID;
CREATE INDEX tags_tag ON tags(tag);
CREATE VIRTUAL TABLE search_index USING fts5(prompt, tags, notes, tokenize='unicode61 remove_diacritics 2');
INSERT INTO search_index(rowid, prompt, tags, notes) SELECT id, prompt, '', notes FROM generations;
CREATE TRIGGER generations_ai AFTER INSERT ON generations BEGIN
  INSERT INTO search_index(rowid, prompt, tags, notes) VALUES (NEW.id, NEW.prompt, '', NEW.notes);
END;
CREATE TRIGGER generations_au AFTER UPDATE OF prompt, notes ON generations BEGIN
  UPDATE search_index SET prompt = NEW.prompt, notes = NEW.notes WHERE rowid = NEW.id;
END;
CREATE TRIGGER generations_ad AFTER DELETE ON generations BEGIN
  DELETE FROM search_index WHERE rowid = OLD.id;
END;
CREATE TRIGGER tags_ai AFTER INSERT ON tags BEGIN
  UPDATE search_index SET tags = (SELECT group_concat(tag, ' ') FROM tags WHERE generation_id = NEW.generation_id)
  WHERE rowid = NEW.generation_id;
END;
CREATE TRIGGER tags_ad AFTER DELETE ON tags BEGIN
  UPDATE search_index
  SET tags = coalesce((SELECT group_concat(tag, ' ') FROM tags WHERE generation_id = OLD.generation_id), '')
  WHERE rowid = OLD.generation_id;
END;
)sql"},
    // v3: explicit queue positions (reordering) and the process running a job (restart survival).
    {3, R"sql(
ALTER TABLE jobs ADD COLUMN queue_pos INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET queue_pos = id;
ALTER TABLE jobs ADD COLUMN runner TEXT;
CREATE INDEX jobs_queue ON jobs(state, priority DESC, queue_pos);
)sql"},
    // v4: the batch and shard a generation came from (tessera-cli batch writes params.batch), as
    // indexed columns computed from params, so history filters by them without a scan.
    {4, R"sql(
ALTER TABLE generations ADD COLUMN batch_id TEXT
  GENERATED ALWAYS AS (json_extract(params, '$.batch.id')) VIRTUAL;
ALTER TABLE generations ADD COLUMN batch_shard INTEGER
  GENERATED ALWAYS AS (json_extract(params, '$.batch.shard')) VIRTUAL;
CREATE INDEX generations_batch ON generations(batch_id, batch_shard);
)sql"},
    // v5: videos. A generation is an 'image' or a 'video' (its asset the video file, its tokens the
    // latent codes); a video's thumbnail strip is an asset of its own.
    {5, R"sql(
ALTER TABLE generations ADD COLUMN kind TEXT NOT NULL DEFAULT 'image';
ALTER TABLE generations ADD COLUMN strip_asset_id INTEGER REFERENCES assets(id) ON DELETE SET NULL;
CREATE INDEX generations_kind ON generations(kind);
)sql"},
};

} // namespace

int latestSchemaVersion() {
    return kMigrations[std::size(kMigrations) - 1].version;
}

int userVersion(Db& db) {
    return db.read([&] {
        Stmt s = db.prepare("PRAGMA user_version");
        s.step();
        return static_cast<int>(s.i64(0));
    });
}

namespace {

int applicationId(Db& db) {
    return db.read([&] {
        Stmt s = db.prepare("PRAGMA application_id");
        s.step();
        return static_cast<int>(s.i64(0));
    });
}

} // namespace

void requireTesseraDatabase(Db& db, const std::filesystem::path& file) {
    const int id = applicationId(db);
    if (id == kApplicationId) return;
    if (id != 0)
        throw UsageError(file.string() + " is another application's database (application_id " + std::to_string(id) +
                         "), not a Tessera project");
    const bool has_tables = db.read([&] {
        Stmt s = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('generations', 'jobs', "
                            "'assets')");
        s.step();
        return s.i64(0) == 3;
    });
    if (userVersion(db) < 1 || !has_tables)
        throw UsageError(file.string() + " holds no Tessera project (an empty or foreign SQLite database)");
}

void quickCheck(Db& db, const std::filesystem::path& file) {
    std::string problems;
    int n = 0;
    try {
        db.read([&] {
            Stmt s = db.prepare("PRAGMA quick_check");
            while (s.step()) {
                std::string line = s.text(0);
                if (line == "ok") continue;
                ++n; // a row may hold several lines, headed by "*** in database main ***"
                if (problems.size() < 600) problems += "\n  " + line;
            }
        });
    } catch (const DbError& e) {
        // A damaged file often fails the check itself ("database disk image is malformed").
        problems = std::string("\n  ") + e.what();
        n = std::max(n, 1);
    }
    if (n > 0)
        throw UsageError(file.string() + " is damaged (SQLite quick_check found " + std::to_string(n) +
                         (n == 1 ? " problem" : " problems") + "); nothing was written to it. Copy out what "
                         "`tessera-cli project list` still reads, or restore a backup:" + problems);
}

void stampApplicationId(Db& db) {
    if (applicationId(db) == kApplicationId) return;
    db.write([&] { db.exec("PRAGMA application_id = " + std::to_string(kApplicationId)); });
}

void migrate(Db& db, int target) {
    // Most opens find the schema current: a read then, so that opening takes no write lock.
    if (userVersion(db) == target) return;
    db.write([&] {
        int v = userVersion(db);
        if (v > latestSchemaVersion())
            throw UsageError("this project uses schema version " + std::to_string(v) +
                             ", newer than this Tessera understands (" +
                             std::to_string(latestSchemaVersion()) + "); open it with a newer Tessera");
        for (const auto& m : kMigrations) {
            if (m.version <= v || m.version > target) continue;
            try {
                db.exec(m.sql);
            } catch (const DbError& e) {
                if (e.busy()) throw;
                throw DbError("migrating the schema to version " + std::to_string(m.version) + ": " +
                                  e.what(),
                              e.code());
            }
            db.exec("PRAGMA user_version = " + std::to_string(m.version));
        }
    });
}

} // namespace tessera::projects::detail
