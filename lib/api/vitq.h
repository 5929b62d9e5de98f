// vitq's C++ API: what `vitq quantize` does, for programs that link vitq (find_package(vitq),
// target vitq::vitq; docs/api.md). Load a float model with its samples, quantize it with a named
// recipe, compare it with the float model, save it:
//
//   auto in = vitq::loadQuantizationInputs("model.onnx", "samples.npy", {64, 16, 0}, 2);
//   vitq::QuantizeRequest request;
//   request.recipe = "repq-vit";
//   auto done = vitq::quantize(*in, request);             // in->working becomes the QDQ model
//   auto report = vitq::accuracyReport(*in, request);   // JSON, as docs/report-format.md
//   vitq::saveModel(in->working, "model-w8a8.onnx");
//
// Every call returns a Status or StatusOr whose message names the file, node or tensor at fault.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/quantization_inputs.h"
#include "core/status.h"
#include "onnx_io/exporter.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

struct QuantizeRequest {
  std::string recipe = "minmax";  // a name `vitq passes` lists (minmax, mse, repq-vit, ..., NAME+noisy)
  int weight_bits = 8, activation_bits = 8;
  std::vector<std::string> exclude;  // node-name globs or op types kept float, as --exclude
  int threads = 0;                   // 0: the cores this process may use
};

/// Quantizes \p in.working with the recipe on \p in.calib: afterwards it is the QDQ model that
/// `vitq quantize --recipe R --wbits W --abits A` writes for the same inputs. Returns what the
/// steps did (the report's recipe and quantization sections come from it).
StatusOr<PipelineReport> quantize(QuantizationInputs& in, const QuantizeRequest& request);

/// \p in.reference against \p in.working on \p in.eval: outputs, layers and the summary
/// (docs/report-format.md).
StatusOr<nlohmann::json> accuracyReport(const QuantizationInputs& in, const QuantizeRequest& request);

}  // namespace vitq
