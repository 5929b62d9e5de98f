// Checks on output paths, made before any work by every subcommand that writes files.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace vitq::cli {

/// A path on the command line and the option that gave it ("--data", "-o", "the input model").
struct NamedPath {
  std::string option;
  std::string path;
};

/// Refuses outputs that cannot be written as files (empty, a folder, a device or pipe, a missing
/// or read-only folder), that are one of \p inputs (even through links), or that two outputs
/// share. Empty paths in \p inputs and \p outputs are options not given.
Status checkOutputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

/// checkOutputs for the commands that read one model and write one file.
inline Status checkOutputPath(const std::string& model, const std::string& output) {
  return checkOutputs({{"the input model", model}}, {{"-o", output}});
}

}  // namespace vitq::cli
