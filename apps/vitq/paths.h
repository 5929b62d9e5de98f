// Checks on output paths shared by every subcommand that writes a model.
#pragma once

#include <filesystem>

#include "core/status.h"
#include "onnx_io/atomic_file.h"

namespace vitq::cli {

/// Refuses an output that is the input itself (even through links) or a folder, or lies in a
/// missing or read-only folder.
inline Status checkOutputPath(const std::filesystem::path& input, const std::filesystem::path& output) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(input, output, ec)) {
    return invalidArgument("output '" + output.string() + "' is the input model; vitq never overwrites its input");
  }
  if (fs::is_directory(output, ec)) return invalidArgument("output '" + output.string() + "' is a folder; name a file");
  return checkDestinationFolder(output);
}

}  // namespace vitq::cli
