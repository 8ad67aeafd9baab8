// Status and Expected<T>: how recoverable errors cross every engine boundary.
//
// Programmer errors use TS_ASSERT (always on, also in release builds). Bad files, missing devices,
// out-of-memory and malformed input travel as a Status with a message a user can act on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace tessera {

class Status {
public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& message() const { return message_; }

private:
    explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
    bool failed_ = false;
    std::string message_;
};

// Thrown inside a module only; converted to Status at its boundary (see TS_TRY_STATUS).
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

template <class T> class Expected {
public:
    Expected(T value) : value_(std::move(value)) {}
    Expected(Status status) : status_(std::move(status)) {
        if (status_.ok()) status_ = Status::error("internal error: Expected built from an ok Status");
    }

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Status& status() const { return status_; }
    const std::string& error() const { return status_.message(); }

    T& value() & { check(); return *value_; }
    const T& value() const& { check(); return *value_; }
    T&& value() && { check(); return std::move(*value_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    void check() const {
        if (!value_) throw Error("value of a failed Expected used: " + status_.message());
    }
    std::optional<T> value_;
    Status status_;
};

[[noreturn]] inline void assertFailed(const char* expr, const char* file, int line, const char* msg) {
    std::fprintf(stderr, "tessera: assertion failed: %s (%s) at %s:%d\n", expr, msg, file, line);
    std::abort();
}

} // namespace tessera

// Engine invariants: stays on in release builds.
#define TS_ASSERT(cond, msg)                                                                           \
    do {                                                                                               \
        if (!(cond)) ::tessera::assertFailed(#cond, __FILE__, __LINE__, msg);                          \
    } while (0)

// Throw a tessera::Error when a condition on input data does not hold.
#define TS_CHECK(cond, msg)                                                                            \
    do {                                                                                               \
        if (!(cond)) throw ::tessera::Error(msg);                                                      \
    } while (0)
