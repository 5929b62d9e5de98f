// libFuzzer harness for the importer: bytes -> ModelProto (the CLI's own parse and checks) ->
// importModel (names, tensors, external data, shape inference, constant lifting, verifier) ->
// export and serialize again. Any input must give a Status, never a crash, a sanitizer report,
// a leak or a huge allocation. Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "ir/verifier.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "onnx_io/model_file.h"

namespace {

// External data is resolved against an empty folder: nothing outside it may ever be read.
const std::filesystem::path& emptyModelFolder() {
  static const std::filesystem::path folder = [] {
    auto dir = std::filesystem::temp_directory_path() / "vitq-fuzz-empty";
    std::filesystem::create_directories(dir);
    return dir;
  }();
  return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto proto = vitq::parseModelProto(data, size, "fuzz input");
  if (!proto.isOk()) return 0;
  auto model = vitq::importModel(*proto, emptyModelFolder());
  if (!model.isOk()) return 0;
  // importModel ran the verifier; a model it accepted must stay valid and export again.
  if (!vitq::verifyModel(*model).isOk()) __builtin_trap();
  (void)vitq::serializeModelProto(vitq::exportModel(*model));
  return 0;
}
