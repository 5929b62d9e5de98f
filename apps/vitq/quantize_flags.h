// The flags of `vitq quantize`: what the user gave, turned into the pipeline's options with every
// combination that cannot work refused before any model is read.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq::cli {

struct QuantizeFlags {
  std::string model, data, output, report, recipe = "auto", stop_after;  // recipe: see withDefaultRecipe
  std::string pipeline;  // --pipeline: the steps and their options instead of --recipe
  std::string format = "qdq";
  std::string ranges;  // i-vit: minmax (default) or mean-minmax
  int wbits = 8, abits = 8, threads = 1;
  double percentile = 99.99;
  size_t calib_samples = 0, eval_samples = 0;
  std::vector<std::string> exclude, fail_if;
  bool no_ln_reparam = false, no_log_softmax = false, median_scale = false, dual_clip = false, reduce_range = false,
       int4 = false, symmetric_activations = false, no_guard = false, float_boundary = false;
  std::string placement = "integer";
  std::string depthwise_inputs;  // per-tensor or per-channel; empty: the recipe's choice
  double smooth_alpha = -1;  // negative: no smoothing
  bool bias_correction = false;
  bool gptq = false;
  bool awq = false;
  std::string weight_format = "qdq";
  bool weight_only = false, asymmetric_weights = false, embeddings = false;
  int group_size = 0;
  uint64_t noise_seed = 0;
  std::string noise_dist = "uniform";
  int noise_steps = 50;
  std::vector<std::string> noise_layers;
  int recon_iters = 400, recon_batch = 4;
  size_t recon_samples = 128;
  float recon_lr = 0.1f, recon_drop = 0.0f, recon_holdout = 0.0f;
  bool recon_act_scales = false;
  std::string reconstruct;  // bridges, all or none; empty: the recipe's
  int recon_block_layers = 2;
  uint64_t seed = 0;
  std::string budget;
  std::string auto_budget = "5m";  // --recipe auto: time for trying candidates
  std::string target = "ort-cpu";  // --recipe auto: the runtime whose speed weighs in the choice
  std::vector<std::string> layer_bits;
  std::vector<std::string> requantize;  // with --placement inputs: layers whose outputs are quantized too
  size_t holdout = 0;
  std::string labels;
  std::string stats;
  std::string preprocess;
  std::set<std::string> given;  // options set on the command line or in a config file
};

/// Declares every option of `vitq quantize` on \p cmd, bound to \p o (quantize_flag_definitions.cpp).
void addQuantizeFlags(CLI::App& cmd, QuantizeFlags& o);

/// "recipe 'NAME'" or "the --pipeline", for messages.
std::string recipeLabel(const QuantizeFlags& o);
/// The recipe's name in reports: --recipe's, or "custom" for a --pipeline.
std::string recipeName(const QuantizeFlags& o);

/// The recipe (or --pipeline) with the flags applied; refuses flags the run would not read and combinations that
/// cannot work, naming the flags.
StatusOr<PipelineOptions> pipelineOptionsFromFlags(const QuantizeFlags& o);

}  // namespace vitq::cli
