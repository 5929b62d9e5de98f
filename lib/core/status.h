// Status and StatusOr: the error channel for everything a user or a model can cause.
// Internal invariants use VITQ_CHECK (check.h) instead; "no match" results use std::optional.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vitq {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad flag, bad value
  kInvalidModel,     // malformed or inconsistent ONNX
  kNotFound,         // missing file, tensor, node
  kUnsupported,      // op, dtype or feature vitq does not handle
  kIoError,          // read or write failed
  kFailedPrecondition,
  kInternal,         // a bug in vitq
  kGateFailed,       // an accuracy gate the user set did not hold
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Prepends context ("while reading model.onnx: ...") and returns the same status.
  Status withContext(const std::string& context) const;
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status invalidModel(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
inline Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status ioError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status failedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status internalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design

  bool isOk() const { return std::holds_alternative<T>(data_); }
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(data_); }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> data_;
};

}  // namespace vitq

#define VITQ_CONCAT_INNER(a, b) a##b
#define VITQ_CONCAT(a, b) VITQ_CONCAT_INNER(a, b)

#define VITQ_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::vitq::Status vitq_status_ = (expr);          \
    if (!vitq_status_.isOk()) return vitq_status_; \
  } while (0)

#define VITQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.isOk()) return tmp.status();            \
  lhs = std::move(tmp).value()

/// `VITQ_ASSIGN_OR_RETURN(auto x, makeX());` returns the error status, else binds the value.
#define VITQ_ASSIGN_OR_RETURN(lhs, expr) \
  VITQ_ASSIGN_OR_RETURN_IMPL(VITQ_CONCAT(vitq_statusor_, __LINE__), lhs, expr)
