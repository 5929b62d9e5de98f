// I-ViT integer lowering (docs/recipes.md "i-vit", `vitq quantize --recipe i-vit --format integer`):
// calibrates a float model and rewrites it into an integer-only ONNX graph, float only at the input
// quantizer and the output dequantizer (docs/algorithms.md §1.1, §1.6, §1.7):
//
//   input x (float)  -> Div(s) -> Round -> Clip -> Cast int32     [nodes "input_quantizer/*"]
//   Conv             -> ConvInteger (uint8; ONNX Runtime has only u8u8): weights + 128 with zero point
//                       128, inputs asymmetric over their calibrated range (narrow codes: + 128) + int32 bias
//   MatMul/Gemm W    -> MatMulInteger (int8 x int8 per-channel weights) + int32 bias
//   MatMul act x act -> MatMulInteger on int8 codes (q k^T, attn v); a constant Mul/Div folds into the scale
//   Softmax          -> vitq.Shiftmax     GELU -> vitq.ShiftGELU     LayerNorm -> vitq.ILayerNorm
//   Add (residual)   -> each branch requantized to the output's 16-bit scale, summed, clipped
//   Add scalar/bias  -> int32 codes added to a linear accumulator (at its per-channel scales)
//   Mul act x act    -> int32 product of 16-bit codes (HardSwish spelled x · Clip(x + 3, 0, 6) / 6)
//   Relu             -> Max(x, 0); Clip with constant bounds -> Clip on the codes (ReLU6)
//   HardSigmoid      -> codes at scale 2^-14: requantized α x + round(β 2^14), clipped to [0, 2^14];
//                       HardSwish -> x times that
//   Mul(x, Sigmoid(k x)) (SiLU) -> vitq.ShiftGELU with x0 = floor(-1/(k s)) (x σ(k x))
//   GlobalAveragePool -> ReduceSum over H, W; 1/(H W) joins the scale, or, with a dynamic H or W,
//                       an integer division by H W read from the shape
//   AveragePool      -> depthwise ConvInteger with an all-ones kernel (no padding); 1/(kh kw) joins the scale
//   shape ops        -> the same op on the codes (per-channel codes are requantized to one scale first)
//   output (float)   -> Cast float -> Mul(scale)                   [nodes "output_dequantizer/*"]
//
// Every requantizer is dyadic: y = clip(floor((x m + 2^(c-1)) / 2^c)) in int64, the floor written
// as (x m + 2^(c-1) + 2^62) / 2^c - 2^(62-c) so that Div (which truncates) sees a positive value;
// m has up to 30 bits, fewer where the input's bound needs it so that |x m| < 2^61. Activations are symmetric per tensor
// (s = absmax / (2^(b-1) - 1); min/max calibration, or per-sample min/max averaged) except at
// ConvInteger inputs, 8-bit at linear, Softmax and GELU inputs, 16-bit on the residual stream;
// weights int8 symmetric per output channel; biases int32.
#pragma once

#include <string>
#include <vector>

#include "calib/calibration_session.h"
#include "ir/graph.h"

namespace vitq {

struct IntegerLoweringOptions {
  int weight_bits = 8;     // 2..8 (7 keeps ONNX Runtime's u8 GEMM kernels exact without VNNI)
  int activation_bits = 8; // linear, Softmax and GELU inputs, 2..8
  int residual_bits = 16;  // residual stream, LayerNorm inputs
  // Activation ranges: false, the extremes observed over all calibration samples (I-ViT's min/max);
  // true, each sample's min and max averaged over the samples (NNCF's mean-minmax).
  bool mean_ranges = false;
  // An op without an integer form runs in float between a dequantizer of its inputs and a
  // quantizer of its outputs (ranges from the calibration), instead of failing the export.
  bool float_boundary = false;
};

struct IntegerLoweringReport {
  size_t calibration_samples = 0;
  int linear = 0;        // MatMul/Gemm with constant weights
  int convolutions = 0;
  int activation_matmuls = 0;
  int products = 0;      // elementwise Mul of two activations
  int shiftmax = 0;
  int shiftgelu = 0;
  int layernorms = 0;
  int residual_adds = 0;
  int requantizers = 0;
  std::vector<std::string> float_ops;  // nodes kept in float at a boundary (float_boundary)
};

/// Rewrites \p model in place into the integer graph and adds the vitq functions to it, with the
/// ranges of \p stats (min/max statistics of every float activation, as the calibrate step
/// observes them in integer mode); fails naming the first float op it cannot lower (Sigmoid
/// alone, MaxPool, Resize, ...), or with float_boundary keeps such ops in float between a
/// dequantizer and a quantizer. As a step: integer-lowering (quant_step.h), after plan and calibrate.
StatusOr<IntegerLoweringReport> lowerToInteger(Model& model, const CalibrationResult& stats,
                                               const IntegerLoweringOptions& options);

}  // namespace vitq
