// Reading and writing NumPy .npy files (format versions 1.0 to 3.0, little-endian, C order).
// Every header field and size is checked against the file before any data is read. Arrays are read
// in slices along their first dim (NpyArray), so a batch file or an archive member of any size
// takes the memory of the rows asked for, not of the whole array.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

/// Bytes read at any offset: a file, a part of one, an inflated archive member, a string.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  /// Reads \p length bytes at \p offset into \p out; the range lies within size().
  virtual Status read(uint64_t offset, uint64_t length, char* out) const = 0;
};

/// A regular file, read with pread (safe from several threads). Errors name the file.
class FileSource : public ByteSource {
 public:
  static StatusOr<std::shared_ptr<const FileSource>> open(const std::filesystem::path& path);
  ~FileSource() override;
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, uint64_t length, char* out) const override;
  const std::filesystem::path& path() const { return path_; }

 private:
  FileSource(std::filesystem::path path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::filesystem::path path_;
  int fd_;
  uint64_t size_;
};

/// One .npy array whose header has been read and checked (the source holds exactly the data its
/// shape needs); its data stays in the source until rows are asked for.
class NpyArray {
 public:
  /// Reads the header at the start of \p source; \p label names the array in errors.
  static StatusOr<NpyArray> open(std::shared_ptr<const ByteSource> source, std::string label);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const std::string& label() const { return label_; }
  /// Rows [first, first + count) along dim 0, as a tensor of shape [count, dims 1...].
  StatusOr<Tensor> rows(int64_t first, int64_t count) const;
  /// The whole array.
  StatusOr<Tensor> all() const;

 private:
  StatusOr<Tensor> readAt(uint64_t offset, Shape shape) const;

  std::shared_ptr<const ByteSource> source_;
  std::string label_;
  DataType dtype_ = DataType::kFloat;
  Shape shape_;
  uint64_t data_offset_ = 0;
  int64_t row_elements_ = 0;
};

/// Opens a .npy file (a regular file, recorded as an input of this run) and reads its header.
StatusOr<NpyArray> openNpy(const std::filesystem::path& path);
StatusOr<Tensor> readNpy(const std::filesystem::path& path);
/// Parses .npy bytes already in memory; \p label names the source in errors.
StatusOr<Tensor> parseNpy(const std::string& bytes, const std::string& label);
/// Serializes \p tensor as a version 1.0 .npy file image.
StatusOr<std::string> encodeNpy(const Tensor& tensor);
/// Writes atomically (temporary file, then rename).
Status writeNpy(const Tensor& tensor, const std::filesystem::path& path);

}  // namespace vitq
