// Status and Result<T> for tessera::projects. The project library stands alone (it must not include the
// engine's headers), so it carries its own small pair with the same shape as the engine's
// Status/Expected: ok(), message()/error(), value(). Messages are written for the person reading them.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace tessera::projects {

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

template <class T> class Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Status status) : status_(std::move(status)) {
        if (status_.ok()) status_ = Status::error("internal error: Result built from an ok Status");
    }

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Status& status() const { return status_; }
    const std::string& error() const { return status_.message(); }

    T& value() & {
        check();
        return *value_;
    }
    const T& value() const& {
        check();
        return *value_;
    }
    T&& value() && {
        check();
        return std::move(*value_);
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    void check() const {
        if (!value_) throw std::runtime_error("value of a failed Result used: " + status_.message());
    }
    std::optional<T> value_;
    Status status_;
};

} // namespace tessera::projects
