// The quantization pipeline behind `vitq quantize`: the registered steps (quant_step.h) run in
// order over the model, driven by one options struct that recipes fill (recipes.h).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "calib/calibration_session.h"
#include "calib/dataset.h"
#include "ir/graph.h"
#include "passes/lower/integer_lowering.h"
#include "passes/ptq/awq.h"
#include "passes/ptq/bias_correction.h"
#include "passes/ptq/dual_clipping.h"
#include "passes/ptq/gptq.h"
#include "passes/ptq/block_reconstruction.h"
#include "passes/ptq/sequential_reconstruction.h"
#include "passes/ptq/materialize_qdq.h"
#include "passes/ptq/matmul_nbits_export.h"
#include "passes/ptq/noisy_bias.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/smooth_quant.h"

namespace vitq {

// kMeanMinMax: each calibration sample's own min and max, averaged over the samples (NNCF's
// default for activations), which keeps one unusual sample from setting the range.
enum class RangeMethod { kMinMax, kMeanMinMax, kPercentile, kMse, kEntropy };

// Which weights get learned rounding: none, the bridge blocks (Q-HyViT), or every block in order (BRECQ).
enum class Reconstruction { kNone, kBridges, kSequential };

struct PipelineOptions {
  QuantOptions quant;
  RangeMethod activation_range = RangeMethod::kMinMax;
  double percentile = 99.99;
  bool weight_mse = false;         // per-channel clipping search for weights, else min/max
  std::optional<double> smooth_alpha;  // SmoothQuant migration strength, when smoothing
  bool ln_reparam = false;         // RepQ-ViT post-LayerNorm scale reparameterization
  bool log_softmax = false;        // RepQ-ViT log-sqrt2 quantizer for post-Softmax activations
  bool median_scale = false;       // DopQ-ViT: median instead of mean per-tensor reference scale
  bool dual_clip = false;          // RepQuant: post-LayerNorm channel bounds chosen by the readers' output error
  DualClipOptions dual_clip_options;
  bool inputs_8bit = false;        // graph inputs keep 8 bits whatever --abits says
  bool stop_after_reparam = false; // leave the model float after the reparameterization
  bool bias_correction = false;    // mean output shift of each quantized layer folded into its bias
  bool noisy_bias = false;         // NoisyQuant on the inputs of linear layers
  NoisyBiasOptions noisy;
  bool awq = false;                // weight-only: AWQ's activation-aware weight scales before planning
  AwqOptions awq_options;
  bool gptq = false;               // GPTQ rounding of MatMul/Gemm weights on the calibrated grid
  GptqOptions gptq_options;
  Reconstruction reconstruct = Reconstruction::kNone;
  ReconstructionOptions reconstruction;
  int reconstruction_block_layers = 2;  // kSequential: quantized layers per block, at least
  bool four_bit_types = false;     // export tensors of at most 4 bits as INT4/UINT4 (opset 21)
  bool matmul_nbits = false;       // weight-only: 4-bit weight products written as com.microsoft.MatMulNBits
  // The integer-only export (I-ViT) in place of the QDQ nodes: every float activation is planned
  // and calibrated, then lowered (passes/lower/integer_lowering.h).
  bool integer_lowering = false;
  int residual_bits = 16;          // integer-lowering: the residual stream's and LayerNorm inputs' bits
  bool float_boundary = false;     // integer-lowering: ops without an integer form stay float between Q/DQ
  int threads = 1;
  // false: the steps marked final_run_only (noise, learned rounding) are skipped, as sensitivity
  // analysis and the budget search compare plain configurations.
  bool final_run = true;
  // Saved statistics (`vitq calibrate`) used instead of observing the calibration data.
  const CalibrationResult* precomputed_stats = nullptr;
  std::string precomputed_source;  // names them in errors
};

// One post-LayerNorm activation under RepQuant's dual clipping: the readers' squared output error
// per row (quantized and folded) with the starting (MSE) bounds and the chosen ones.
struct DualClipSite {
  std::string activation;
  double loss_before = 0;
  double loss_after = 0;
  int clipped_channels = 0;
};

struct PipelineReport {
  std::vector<std::string> pipeline;  // the steps run, in order (quant_step.h)
  QuantPlanSummary plan;
  MaterializeStats materialized;
  MatMulNBitsStats matmul_nbits;
  size_t calibration_samples = 0;
  std::vector<SmoothReport> smoothed;        // activations smoothed into their readers' weights
  std::vector<std::string> reparameterized;  // LayerNorm outputs folded to per-tensor
  std::vector<std::string> reparam_few_rows;  // foldable, but too few calibration rows to fold
  std::vector<DualClipSite> dual_clipped;
  int log_softmax = 0;
  std::vector<BiasCorrectionSite> bias_corrected;
  std::vector<NoisyBiasSite> noisy_bias;
  std::vector<AwqSiteReport> awq;
  std::vector<GptqLayerReport> gptq;
  std::vector<BlockReconstructionReport> reconstructed;
  IntegerLoweringReport integer;
};

/// Refuses materialize-qdq{matmul-nbits} without weight-only quantization of at most 4 bits.
Status checkMatMulNBits(const PipelineOptions& options);

/// The report's reconstruction sections (docs/report-format.md) for either scope, "bridges" or "all".
void addReconstructionReport(const char* scope, const PipelineOptions& options, const PipelineReport& report,
                             nlohmann::json& out);

/// The quantization decided but not yet written into the graph: the table holds every value's
/// parameters and points into \p model's graph (reparameterized, noise-biased, reconstructed).
struct PreparedQuantization {
  QuantTable table;
  PipelineReport report;
};

/// Histograms (and min/max) of every activation the options would quantize in \p model, for a
/// statistics file: enough for any range method afterwards.
StatusOr<CalibrationResult> collectActivationStats(const Model& model, const Dataset& calib, const PipelineOptions& options,
                                                   int bins);

/// Fails, before any work, when the reconstruction \p options ask for would meet a node it cannot
/// differentiate (reconstruction_check.h), on the blocks of \p model as planned now.
Status checkReconstruction(const Model& model, const PipelineOptions& options);

/// Everything quantizeModel does short of materializing the QDQ nodes.
StatusOr<PreparedQuantization> prepareQuantization(Model& model, const Dataset& calib, const PipelineOptions& options);

/// Plans the quantization of \p model's graph as it is and calibrates every planned activation
/// (\p fixed: activations whose parameters are already decided). No graph rewrite.
StatusOr<QuantTable> calibrateQuantTable(Model& model, const Dataset& calib, const PipelineOptions& options,
                                         const std::unordered_map<const Value*, QuantParams>& fixed,
                                         PipelineReport& report);

/// Rewrites \p model in place into its quantized (QDQ) form, calibrating on \p calib.
StatusOr<PipelineReport> quantizeModel(Model& model, const Dataset& calib, const PipelineOptions& options);

}  // namespace vitq
