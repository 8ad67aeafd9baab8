#include "db.h"

#include <chrono>
#include <cstring>
#include <cerrno>
#include <random>
#include <sqlite3.h>
#include <thread>

namespace tessera::projects::detail {

namespace {

// SQLite's text for an I/O failure ("disk I/O error") does not say which; the system's does
// ("No space left on device", "File too large"). SQLite does not record errno for a short write,
// so errno itself is read for the codes only a full disk or a size limit gives.
std::string errorText(sqlite3* db, int rc) {
    const int saved_errno = errno;
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int primary = (db ? sqlite3_extended_errcode(db) : rc) & 0xff;
    if (db && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN)) {
        int e = sqlite3_system_errno(db);
        if (e == 0 && (saved_errno == ENOSPC || saved_errno == EFBIG || saved_errno == EDQUOT)) e = saved_errno;
        if (e != 0) msg += std::string(" (") + std::strerror(e) + ")";
    }
    return msg;
}

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& what) {
    throw DbError(what + ": " + errorText(db, rc), rc);
}

} // namespace

bool DbError::busy() const {
    int primary = code_ & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) {
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, std::string("preparing \"") + sql + "\"");
}

Stmt::~Stmt() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int index, int64_t value) {
    if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(db_, rc, "binding");
    return *this;
}

Stmt& Stmt::bind(int index, double value) {
    if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) fail(db_, rc, "binding");
    return *this;
}

Stmt& Stmt::bind(int index, const std::string& value) {
    int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) fail(db_, rc, "binding");
    return *this;
}

Stmt& Stmt::bindBlob(int index, const void* data, size_t size) {
    static const char kEmpty = 0;
    int rc = sqlite3_bind_blob64(stmt_, index, size ? data : &kEmpty, size, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) fail(db_, rc, "binding");
    return *this;
}

Stmt& Stmt::bindNull(int index) {
    if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(db_, rc, "binding");
    return *this;
}

bool Stmt::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    int ext = sqlite3_extended_errcode(db_);
    std::string msg = errorText(db_, rc);
    sqlite3_reset(stmt_);
    throw DbError(msg, ext ? ext : rc);
}

void Stmt::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool Stmt::isNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
int64_t Stmt::i64(int col) const {
    return sqlite3_column_int64(stmt_, col);
}
double Stmt::f64(int col) const {
    return sqlite3_column_double(stmt_, col);
}

std::string Stmt::text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
}

std::vector<uint8_t> Stmt::blob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

Db::Db(const std::filesystem::path& file, bool create, int busy_timeout_ms)
    : busy_timeout_ms_(busy_timeout_ms) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(file.string().c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw DbError("cannot open " + file.string() + ": " + msg, rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    try {
        // journal_mode=WAL is persistent; setting it when already set takes no lock worth waiting on.
        read([&] {
            Stmt s(db_, "PRAGMA journal_mode=WAL");
            if (s.step() && s.text(0) != "wal")
                throw DbError("cannot switch " + file.string() + " to WAL journaling (got " + s.text(0) +
                              ")");
        });
        exec("PRAGMA foreign_keys=ON");
        exec("PRAGMA synchronous=FULL");
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

Db::~Db() {
    if (db_) sqlite3_close(db_);
}

void Db::exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        sqlite3_free(err);
        std::string msg = errorText(db_, rc);
        int ext = sqlite3_extended_errcode(db_);
        throw DbError(msg, ext ? ext : rc);
    }
}

int64_t Db::lastInsertId() const {
    return sqlite3_last_insert_rowid(db_);
}
int Db::changes() const {
    return sqlite3_changes(db_);
}

void Db::commit() {
    exec("COMMIT");
    --depth_;
}

void Db::rollback() {
    --depth_;
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

bool Db::retryAllowed(int attempt) {
    // busy_timeout already waited inside SQLite; this covers the cases it does not (busy snapshot,
    // WAL recovery) with a few jittered sleeps.
    if (attempt >= 200) return false;
    thread_local std::minstd_rand rng(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + static_cast<int>(rng() % 45)));
    return true;
}

int64_t nowMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace tessera::projects::detail
