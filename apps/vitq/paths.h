// Checks on output paths shared by every subcommand that writes a model.
#pragma once

#include <filesystem>

#include "core/status.h"

namespace vitq::cli {

/// Refuses an output that is the input itself (even through links) or lies in a missing folder.
inline Status checkOutputPath(const std::filesystem::path& input, const std::filesystem::path& output) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(input, output, ec)) {
    return invalidArgument("output '" + output.string() + "' is the input model; vitq never overwrites its input");
  }
  const fs::path dir = output.has_parent_path() ? output.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    return notFound("output folder '" + dir.string() + "' does not exist");
  }
  return Status::ok();
}

}  // namespace vitq::cli
