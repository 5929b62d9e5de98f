#include "calib/npy_io.h"

#include <cstring>
#include <fstream>
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

}  // namespace

StatusOr<Tensor> parseNpy(const std::string& bytes, const std::string& label) {
  const std::string where = "'" + label + "'";
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return invalidArgument(where + " is not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return invalidArgument(where + " is truncated");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return unsupported(where + " uses .npy format version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) return invalidArgument(where + " is truncated (header)");
  const std::string header = bytes.substr(offset, header_len);
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
  const size_t want = storageBytes(found->dtype, *count);
  const size_t have = bytes.size() - offset - header_len;
  if (have != want) {
    return invalidArgument(where + " holds " + std::to_string(have) + " bytes of data; shape " + shapeToString(shape) +
                           " of " + dataTypeName(found->dtype) + " needs " + std::to_string(want));
  }
  Tensor t(found->dtype, shape);
  if (want) std::memcpy(t.rawData(), bytes.data() + offset + header_len, want);
  return t;
}

StatusOr<Tensor> readNpy(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return notFound("file '" + path.string() + "' does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) {
    return invalidArgument("'" + path.string() + "' is not a regular file (a folder, pipe or device)");
  }
  protectInput(path, "an input file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return ioError("cannot open '" + path.string() + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  return parseNpy(bytes, path.string());
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
