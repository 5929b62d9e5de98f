#include "calib/npy_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

#include "onnx_io/atomic_file.h"

namespace vitq {
namespace {

struct Descr {
  const char* text;
  DataType dtype;
};

constexpr Descr kDescrs[] = {
    {"<f4", DataType::kFloat}, {"<f8", DataType::kDouble}, {"|i1", DataType::kInt8},  {"|u1", DataType::kUInt8},
    {"<i2", DataType::kInt16}, {"<u2", DataType::kUInt16}, {"<i4", DataType::kInt32}, {"<u4", DataType::kUInt32},
    {"<i8", DataType::kInt64}, {"<u8", DataType::kUInt64}, {"|b1", DataType::kBool},  {"<f2", DataType::kFloat16},
};

// numpy writes headers of a few hundred bytes; a longer claim is damage, not an array.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

class StringSource : public ByteSource {
 public:
  explicit StringSource(const std::string& bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  Status read(uint64_t offset, uint64_t length, char* out) const override {
    std::memcpy(out, bytes_.data() + offset, length);
    return Status::ok();
  }

 private:
  const std::string& bytes_;
};

}  // namespace

StatusOr<std::shared_ptr<const FileSource>> FileSource::open(const std::filesystem::path& path) {
  // O_NONBLOCK: a pipe is refused below instead of waiting for a writer; regular files ignore it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ioError("cannot open '" + path.string() + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidArgument("'" + path.string() + "' is not a regular file (a folder, pipe or device)");
  }
  return std::shared_ptr<const FileSource>(new FileSource(path, fd, static_cast<uint64_t>(st.st_size)));
}

FileSource::~FileSource() { ::close(fd_); }

Status FileSource::read(uint64_t offset, uint64_t length, char* out) const {
  while (length > 0) {
    const ssize_t n = ::pread(fd_, out, length, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("reading '" + path_.string() + "' failed: " + std::strerror(errno));
    if (n == 0) return ioError("'" + path_.string() + "' became shorter while it was read");
    out += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return Status::ok();
}

StatusOr<NpyArray> NpyArray::open(std::shared_ptr<const ByteSource> source, std::string label) {
  const std::string where = "'" + label + "'";
  const uint64_t total = source->size();
  char lead[12] = {};
  if (total < 10) return invalidArgument(where + " is not a .npy file");
  VITQ_RETURN_IF_ERROR(source->read(0, std::min<uint64_t>(total, sizeof lead), lead));
  if (std::memcmp(lead, "\x93NUMPY", 6) != 0) return invalidArgument(where + " is not a .npy file");
  const int major = static_cast<unsigned char>(lead[6]);
  uint64_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(lead[8]) | (static_cast<uint64_t>(static_cast<unsigned char>(lead[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (total < 12) return invalidArgument(where + " is truncated");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<uint64_t>(static_cast<unsigned char>(lead[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return unsupported(where + " uses .npy format version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes) {
    return invalidArgument(where + ": its .npy header claims " + std::to_string(header_len) + " bytes (at most " +
                           std::to_string(kMaxHeaderBytes) + " are read)");
  }
  if (total < offset + header_len) return invalidArgument(where + " is truncated (header)");
  std::string header(header_len, '\0');
  VITQ_RETURN_IF_ERROR(source->read(offset, header_len, header.data()));
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'"))) {
    return invalidArgument(where + ": .npy header has no descr");
  }
  const std::string descr = m[1];
  const Descr* found = nullptr;
  for (const auto& d : kDescrs) {
    if (descr == d.text || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == std::string(d.text).substr(1))) found = &d;
  }
  if (!found) return unsupported(where + ": .npy element type '" + descr + "' is not supported (little-endian numeric or bool)");
  if (std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*True"))) {
    return unsupported(where + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  }
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) {
    return invalidArgument(where + ": .npy header has no shape");
  }
  Shape shape;
  std::stringstream dims(m[1].str());
  std::string item;
  while (std::getline(dims, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    if (item.empty()) continue;
    try {
      shape.push_back(std::stoll(item));
    } catch (const std::exception&) {
      return invalidArgument(where + ": bad dimension '" + item + "' in .npy shape");
    }
  }
  auto count = checkedElementCount(shape);
  if (!count.isOk()) return invalidArgument(where + ": " + count.status().message());
  const uint64_t want = storageBytes(found->dtype, *count);
  const uint64_t have = total - offset - header_len;
  if (have != want) {
    return invalidArgument(where + " holds " + std::to_string(have) + " bytes of data; shape " + shapeToString(shape) +
                           " of " + dataTypeName(found->dtype) + " needs " + std::to_string(want));
  }
  NpyArray a;
  a.source_ = std::move(source);
  a.label_ = std::move(label);
  a.dtype_ = found->dtype;
  a.shape_ = std::move(shape);
  a.data_offset_ = offset + header_len;
  a.row_elements_ = *checkedElementCount(Shape(a.shape_.begin() + (a.shape_.empty() ? 0 : 1), a.shape_.end()));
  return a;
}

StatusOr<Tensor> NpyArray::readAt(uint64_t offset, Shape shape) const {
  VITQ_RETURN_IF_ERROR(checkAllocation(dtype_, shape, "'" + label_ + "'"));
  Tensor t = Tensor::uninitialized(dtype_, std::move(shape));
  if (t.byteSize()) VITQ_RETURN_IF_ERROR(source_->read(data_offset_ + offset, t.byteSize(), static_cast<char*>(t.rawData())));
  return t;
}

StatusOr<Tensor> NpyArray::rows(int64_t first, int64_t count) const {
  if (shape_.empty() || first < 0 || count < 0 || first > shape_[0] || count > shape_[0] - first) {
    return internalError("rows [" + std::to_string(first) + ", +" + std::to_string(count) + ") of '" + label_ +
                         "' of shape " + shapeToString(shape_));
  }
  Shape shape = shape_;
  shape[0] = count;
  return readAt(storageBytes(dtype_, first * row_elements_), std::move(shape));
}

StatusOr<Tensor> NpyArray::all() const { return readAt(0, shape_); }

StatusOr<NpyArray> openNpy(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return notFound("file '" + path.string() + "' does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) {
    return invalidArgument("'" + path.string() + "' is not a regular file (a folder, pipe or device)");
  }
  VITQ_ASSIGN_OR_RETURN(auto file, FileSource::open(path));
  protectInput(path, "an input file");
  return NpyArray::open(std::move(file), path.string());
}

StatusOr<Tensor> readNpy(const std::filesystem::path& path) {
  VITQ_ASSIGN_OR_RETURN(NpyArray array, openNpy(path));
  return array.all();
}

StatusOr<Tensor> parseNpy(const std::string& bytes, const std::string& label) {
  VITQ_ASSIGN_OR_RETURN(NpyArray array, NpyArray::open(std::make_shared<StringSource>(bytes), label));
  return array.all();
}

StatusOr<std::string> encodeNpy(const Tensor& tensor) {
  const Descr* found = nullptr;
  for (const auto& d : kDescrs) {
    if (d.dtype == tensor.dtype()) found = &d;
  }
  if (!found) return unsupported(std::string("cannot write ") + dataTypeName(tensor.dtype()) + " tensors as .npy");
  std::string shape;
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ",";
  if (tensor.rank() > 1) shape.pop_back();  // numpy writes (3,) for 1-D and (2, 3) otherwise
  std::string header = std::string("{'descr': '") + found->text + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.rawData()), tensor.byteSize());
  return out;
}

Status writeNpy(const Tensor& tensor, const std::filesystem::path& path) {
  VITQ_ASSIGN_OR_RETURN(std::string bytes, encodeNpy(tensor));
  AtomicFile file(path);
  VITQ_RETURN_IF_ERROR(file.write(bytes));
  return file.commit();
}

}  // namespace vitq
