#include "onnx_io/external_data.h"

#include <fstream>

#include "onnx_io/atomic_file.h"

namespace vitq {

namespace fs = std::filesystem;

StatusOr<fs::path> confineToFolder(const std::string& location, const fs::path& model_dir) {
  if (location.empty()) return invalidModel("external data location is empty");
  const fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) {
    return invalidModel("external data location '" + location + "' is absolute; it must be relative to the model's folder");
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(model_dir.empty() ? fs::path(".") : model_dir, ec);
  if (ec) return ioError("cannot resolve model folder '" + model_dir.string() + "': " + ec.message());
  const fs::path resolved = fs::weakly_canonical(base / rel, ec);
  if (ec) return ioError("cannot resolve external data '" + location + "': " + ec.message());
  // Compare path components: resolved must start with every component of base.
  auto b = base.begin();
  auto r = resolved.begin();
  for (; b != base.end(); ++b, ++r) {
    if (r == resolved.end() || *r != *b) {
      return invalidModel("external data location '" + location + "' leaves the model's folder " + base.string());
    }
  }
  return resolved;
}

StatusOr<ExternalSpan> locateExternalData(const onnx::TensorProto& proto, const fs::path& model_dir,
                                          size_t expected_bytes) {
  const std::string label = "tensor '" + proto.name() + "'";
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : proto.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      else if (entry.key() == "offset") offset = std::stoll(entry.value());
      else if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      return invalidModel(label + ": external data '" + entry.key() + "' is not a number: '" + entry.value() + "'");
    }
  }
  if (offset < 0) return invalidModel(label + ": negative external data offset");
  if (length >= 0 && static_cast<size_t>(length) != expected_bytes) {
    return invalidModel(label + ": external data length " + std::to_string(length) + " does not match its shape (" +
                        std::to_string(expected_bytes) + " bytes)");
  }
  auto confined = confineToFolder(location, model_dir);
  if (!confined.isOk()) return confined.status().withContext(label);
  const fs::path path = *confined;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return notFound(label + ": external data file '" + location + "' not found next to the model");
  protectInput(path, "external data of an input model");
  const auto file_size = fs::file_size(path, ec);
  if (ec) return ioError(label + ": cannot stat '" + path.string() + "': " + ec.message());
  if (static_cast<uintmax_t>(offset) > file_size || file_size - static_cast<uintmax_t>(offset) < expected_bytes) {
    return invalidModel(label + ": external data file '" + location + "' has " + std::to_string(file_size) +
                        " bytes; the tensor needs " + std::to_string(expected_bytes) + " at offset " + std::to_string(offset));
  }
  return ExternalSpan{label, path, static_cast<uint64_t>(offset), expected_bytes};
}

Status readExternalSpan(const ExternalSpan& span, void* destination) {
  std::ifstream in(span.path, std::ios::binary);
  if (!in) return ioError(span.label + ": cannot open '" + span.path.string() + "'");
  in.seekg(static_cast<std::streamoff>(span.offset));
  if (span.bytes && !in.read(static_cast<char*>(destination), static_cast<std::streamsize>(span.bytes))) {
    return ioError(span.label + ": short read from '" + span.path.string() + "'");
  }
  return Status::ok();
}

}  // namespace vitq
