// Test graphs written in ONNX's textual syntax, parsed by onnx::OnnxParser and imported by vitq.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "ir/graph.h"
#include "onnx_io/importer.h"

namespace vitq::test {

/// Parses ONNX text into a ModelProto; fails the test on a syntax error.
onnx::ModelProto parseProto(const std::string& text);
/// Parses and imports; fails the test if either step fails.
Model parseModel(const std::string& text, const ImportOptions& options = {});
/// Parses and imports, returning the import status for error tests.
StatusOr<Model> tryImport(const std::string& text, const ImportOptions& options = {});

/// A fresh empty directory under the system temp folder, removed at the end of the process.
std::string makeTempDir(const std::string& prefix);

}  // namespace vitq::test
