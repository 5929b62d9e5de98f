// The options of `vitq quantize` as CLI11 declares them (help texts, ranges, choices); what they
// mean for the pipeline is quantize_flags.cpp's.
#include "vitq/quantize_flags.h"

#include "vitq/option_checks.h"

namespace vitq::cli {

void addQuantizeFlags(CLI::App& app, QuantizeFlags& flags) {
  CLI::App* cmd = &app;
  QuantizeFlags* o = &flags;
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data,
                  "Calibration data: a folder of .npy samples (one per file, batch dim optional) or images, one .npy "
                  "batch (split along its first dim), or an .npz with one batch array per input name (multi-input "
                  "models; or a folder of sample folders holding <input name>.npy)")
      ->required();
  cmd->add_option("--preprocess", o->preprocess,
                  "How images in --data become the input: a preset (ppocr-rec, ppocr-cls, ppocr-det, "
                  "fashion-mnist, imagenet) and/or key=value items (docs/cli.md)");
  cmd->add_option("-o,--output", o->output, "Quantized ONNX model to write")->required();
  cmd->add_option("--pipeline", o->pipeline,
                  "The steps to run with their options instead of --recipe, as vitq passes lists them and reports "
                  "record them, e.g. \"ln-reparam, plan{inputs-8bit}, calibrate{range=mse}, materialize-qdq\" "
                  "(docs/cli.md)");
  cmd->add_option("--recipe", o->recipe, "auto (default), minmax, mean-minmax, percentile, entropy, mse, repq-vit, repquant, q-hyvit or i-vit (docs/recipes.md). auto tries minmax, repq-vit (where the model has LayerNorms or Softmax), mse and percentile with either placement, then the best with --smooth-quant 0.5 and 0.8, each calibrated on three quarters of the calibration samples and scored on the rest, and keeps the best (--reconstruct and --gptq run on that one only); the default is minmax with --pipeline, --weight-only, --budget, --stats, --stop-after or --format integer");
  cmd->add_option("--auto-budget", o->auto_budget, "--recipe auto: time for trying candidates (seconds, or 5m); candidates that would not fit are skipped and reported")
      ->capture_default_str();
  cmd->add_option("--target", o->target,
                  "--recipe auto: ort-cpu (default) prefers a candidate that ONNX Runtime's CPU provider runs with "
                  "at least 10 points fewer layers in float when it scores within 1 dB of the best or at least 40 dB; "
                  "portable chooses by accuracy alone")
      ->check(CLI::IsMember({"ort-cpu", "portable"}))
      ->capture_default_str();
  cmd->add_option("--format", o->format, "qdq (default) or integer: integer-only ONNX (--recipe i-vit, docs/recipes.md)")
      ->check(CLI::IsMember({"qdq", "integer"}));
  cmd->add_option("--ranges", o->ranges,
                  "i-vit: activation ranges from the calibration samples: minmax (the observed extremes, I-ViT's; "
                  "default) or mean-minmax (each sample's extremes averaged over the samples)")
      ->check(CLI::IsMember({"minmax", "mean-minmax"}));
  cmd->add_flag("--float-boundary", o->float_boundary,
                "--format integer: ops without an integer form (ConvTranspose, Resize, a lone Sigmoid, ...) run in "
                "float between a dequantizer and a quantizer, listed in the report, instead of failing the export");
  cmd->add_flag("--no-ln-reparam", o->no_ln_reparam, "repq-vit without the post-LayerNorm reparameterization");
  cmd->add_flag("--no-log-softmax", o->no_log_softmax, "repq-vit without the log-sqrt2 post-Softmax quantizer");
  cmd->add_flag("--median-scale", o->median_scale, "Post-LayerNorm reference scale: median of the channels (DopQ-ViT)");
  cmd->add_flag("--dual-clip", o->dual_clip,
                "Post-LayerNorm per-channel bounds chosen by the next layers' quantized output error before the "
                "fold (RepQuant's dual clipping; on with --recipe repquant)");
  cmd->add_option("--noise-seed", o->noise_seed, "+noisy: seed of the noise vectors (default 0)")->check(wholeNumber(0));
  cmd->add_option("--noise-dist", o->noise_dist, "+noisy: uniform (the paper, default) or gaussian (the official code)")
      ->check(CLI::IsMember({"uniform", "gaussian"}));
  cmd->add_option("--noise-steps", o->noise_steps, "+noisy: amplitude grid size over [0, 2) x N0 (default 50)")
      ->check(CLI::Range(2, 10000));
  cmd->add_option("--noise-layers", o->noise_layers, "+noisy: only inputs of these layers (op type or name glob)")->allow_extra_args(false);
  cmd->add_option("--reconstruct", o->reconstruct,
                  "Learned rounding of the weights against the float model's block outputs: bridges (the "
                  "conv/transformer bridge blocks, float inputs; q-hyvit's default), all (every block in order, "
                  "fed by the quantized blocks before it: BRECQ) or none (the other recipes' default)")
      ->check(CLI::IsMember({"bridges", "all", "none"}));
  cmd->add_option("--recon-block-layers", o->recon_block_layers,
                  "--reconstruct all: quantized layers per block, at least (blocks end where one tensor carries "
                  "everything on; default 2)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--recon-drop", o->recon_drop,
                  "Reconstruction: probability that an activation element skips its quantizer during the "
                  "optimization (QDrop; default 0)")
      ->check(CLI::Range(0.0, 1.0))->check(finiteNumber());
  cmd->add_option("--recon-holdout", o->recon_holdout,
                  "Reconstruction: fraction of the cached samples (the last ones, 0 to 0.5) never fitted; each "
                  "block keeps its best checkpoint (every quarter of the steps) only where it beats nearest rounding "
                  "on them (default 0: judged on the fitted samples)")
      ->check(CLI::Range(0.0, 0.5))->check(finiteNumber());
  cmd->add_flag("--recon-act-scales", o->recon_act_scales,
                "--reconstruct all: learn the scales of the activations each block produces with its rounding "
                "(LSQ step sizes, QDrop's joint optimization)");
  cmd->add_option("--recon-iters", o->recon_iters, "Reconstruction: Adam steps per block (default 400)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--recon-samples", o->recon_samples, "Reconstruction: calibration samples cached per block (default 128)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--recon-batch", o->recon_batch, "Reconstruction: samples per step (default 4)")->check(CLI::Range(1, 4096));
  cmd->add_option("--recon-lr", o->recon_lr, "Reconstruction: Adam learning rate on the rounding variables (default 0.1)")
      ->check(finiteNumber())->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "Reconstruction: seed of the sample draws (default 0)")->check(wholeNumber(0));
  cmd->add_flag("--reduce-range", o->reduce_range,
               "7-bit weights (int8 container): exact in ONNX Runtime on x86 CPUs without VNNI");
  cmd->add_flag("--symmetric-activations", o->symmetric_activations,
               "Activations on a symmetric int8 grid (zero point 0, as TensorRT wants) instead of asymmetric uint8");
  cmd->add_flag("--int4", o->int4,
               "Weights and activations of 4 bits or fewer stored as ONNX INT4/UINT4 (opset 21, IR 10) "
               "instead of clipped 8-bit containers");
  cmd->add_option("--smooth-quant", o->smooth_alpha,
                  "SmoothQuant before calibration with this migration strength alpha (0 to 1; 0.5 in the paper, "
                  "NNCF 0.95): outlier channels of linear layers' inputs move into their weights")
      ->check(CLI::Range(0.0, 1.0))->check(finiteNumber());
  cmd->add_flag("--gptq", o->gptq,
                "After calibration, MatMul/Gemm/Conv weights rounded column by column on their calibrated grid, each "
                "column's error compensated in the columns not yet rounded through the inputs' Hessian (GPTQ); "
                "options in a --pipeline: gptq{damp=0.01, block-size=128, samples=128, act-order}");
  cmd->add_flag("--awq", o->awq,
                "--weight-only: before planning, input channels with large activations get finer weight steps "
                "(AWQ): per activation read by linear layers, scales mean|X|^alpha with alpha searched against the "
                "readers' output error, folded into a LayerNorm or a Mul; options in a --pipeline: "
                "awq{grid=20, samples=128}");
  cmd->add_flag("--weight-only", o->weight_only,
                "Quantize only the MatMul/Gemm weights (activations and biases stay float), per output channel or "
                "with --group-size; weights of 4 bits or fewer stored as INT4 (opset 21). With --recipe minmax: "
                "round to nearest (RTN); add --awq and/or --gptq");
  cmd->add_option("--weight-format", o->weight_format,
                  "--weight-only, --wbits <= 4: how the 4-bit weights are written: qdq (DequantizeLinear with "
                  "block_size, opset 21, any runtime) or matmul-nbits (ONNX Runtime's com.microsoft.MatMulNBits, its "
                  "fast 4-bit kernel); in a --pipeline: materialize-qdq{matmul-nbits}")
      ->check(CLI::IsMember({"qdq", "matmul-nbits"}))
      ->default_str("qdq");
  cmd->add_flag("--embeddings", o->embeddings,
                "--weight-only: also the constant tables Gather reads (token embeddings), one scale per row or per "
                "--group-size block of a row; in a --pipeline: plan{embeddings}");
  cmd->add_flag("--asymmetric-weights", o->asymmetric_weights,
                "--weight-only: unsigned weight codes with a zero point per scale (uint4 [0, 15]: all 16 levels) "
                "instead of symmetric int4 [-7, 7]");
  cmd->add_option("--group-size", o->group_size,
                  "--weight-only: one scale per block of N weights along the input dimension (e.g. 32, 128), "
                  "exported as DequantizeLinear with block_size (opset 21); 0: per output channel (default)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_flag("--bias-correction", o->bias_correction,
                "After calibration, each quantized layer's mean output shift per channel (float against quantized "
                "input and weights, on the calibration data) is added to its bias");
  cmd->add_option("--placement", o->placement,
                  "integer: quantize compute layers' inputs and outputs, so that ONNX Runtime runs them with integer "
                  "kernels (default); inputs: their inputs only, one rounding per layer, layers run in float")
      ->check(CLI::IsMember({"integer", "inputs"}));
  cmd->add_option("--depthwise-inputs", o->depthwise_inputs,
                  "per-tensor or per-channel scales for the inputs of depthwise Convs, with --placement inputs "
                  "(default: per-channel with --recipe q-hyvit, else per-tensor); per-channel ones fold into the "
                  "weight scales, but ONNX Runtime then runs those Convs in float")
      ->check(CLI::IsMember({"per-tensor", "per-channel"}));
  cmd->add_option("--stop-after", o->stop_after,
                  "reparam (the only stage): write the float model after the reparameterization steps (ln-reparam, "
                  "smooth-quant), before any quantizer");
  cmd->add_option("--percentile", o->percentile, "Percentile of the range kept by --recipe percentile")
      ->check(CLI::Range(90.0, 100.0))->check(finiteNumber());
  cmd->add_option("--wbits", o->wbits, "Weight bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--abits", o->abits, "Activation bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--calib-samples", o->calib_samples, "Use only the first N samples for calibration")->check(wholeNumber(1));
  cmd->add_option("--eval-samples", o->eval_samples, "Samples for the report (default: the calibration samples)")->check(wholeNumber(1));
  cmd->add_option("--exclude", o->exclude, "Keep nodes in float: a node-name glob or an op type (repeatable)")->allow_extra_args(false);
  cmd->add_option("--budget", o->budget,
                  "Mixed precision until the budget holds on the evaluation samples: top1_drop<=POINTS, "
                  "sqnr_db>=DB or cosine>=VALUE (docs/recipes.md)");
  cmd->add_option("--layer-bits", o->layer_bits, "At least BITS for one layer: NODE=BITS (repeatable)")->allow_extra_args(false);
  cmd->add_option("--requantize", o->requantize,
                  "With --placement inputs: also quantize this layer's output (exact node name, repeatable), so that "
                  "ONNX Runtime runs it as an integer kernel; auto's placement search (--target ort-cpu) chooses them")
      ->allow_extra_args(false);
  cmd->add_option("--holdout", o->holdout,
                  "The last N samples are for evaluation (report, --budget) only, never calibration")->check(wholeNumber(0));
  cmd->add_option("--labels", o->labels,
                  "Class of each sample (.npy of integers, DATA's order): the report adds top-1 accuracy and top1_drop");
  cmd->add_option("--stats", o->stats,
                  "Activation statistics saved by vitq calibrate (and merge-stats) instead of calibrating on --data; "
                  "--data then feeds only the report");
  cmd->add_option("--report", o->report, "Write the report: .json, .md or .html");
  cmd->add_flag("--no-guard", o->no_guard,
                "Exit 0 even when the written model is clearly broken against the float model (output cosine below "
                "0.9, or top-1 agreement below 50 % with cosine below 0.99: exit 3 by default)");
  cmd->add_option("--fail-if", o->fail_if, "Exit 3 when a gate holds, e.g. sqnr_min_db<15 (repeatable)")->allow_extra_args(false);
  addThreadsOption(cmd, o->threads);
}

}  // namespace vitq::cli
