// A thin RAII layer over SQLite used inside tessera::projects only. Errors are thrown as DbError and
// turned into Status at the Project boundary (see guard()).
#pragma once

#include "tessera/projects/result.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace tessera::projects::detail {

class DbError : public std::runtime_error {
public:
    DbError(const std::string& message, int code = 1) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }
    bool busy() const; // SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock

private:
    int code_;
};

// A user error (bad id, invalid transition): thrown inside, reported as is.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Stmt {
public:
    Stmt(sqlite3* db, const char* sql);
    Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt();

    Stmt& bind(int index, int64_t value);
    Stmt& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Stmt& bind(int index, double value);
    Stmt& bind(int index, const std::string& value);
    Stmt& bind(int index, const char* value) { return bind(index, std::string(value)); }
    Stmt& bindBlob(int index, const void* data, size_t size);
    Stmt& bindNull(int index);
    Stmt& bind(int index, const std::optional<int64_t>& value) {
        return value ? bind(index, *value) : bindNull(index);
    }

    bool step(); // true while a row is available
    void run() {
        while (step()) {
        }
    }
    void reset();

    bool isNull(int col) const;
    int64_t i64(int col) const;
    double f64(int col) const;
    std::string text(int col) const;
    std::vector<uint8_t> blob(int col) const;
    std::optional<int64_t> optI64(int col) const {
        return isNull(col) ? std::nullopt : std::optional<int64_t>(i64(col));
    }

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class Db {
public:
    // Opens (or creates) the file and sets the connection's pragmas: WAL, foreign keys, busy timeout,
    // synchronous=FULL (a committed row survives power loss, not only a killed process).
    Db(const std::filesystem::path& file, bool create, int busy_timeout_ms);
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db();

    void exec(const std::string& sql);
    Stmt prepare(const char* sql) { return Stmt(db_, sql); }
    int64_t lastInsertId() const;
    int changes() const;
    sqlite3* raw() const { return db_; }

    // Runs f inside BEGIN IMMEDIATE ... COMMIT, retrying the whole transaction while another
    // connection holds the write lock. Nested calls join the outer transaction.
    template <class F> auto write(F&& f) -> decltype(f()) {
        if (depth_ > 0) return f();
        for (int attempt = 0;; ++attempt) {
            try {
                exec("BEGIN IMMEDIATE");
            } catch (const DbError& e) {
                if (e.busy() && retryAllowed(attempt)) continue;
                throw;
            }
            ++depth_;
            try {
                if constexpr (std::is_void_v<decltype(f())>) {
                    f();
                    commit();
                    return;
                } else {
                    auto r = f();
                    commit();
                    return r;
                }
            } catch (const DbError& e) {
                rollback();
                if (e.busy() && retryAllowed(attempt)) continue;
                throw;
            } catch (...) {
                rollback();
                throw;
            }
        }
    }
    // Runs a read, retrying on SQLITE_BUSY (WAL readers meet it only in rare recovery moments).
    template <class F> auto read(F&& f) -> decltype(f()) {
        for (int attempt = 0;; ++attempt) {
            try {
                return f();
            } catch (const DbError& e) {
                if (depth_ == 0 && e.busy() && retryAllowed(attempt)) continue;
                throw;
            }
        }
    }

private:
    void commit();
    void rollback();
    bool retryAllowed(int attempt); // sleeps a little; false once the retry budget is spent
    sqlite3* db_ = nullptr;
    int depth_ = 0;
    int busy_timeout_ms_;
};

int64_t nowMs();

// Runs f and converts what it throws into a Status with a readable message.
template <class F> Status guardStatus(const char* what, F&& f) {
    try {
        f();
        return {};
    } catch (const UsageError& e) {
        return Status::error(e.what());
    } catch (const std::exception& e) {
        return Status::error(std::string(what) + ": " + e.what());
    }
}
template <class T, class F> Result<T> guardResult(const char* what, F&& f) {
    try {
        return Result<T>(f());
    } catch (const UsageError& e) {
        return Status::error(e.what());
    } catch (const std::exception& e) {
        return Status::error(std::string(what) + ": " + e.what());
    }
}

} // namespace tessera::projects::detail
