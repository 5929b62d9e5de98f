// The most memory one tensor may take: this machine's physical memory. Hostile or broken models
// declare tensors of hundreds of GB; asking the system for them either fails late (bad_alloc deep
// inside a kernel) or, with overcommit, succeeds and gets the process killed while the buffer is
// zeroed. Checking the size first turns both into an error that names the tensor or node.
#pragma once

#include <cstddef>
#include <new>
#include <string>


namespace vitq {

/// Physical memory in bytes (read once).
size_t tensorByteLimit();

/// Thrown by Tensor's constructor past the limit; callers that know the tensor or node catch it
/// (importer, executor), the CLI reports the rest. A bad_alloc, so generic handlers still see a
/// memory error. what(): "needs 400 GB, more than this machine's memory (25 GB)".
class TensorTooLarge : public std::bad_alloc {
 public:
  explicit TensorTooLarge(size_t bytes);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace vitq
