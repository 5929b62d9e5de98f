// The most memory one tensor may take: half of this machine's physical memory. Hostile or broken
// models and data declare tensors of hundreds of GB; asking the system for them either fails late
// (bad_alloc deep inside a kernel) or, with overcommit, succeeds and gets the process killed while
// the buffer is zeroed. Checking the size first turns both into an error that names the tensor or
// node. Half, not all: every use of a tensor holds it and at least one tensor computed from it
// (a kernel's input and output, a sample and the activations it feeds), so one larger tensor can
// only run the machine out of memory.
#pragma once

#include <cstddef>
#include <new>
#include <string>


namespace vitq {

/// Half of the physical memory, in bytes (read once).
size_t tensorByteLimit();
/// "needs 17.18 GB, more than half of this machine's memory (12.34 GB)": the message of a tensor
/// of \p bytes past tensorByteLimit().
std::string tensorTooLargeMessage(size_t bytes);

/// Thrown by Tensor's constructor past the limit; callers that know the tensor or node catch it
/// (importer, executor), the CLI reports the rest. A bad_alloc, so generic handlers still see a
/// memory error. what(): tensorTooLargeMessage(), or for a shape of more elements than any
/// machine holds, "of shape [...] has more than N elements".
class TensorTooLarge : public std::bad_alloc {
 public:
  explicit TensorTooLarge(size_t bytes) : message_(tensorTooLargeMessage(bytes)) {}
  explicit TensorTooLarge(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace vitq
