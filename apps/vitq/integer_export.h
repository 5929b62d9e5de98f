// `vitq quantize --format integer` (recipe i-vit): the integer-only export (passes/lower), its
// accuracy report against the float model, run by vitq's executor with the functions inlined.
#pragma once

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "core/status.h"
#include "ir/graph.h"
#include "passes/ptq/quantize_pipeline.h"
#include "vitq/gates.h"

namespace vitq::cli {

struct IntegerExportArgs {
  std::string model, output, report, recipe;
  int threads = 1;
  std::vector<int64_t> labels;  // of the evaluation samples (--labels), may be empty
  bool guard = true;             // the fidelity guard (fidelity_guard.h)
  std::vector<Gate> gates;       // --fail-if
};

/// Runs the pipeline of \p options (integer_lowering set: plan, calibrate, integer-lowering) on
/// \p quantized, then reports and writes it.
Status runIntegerExport(const Model& reference, Model& quantized, const Dataset& calib, const Dataset& eval,
                        const PipelineOptions& options, const IntegerExportArgs& args);

}  // namespace vitq::cli
