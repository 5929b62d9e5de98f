#include "vitq/paths.h"

#include <filesystem>

#include "onnx_io/atomic_file.h"

namespace vitq::cli {
namespace fs = std::filesystem;

namespace {

// Two spellings of one file that does not exist yet ("out.json" and "./out.json") compare equal.
fs::path normalized(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? fs::path(path).lexically_normal() : p;
}

}  // namespace

Status checkOutputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& out = outputs[i];
    if (out.path.empty()) {
      if (out.option == "-o") return invalidArgument("-o: the output path is empty");
      continue;
    }
    std::error_code ec;
    const bool exists = fs::exists(out.path, ec);
    for (const NamedPath& in : inputs) {
      if (!exists || in.path.empty() || !fs::exists(in.path, ec)) continue;
      if (fs::equivalent(in.path, out.path, ec)) {
        const std::string which = in.option.rfind("--", 0) == 0 ? "the file of " + in.option : in.option;
        return invalidArgument("output '" + out.path + "' (" + out.option + ") is " + which +
                               "; vitq never overwrites its inputs");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (!outputs[j].path.empty() && normalized(outputs[j].path) == normalized(out.path)) {
        return invalidArgument(outputs[j].option + " and " + out.option + " both name '" + out.path +
                               "'; each output needs its own file");
      }
    }
    const Status writable = checkDestination(out.path);
    if (!writable.isOk()) return out.option == "-o" ? writable : writable.withContext(out.option);
  }
  return Status::ok();
}

}  // namespace vitq::cli
