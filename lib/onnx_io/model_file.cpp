#include "onnx_io/model_file.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "onnx_io/atomic_file.h"

namespace vitq {

namespace fs = std::filesystem;

namespace {

// Parses a whole ModelProto and checks that it is one: protobuf accepts many byte strings that
// are not models (any empty message parses).
StatusOr<onnx::ModelProto> parseModelStream(google::protobuf::io::ZeroCopyInputStream& raw, const std::string& file) {
  onnx::ModelProto proto;
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  if (!proto.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return invalidModel(file + " is not a valid ONNX model: protobuf parsing failed (truncated or not an ONNX file)");
  }
  if (proto.ir_version() <= 0) {
    return invalidModel(file + " is not an ONNX model: it has no ir_version");
  }
  if (!proto.has_graph()) return invalidModel(file + " is not a usable ONNX model: it has no graph");
  return proto;
}

}  // namespace

StatusOr<onnx::ModelProto> readModelProto(const fs::path& path) {
  const std::string file = "'" + path.string() + "'";
  std::error_code ec;
  if (!fs::exists(path, ec)) return notFound("model file " + file + " does not exist");
  if (!fs::is_regular_file(path, ec)) return invalidArgument("model path " + file + " is not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return ioError("cannot read size of " + file + ": " + ec.message());
  if (size == 0) return invalidModel("model file " + file + " is empty");
  if (size > static_cast<uintmax_t>(INT_MAX)) {
    return unsupported("model file " + file + " is larger than 2 GB; protobuf cannot hold it (large weights belong in external data)");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open " + file + ": " + std::strerror(errno));
  protectInput(path, "the input model");
  google::protobuf::io::FileInputStream raw(fd);
  auto proto = parseModelStream(raw, file);
  ::close(fd);
  return proto;
}

StatusOr<onnx::ModelProto> parseModelProto(const void* data, size_t size, const std::string& label) {
  if (size > static_cast<size_t>(INT_MAX)) return unsupported(label + " is larger than 2 GB");
  google::protobuf::io::ArrayInputStream raw(data, static_cast<int>(size));
  return parseModelStream(raw, label);
}

StatusOr<std::string> serializeModelProto(const onnx::ModelProto& proto) {
  const size_t size = proto.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return unsupported("the model serializes to " + std::to_string(size) +
                       " bytes, over protobuf's 2 GB limit; write it with external data");
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    proto.SerializeToCodedStream(&coded);
    if (coded.HadError()) return internalError("protobuf serialization failed");
  }
  return bytes;
}

}  // namespace vitq
