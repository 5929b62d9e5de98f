// Test graphs written in ONNX's textual syntax, parsed by onnx::OnnxParser and imported by vitq.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "ir/graph.h"
#include "onnx_io/importer.h"

namespace vitq::test {

/// Parses ONNX text into a ModelProto; fails the test on a syntax error.
onnx::ModelProto parseProto(const std::string& text);
/// Parses and imports; fails the test if either step fails.
Model parseModel(const std::string& text, const ImportOptions& options = {});
/// Parses and imports, returning the import status for error tests.
StatusOr<Model> tryImport(const std::string& text, const ImportOptions& options = {});

/// "float[d0,d1..] NAME = {...}" with normal values of standard deviation \p amp drawn with
/// \p seed, for the initializer list of a test model.
std::string normalInitializer(const std::string& name, const std::vector<int64_t>& shape, unsigned seed, float amp);

/// The text of a one-graph model at \p opset: \p signature is "(inputs) => (outputs)"; a body
/// whose first line is "  <...>" gives the initializers.
std::string oneGraphModel(int opset, const std::string& signature, std::string body);
/// Parses \p text and runs it with vitq's executor at \p opset (the model is kept alive for the
/// process, since executors point into their graphs).
StatusOr<TensorMap> runModelText(const std::string& text, int opset, TensorMap feeds);

/// A fresh empty directory under the system temp folder, removed at the end of the process.
std::string makeTempDir(const std::string& prefix);

}  // namespace vitq::test
